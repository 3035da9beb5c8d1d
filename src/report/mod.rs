//! (module under construction; see lib.rs for what it owns)

pub mod coverage;
pub mod evidence;
