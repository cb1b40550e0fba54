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
            eprintln!("oncall: {}", said_once(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, as `{:#}` has them, but for the causes of a
/// store's error: its text says them already (`src/store/error.rs`), and
/// its `source` is there for code to inspect, not to be printed again.
fn said_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        if cause.is::<oncall::store::StoreError>() {
            break;
        }
    }
    text
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
