//! The `palimpsest` command: parse the command line, set up logging, run one subcommand.

use clap::Parser;

fn main() -> std::process::ExitCode {
    palimpsest::configure_allocator();
    let cli = palimpsest::cli::Cli::parse();
    let _log = palimpsest::telemetry::init(cli.log_format);
    palimpsest::store::configure_libgit2();
    match palimpsest::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("palimpsest: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
