//! Log lines on stderr: what the sandbox and the receiver report while they serve (a server
//! error, a refused notification, a replayed delivery), filtered by `RUST_LOG` (default: warnings
//! and errors; `RUST_LOG=apoflow=debug` shows every failed sandbox call) and masked like every
//! other output.

use std::io::Write;

use tracing_subscriber::EnvFilter;

use super::Context;

/// What is logged when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "warn";

/// Installs the process's log subscriber (once; later calls do nothing).
pub fn init(ctx: &Context) {
    let filter = match ctx.var("RUST_LOG") {
        Some(spec) => EnvFilter::try_new(spec).unwrap_or_else(|e| {
            eprintln!("warning: ignoring RUST_LOG ({e}); logging warnings and errors");
            EnvFilter::new(DEFAULT_FILTER)
        }),
        None => EnvFilter::new(DEFAULT_FILTER),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ctx.color_stderr())
        .with_writer(|| MaskedStderr)
        .try_init();
}

/// Stderr through [`crate::mask::mask_text`]; the formatter writes each event at once.
struct MaskedStderr;

impl Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::mask::mask_text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
