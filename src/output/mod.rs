//! Every byte apoflow writes goes out through here: the one masked sink, so a new output cannot
//! forget to mask.
//!
//! ```text
//! text ──> mask::mask_text (card numbers, registered secrets) ──> escape for the medium ──> out
//!            terminal: control characters shown as `\x1b`, `\r`, … (colours apoflow adds kept)
//!            XML/HTML: characters XML 1.0 forbids (U+FFFE, U+FFFF, C0 controls) shown as text
//!            JSON files: masked as a value (field names, numbers), never as text
//!            plain files: masked only
//! ```
//!
//! [`Sink`] wraps a stream (stdout, stderr, a buffer in tests): line-buffered, each line masked
//! and escaped for a terminal. [`write_file`] writes a whole report file, masked and escaped for
//! its format. What is secret is decided only in [`crate::mask`]; this module calls it.

mod escape;
mod sink;

pub use escape::{one_line, terminal_safe, xml_safe};
pub use sink::{
    FileKind, MAX_PENDING, ProgressTerm, Sink, append_file, for_terminal, write_file, write_json,
};
pub(crate) use sink::{render, render_json};
