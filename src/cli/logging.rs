//! Log lines on stderr: what the sandbox and the receiver report while they serve (a server
//! error, a refused notification, a replayed delivery), filtered by `RUST_LOG` (default: warnings
//! and errors; `RUST_LOG=apoflow=debug` shows every failed sandbox call) and masked like every
//! other output.

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
        // The one masked sink: masked, control characters in logged values escaped.
        .with_writer(crate::output::Sink::stderr)
        .try_init();
}
