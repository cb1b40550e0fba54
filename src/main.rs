//! The `oncall` binary: parses the command line and hands over to [`oncall::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = oncall::cli::Args::parse();
    match oncall::cli::run(
        args,
        &oncall::clock::SystemClock,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    ) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oncall: {e:#}");
            ExitCode::from(1)
        }
    }
}
