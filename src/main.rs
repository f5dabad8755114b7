//! The `feedwire` binary. Everything lives in the library (`feedwire::cli`),
//! so that tests drive the same code.

fn main() -> std::process::ExitCode {
    feedwire::cli::main()
}
