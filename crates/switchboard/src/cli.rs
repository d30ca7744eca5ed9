//! The operator's command line: `serve` plus verbs that work on the database directly.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::access::Principal;

use switchboard_core::time::Timestamp;
use switchboard_core::vault::MasterKey;

use crate::app::{self, Application};
use crate::clock::{Clock, SystemClock};
use crate::config::{SETTINGS, Settings};
use crate::keys;
use crate::services::Services;
use crate::services::audit::{AuditEvent, Outcome};
use crate::services::integrations::NewIntegration;

#[derive(Parser, Debug)]
#[command(name = "switchboard", version, about = "Self-hosted integrations hub")]
pub struct Cli {
    /// A TOML settings file; SWITCHBOARD_* environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the HTTP server (migrates the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Secret API keys for the host app's backend.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The operator's OAuth apps.
    Integrations {
        #[command(subcommand)]
        command: IntegrationsCommand,
    },
    /// Re-wrap every data key under a new master key, and/or re-seal every secret under a fresh data key; online.
    RotateKey {
        /// File holding the new master key (base64 of 32 bytes), e.g. from `generate-key --out`.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
        /// Also seal every secret anew under a fresh data key (resumes an interrupted run).
        #[arg(long)]
        reseal: bool,
    },
    /// Print a new random master key, or write it to a file (mode 0600).
    GenerateKey {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The vault.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// The provider catalog.
    Providers {
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Write a consistent copy of the SQLite database to a new file, while the server runs.
    Backup {
        /// The file to write (it must not exist yet).
        #[arg(long)]
        out: PathBuf,
    },
    /// Put a backup in place of the SQLite database (every server on it stopped first).
    Restore {
        /// A file written by `switchboard backup`.
        #[arg(long)]
        from: PathBuf,
    },
    /// List every setting and its environment variable.
    Settings,
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id or name.
    Revoke { id_or_name: String },
}

#[derive(Subcommand, Debug)]
pub enum IntegrationsCommand {
    /// Register an OAuth app. The client secret is read from a file or stdin, never from the command line.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        client_id: String,
        /// File holding the client secret.
        #[arg(long, value_name = "FILE", conflicts_with = "client_secret_stdin")]
        client_secret_file: Option<PathBuf>,
        /// Read the client secret from standard input.
        #[arg(long)]
        client_secret_stdin: bool,
        /// Scopes, comma-separated (default: the catalog's).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        #[arg(long)]
        redirect_uri: Option<String>,
    },
    List,
    Remove {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum VaultCommand {
    /// Open every sealed secret and report, with what each data key holds.
    Check,
    /// Remove retired data keys no secret is sealed under any more (after `rotate-key --reseal`).
    Retire,
}

#[derive(Subcommand, Debug)]
pub enum ProvidersCommand {
    /// List the catalog (built-in plus SWITCHBOARD_PROVIDERS_DIR).
    List {
        /// Only entries whose pinned API version stops being served within DAYS (or already has).
        #[arg(long, value_name = "DAYS")]
        expiring: Option<u32>,
    },
    /// Validate a folder of operator provider files.
    Validate { dir: PathBuf },
}

fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let (settings, warnings) = Settings::load(cli.config.as_deref(), &env)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(settings)
}

/// Services for CLI verbs: the same store, vault and catalog as the server, no HTTP.
async fn offline_services(settings: Settings) -> anyhow::Result<Services> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = app::open_store(&settings).await?;
    let vault = app::open_vault(&settings, &store, clock.clone()).await?;
    let catalog = crate::catalog::load(settings.providers_dir.as_deref())?;
    Ok(Services::new(store, vault, catalog, clock, Arc::new(settings))?)
}

fn when(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_owned(), |m| Timestamp::from_millis(m).to_rfc3339())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve => serve(settings(&cli)?).await,
        Command::Migrate => {
            let s = settings(&cli)?;
            app::open_store(&s).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys { command } => keys_cmd(offline_services(settings(&cli)?).await?, command).await,
        Command::Integrations { command } => integrations_cmd(offline_services(settings(&cli)?).await?, command).await,
        Command::RotateKey { new_key_file, reseal } => {
            rotate_key(settings(&cli)?, new_key_file.as_deref(), *reseal).await
        }
        Command::GenerateKey { out } => {
            let (key, text) = MasterKey::generate();
            match out {
                Some(path) => {
                    keys::write_private(path, text.expose_secret())
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote a new master key (id {}) to {}", key.id(), path.display());
                }
                None => println!("{}", text.expose_secret()),
            }
            Ok(())
        }
        Command::Vault { command: VaultCommand::Retire } => {
            let services = offline_services(settings(&cli)?).await?;
            let removed = services.vault.remove_unused_keys().await?;
            let left = services.vault.usage().await?;
            println!(
                "removed {} data key(s) no secret is sealed under ({}); {} left",
                removed.len(),
                removed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                left.len()
            );
            Ok(())
        }
        Command::Vault { command: VaultCommand::Check } => {
            let services = offline_services(settings(&cli)?).await?;
            let report = services.vault.check_all().await?;
            println!("{} secret(s) opened under {} data key(s)", report.opened, report.data_keys);
            for k in services.vault.usage().await? {
                println!(
                    "data key {}: {} secret(s), created {}, {}",
                    k.id,
                    k.secrets,
                    when(Some(k.created_at)),
                    k.retired_at.map_or_else(|| "live".to_owned(), |t| format!("retired {}", when(Some(t))))
                );
            }
            if !report.failed.is_empty() {
                for f in &report.failed {
                    println!("FAILED {f}");
                }
                bail!("{} secret(s) did not open", report.failed.len());
            }
            Ok(())
        }
        Command::Providers { command } => providers_cmd(&cli, command),
        Command::Backup { out } => {
            let r = crate::backup::backup(&settings(&cli)?, out).await?;
            let i = &r.inspection;
            println!(
                "backed up to {} in {:.1} s: {} bytes, migration {}, {} connection(s), {} event(s), {} data key(s); integrity ok",
                out.display(),
                r.elapsed.as_secs_f64(),
                i.bytes,
                i.migration,
                i.connections,
                i.events,
                i.data_keys
            );
            eprintln!("the copy's secrets open only with this database's master key: back that key up separately");
            Ok(())
        }
        Command::Restore { from } => {
            let r = crate::backup::restore(&settings(&cli)?, from).await?;
            let i = &r.inspection;
            println!(
                "restored {}: migration {}, {} connection(s), {} event(s); {} secret(s) opened with the master key",
                from.display(),
                i.migration,
                i.connections,
                i.events,
                r.secrets
            );
            if let Some(kept) = r.kept {
                println!("the database it replaced is kept as {}", kept.display());
            }
            Ok(())
        }
        Command::Settings => {
            for (key, what) in SETTINGS {
                println!("SWITCHBOARD_{:<28} {key:<26} {what}", key.to_ascii_uppercase());
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{}", crate::http::openapi_document().to_pretty_json()?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    crate::memory::return_freed_memory();
    let addr = app.local_addr()?;
    let token = app.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        token.cancel();
    });
    tracing::info!(%addr, database = app.services().store.backend().name(), "switchboard listening");
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn keys_cmd(services: Services, command: &KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { name } => {
            let (rec, token) = services.create_api_key(&Principal::Operator, name).await?;
            println!("{}", token.expose());
            eprintln!("created key {} ({}); this is the only time it is shown", rec.id, rec.name);
        }
        KeysCommand::List => {
            println!("{:<32} {:<24} {:<14} {:<26} {:<26} REVOKED", "ID", "NAME", "HINT", "CREATED", "LAST USED");
            for k in services.list_api_keys().await? {
                println!(
                    "{:<32} {:<24} {:<14} {:<26} {:<26} {}",
                    k.id,
                    k.name,
                    k.hint,
                    when(Some(k.created_at)),
                    when(k.last_used_at),
                    when(k.revoked_at)
                );
            }
        }
        KeysCommand::Revoke { id_or_name } => {
            let rec = services.revoke_api_key(&Principal::Operator, id_or_name).await?;
            println!("revoked {} ({})", rec.id, rec.name);
        }
    }
    Ok(())
}

async fn integrations_cmd(services: Services, command: &IntegrationsCommand) -> anyhow::Result<()> {
    match command {
        IntegrationsCommand::Add {
            id,
            provider,
            client_id,
            client_secret_file,
            client_secret_stdin,
            scopes,
            redirect_uri,
        } => {
            let secret = if let Some(f) = client_secret_file {
                Some(std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?)
            } else if *client_secret_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                Some(s)
            } else {
                None
            };
            let input = NewIntegration {
                id: id.clone(),
                provider: provider.clone(),
                client_id: client_id.clone(),
                client_secret: secret.map(|s| SecretString::from(s.trim().to_owned())),
                scopes: scopes.clone(),
                redirect_uri: redirect_uri.clone(),
                settings: Default::default(),
            };
            let i = services.create_integration(&Principal::Operator, input).await?;
            println!("added integration {} ({})", i.id, i.provider);
        }
        IntegrationsCommand::List => {
            println!("{:<24} {:<20} {:<40} SECRET", "ID", "PROVIDER", "CLIENT ID");
            for i in services.list_integrations(&Principal::Operator, None).await? {
                println!(
                    "{:<24} {:<20} {:<40} {}",
                    i.id,
                    i.provider,
                    i.client_id,
                    if i.has_client_secret { "yes" } else { "no" }
                );
            }
        }
        IntegrationsCommand::Remove { id } => {
            services.delete_integration(&Principal::Operator, id).await?;
            println!("removed integration {id}");
        }
    }
    Ok(())
}

async fn rotate_key(settings: Settings, new_key_file: Option<&std::path::Path>, reseal: bool) -> anyhow::Result<()> {
    let services = match new_key_file {
        Some(file) => rewrap_under(settings, file).await?,
        None if reseal => offline_services(settings).await?,
        None => {
            bail!("give --new-key-file FILE (a new master key), --reseal (a fresh data key for every secret), or both")
        }
    };
    if reseal {
        reseal_all(&services).await?;
    }
    Ok(())
}

/// Seals every secret anew under a fresh data key, with a progress bar on a terminal.
async fn reseal_all(services: &Services) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("re-sealing {bar:40} {pos}/{len} secrets, {eta} left") {
        bar.set_style(style);
    }
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report = services.vault.reseal_all(&progress).await?;
    bar.finish_and_clear();
    services
        .audit(
            &Principal::Operator,
            AuditEvent {
                org: None,
                action: "vault.reseal",
                target_kind: "vault",
                target_id: "data_keys",
                outcome: Outcome::Success,
                detail: serde_json::json!({"resealed": report.resealed, "resumed": report.resumed, "passes": report.passes}),
            },
        )
        .await?;
    let check = services.vault.check_all().await?;
    if !check.failed.is_empty() {
        bail!("{} secret(s) do not open after re-sealing: {:?}", check.failed.len(), check.failed);
    }
    let in_use: Vec<String> = services
        .vault
        .usage()
        .await?
        .into_iter()
        .filter(|k| k.secrets > 0)
        .map(|k| format!("{} ({} secret(s))", k.id, k.secrets))
        .collect();
    println!(
        "{} {} secret(s) under a fresh data key in {} pass(es) ({} rewritten meanwhile by a server and sealed again); {} secret(s) open. Data keys in use: {}.\n\
         `switchboard vault retire` removes the data keys nothing is sealed under any more.",
        if report.resumed { "resumed: re-sealed" } else { "re-sealed" },
        report.resealed,
        report.passes,
        report.raced,
        check.opened,
        in_use.join(", ")
    );
    Ok(())
}

async fn rewrap_under(settings: Settings, new_key_file: &std::path::Path) -> anyhow::Result<Services> {
    let new = keys::read_key(&crate::config::KeySource::File(new_key_file.to_path_buf()), "--new-key-file")?;
    let store = app::open_store(&settings).await?;
    let has_keys = !store.data_keys().await?.is_empty();
    let (current, _) = keys::resolve(&settings, has_keys)?;
    let report = crate::vault::rotate_master_key(&store, &current, &new).await?;
    let vault = crate::vault::Vault::open(store.clone(), vec![new], Arc::new(SystemClock)).await?;
    let services = Services::new(
        store.clone(),
        vault,
        switchboard_core::catalog::Catalog::default(),
        Arc::new(SystemClock),
        Arc::new(settings),
    )?;
    let new_id = services.vault.primary_key_id();
    services
        .audit(
            &Principal::Operator,
            AuditEvent {
                org: None,
                action: "vault.rotate_master_key",
                target_kind: "master_key",
                target_id: &new_id,
                outcome: Outcome::Success,
                detail: serde_json::json!({
                    "previous": current.iter().map(|k| k.id().to_string()).collect::<Vec<_>>(),
                    "rewrapped_data_keys": report.rewrapped,
                }),
            },
        )
        .await?;
    let check = services.vault.check_all().await?;
    if !check.failed.is_empty() {
        bail!("{} secret(s) do not open under the new key: {:?}", check.failed.len(), check.failed);
    }
    println!(
        "re-wrapped {} data key(s) under master key {new_id} ({} already were); {} secret(s) open with it.\n\
         Now point SWITCHBOARD_MASTER_KEY_FILE at {} on every instance and restart them; the old key can then be removed.",
        report.rewrapped,
        report.already_current,
        check.opened,
        new_key_file.display()
    );
    Ok(services)
}

fn providers_cmd(cli: &Cli, command: &ProvidersCommand) -> anyhow::Result<()> {
    match command {
        ProvidersCommand::List { expiring: Some(days) } => {
            let s = settings(cli)?;
            let catalog = crate::catalog::load(s.providers_dir.as_deref())?;
            let today = SystemClock.now().date();
            let ending =
                switchboard_core::catalog::versions_ending(catalog.iter().map(AsRef::as_ref), today, i64::from(*days));
            for (id, version, end) in &ending {
                let when = if *end <= today { "ended" } else { "ends" };
                println!("{id:<22} {version:<12} {when} {end}");
            }
            println!("{} provider(s) with an API version ending within {days} days", ending.len());
            Ok(())
        }
        ProvidersCommand::List { expiring: None } => {
            let s = settings(cli)?;
            let catalog = crate::catalog::load(s.providers_dir.as_deref())?;
            for p in catalog.iter() {
                let mut modes: Vec<&str> = p.oauth2.iter().map(|_| "oauth2").collect();
                modes.extend(p.credentials.keys().map(|m| m.as_str()));
                println!("{:<22} {:<28} {}", p.id, p.name, modes.join(","));
            }
            println!("{} providers", catalog.len());
            Ok(())
        }
        ProvidersCommand::Validate { dir } => {
            let sources = crate::catalog::folder_sources(dir)?;
            let n = sources.len();
            switchboard_core::catalog::Catalog::load(&sources)?;
            println!("{n} provider file(s) in {} are valid", dir.display());
            Ok(())
        }
    }
}
