//! The `apoflow` binary: parse the command line, hand over to [`apoflow::cli`], exit with its code.

fn main() -> std::process::ExitCode {
    apoflow::cli::main()
}
