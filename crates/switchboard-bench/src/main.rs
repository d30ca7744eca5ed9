//! Drives a Switchboard server over loopback and prints throughput and latency.
//!
//! By default it starts the server itself (the release binary beside this
//! one) on a fresh database, so each run also reports the time from start to
//! `/readyz` answering 200 and the server's resident memory idle and under load.
//! `--url` and `--key` point it at a server that is already running instead.

mod ai;
mod consoles;
mod deliveries;
mod idp;
mod listings;
mod load;
mod proxy;
mod refresher;
mod scenarios;
mod server;

use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "switchboard-bench", about = "Load scenarios against a Switchboard server (loopback only)")]
struct Args {
    /// Scenario: healthz, integration-read, connection-read, credentials-read, webhooks-in, deliveries, refresher-due, refresher-idle,
    /// listing-cached, resolve-cached, listing-cold, listing-memory, proxy, proxy-stream, action-run,
    /// ui-marketplace, ui-provider, ui-weight, ui-first-render, ai-context, mcp-tools.
    scenario: String,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Database for a server the bench starts: sqlite (a fresh file) or a postgres:// URL (a fresh schema is made in it).
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Use a running server at this URL instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// A secret API key for --url.
    #[arg(long, env = "SWITCHBOARD_BENCH_KEY")]
    key: Option<String>,
    /// Rows to create before measuring, where the scenario stores data.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// After setup, restart the server on the same database and report its idle memory.
    #[arg(long)]
    restart: bool,
    /// Also measure /healthz for as long, and print the ratio (what storage and crypto cost).
    #[arg(long)]
    compare_healthz: bool,
    /// SWITCHBOARD_LISTING_CACHE_MB for the listing scenarios (the server's default otherwise).
    #[arg(long)]
    listing_cache_mb: Option<u64>,
    /// Pin the server to these cores (`taskset -c`), e.g. 0; run the bench itself under `taskset -c 1`.
    #[arg(long)]
    server_cpus: Option<String>,
    /// Page loads in a real browser, for ui-first-render (each phase).
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

fn print_report(name: &str, concurrency: usize, r: &load::Report) {
    println!(
        "{name}: {} requests in {:.1} s at concurrency {concurrency} → {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms; errors {}",
        r.requests,
        r.elapsed.as_secs_f64(),
        r.rate(),
        r.p50_ms,
        r.p99_ms,
        r.p999_ms,
        r.max_ms,
        r.errors
    );
}

/// Loads `/healthz` for as long as `report` was measured, prints it and what `name` costs against it:
/// the floor of routing and middleware, in the same run.
pub(crate) async fn healthz_floor(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    name: &str,
    concurrency: usize,
    measure: Duration,
    report: &load::Report,
) -> anyhow::Result<load::Report> {
    let floor = scenarios::prepare("healthz", client, base, key, 0).await?;
    let baseline = load::run(client, &floor, concurrency, measure).await;
    print_report("healthz", concurrency, &baseline);
    println!(
        "{name} costs {:.1}x the time of /healthz per request (throughput ratio {:.3})",
        baseline.rate() / report.rate(),
        report.rate() / baseline.rate()
    );
    Ok(baseline)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(cpus) = &args.server_cpus {
        let _ = server::SERVER_CPUS.set(cpus.clone());
    }
    if args.scenario == "deliveries" {
        return deliveries::run(&args.database, args.rows).await;
    }
    if args.scenario.starts_with("listing") || args.scenario == "resolve-cached" {
        let options = listings::Options {
            database: args.database.clone(),
            rows: args.rows,
            concurrency: args.concurrency,
            measure: Duration::from_secs(args.seconds),
            cache_mb: args.listing_cache_mb,
        };
        return listings::run(&args.scenario, &options).await;
    }
    if args.scenario == "upstream-stand-in" {
        return proxy::serve_upstream().await;
    }
    if args.scenario.starts_with("proxy") || args.scenario == "action-run" {
        return proxy::run(
            &args.scenario,
            &args.database,
            args.rows,
            args.concurrency,
            Duration::from_secs(args.seconds),
        )
        .await;
    }
    if args.scenario == "ai-context" || args.scenario == "mcp-tools" {
        let options = ai::Options {
            database: args.database.clone(),
            rows: args.rows,
            concurrency: args.concurrency,
            measure: Duration::from_secs(args.seconds),
        };
        return ai::run(&args.scenario, &options).await;
    }
    if args.scenario.starts_with("ui-") {
        let options = consoles::Options {
            database: args.database.clone(),
            concurrency: args.concurrency,
            measure: Duration::from_secs(args.seconds),
            runs: args.runs,
        };
        return consoles::run(&args.scenario, &options).await;
    }
    if args.scenario.starts_with("refresher") {
        return refresher::run(&args.scenario, &args.database, args.rows, Duration::from_secs(args.seconds)).await;
    }
    let mut started: Option<server::Spawned> = None;
    let (base, key) = match (&args.url, &args.key) {
        (Some(url), Some(key)) => (url.trim_end_matches('/').to_owned(), key.clone()),
        (Some(_), None) => anyhow::bail!("--url needs --key (or SWITCHBOARD_BENCH_KEY) with a secret API key"),
        _ => {
            let s = server::Spawned::start(&args.database, &[]).await?;
            println!("{}", s.describe());
            let pair = (s.base.clone(), s.key.clone());
            started = Some(s);
            pair
        }
    };
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).timeout(Duration::from_secs(30)).build()?;
    let scenario = scenarios::prepare(&args.scenario, &client, &base, &key, args.rows).await?;
    if let Some(s) = &mut started {
        println!("after setup ({} rows): RSS {:.1} MiB", args.rows, s.rss_mib());
        if args.restart {
            s.restart(&[]).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            println!("restarted on the same database: ready in {:.0} ms, idle RSS {:.1} MiB", s.ready_ms, s.rss_mib());
        }
    }
    let measure = Duration::from_secs(args.seconds);
    let threads_before = started.as_ref().map(server::Spawned::cpu_by_thread);
    let report = load::run(&client, &scenario, args.concurrency, measure).await;
    print_report(&args.scenario, args.concurrency, &report);
    if let (Some(s), Some(before)) = (&started, &threads_before) {
        // What bounds a scenario on a pinned core shows here: the runtime's workers against the
        // database's threads (SQLite's writer and readers are threads of the server).
        println!(
            "server CPU by thread while measured ({}): {}",
            args.scenario,
            server::cpu_split(before, &s.cpu_by_thread())
        );
    }
    if args.compare_healthz {
        healthz_floor(&client, &base, &key, &args.scenario, args.concurrency, measure, &report).await?;
    }
    if let Some(s) = started {
        println!("server RSS after load: {:.1} MiB", s.rss_mib());
        s.stop().await;
    }
    if report.errors > 0 {
        anyhow::bail!("{} requests failed: {}", report.errors, report.first_error.unwrap_or_default());
    }
    Ok(())
}
