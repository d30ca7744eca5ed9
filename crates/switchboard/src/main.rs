use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = switchboard::cli::Cli::parse();
    // Logging settings come from the same layered settings as everything else, but
    // a broken setting must still be reported: fall back to defaults for logging.
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let (format, level) = switchboard::config::Settings::load(cli.config.as_deref(), &env)
        .map(|(s, _)| (s.log_format, s.log_level))
        .unwrap_or((switchboard::config::LogFormat::Text, "info".to_owned()));
    switchboard::telemetry::init(format, &level);
    match switchboard::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
