//! (module under construction; see lib.rs for what it owns)
