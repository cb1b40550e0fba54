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
        // The reader went away (`oncall shifts ... | head`): nothing left to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oncall: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
