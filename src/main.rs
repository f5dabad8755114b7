//! The `feedwire` binary: parses the command line, sets up logging and hands
//! over to the library. Exit codes are part of the interface (see README).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use feedwire::config::{Config, ConfigError};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    version,
    about = "Polls feeds, deduplicates on links, republishes one merged feed"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Path of the config file.
    #[arg(long, global = true, env = "FEEDWIRE_CONFIG", default_value = feedwire::config::DEFAULT_PATH)]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Run,
    /// Validate the config; print every problem with file:line:column.
    Check,
    /// Poll every feed once, store, render, print a summary.
    PollOnce,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();

    match cli.command.unwrap_or(Command::Run) {
        Command::Check => check(&cli.config),
        Command::Run => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            match runtime().block_on(feedwire::app::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("feedwire: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::PollOnce => {
            let Some(config) = load(&cli.config) else {
                return ExitCode::from(2);
            };
            match runtime().block_on(feedwire::app::poll_once(&config)) {
                Ok(r) => {
                    for (url, error) in &r.failures {
                        println!("failed: {url}: {error}");
                    }
                    for (file, bytes) in &r.rendered {
                        println!("rendered: {file} ({bytes} bytes)");
                    }
                    println!("{}; {} items stored", r.totals, r.items_stored);
                    if r.failures.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("feedwire: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

fn load(path: &std::path::Path) -> Option<Config> {
    match Config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(c) => {
            println!("ok: {}", c.summary());
            ExitCode::SUCCESS
        }
        Err(e @ ConfigError::Read { .. }) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            let n = e.problems().len();
            eprintln!("{e}");
            eprintln!(
                "{n} problem{} in {}",
                if n == 1 { "" } else { "s" },
                path.display()
            );
            ExitCode::FAILURE
        }
    }
}
