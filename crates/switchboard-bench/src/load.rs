//! Closed-loop load: `concurrency` tasks each send one request at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::scenarios::Scenario;

pub(crate) struct Report {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed: Duration,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub(crate) max_ms: f64,
}

impl Report {
    pub(crate) fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub(crate) async fn run(
    client: &reqwest::Client,
    scenario: &Scenario,
    concurrency: usize,
    measure: Duration,
) -> Report {
    let scenario = Arc::new(scenario.clone());
    // Warm-up: connections opened, caches filled.
    drive(client, &scenario, concurrency, Duration::from_secs(1)).await;
    let started = Instant::now();
    let parts = drive(client, &scenario, concurrency, measure).await;
    let elapsed = started.elapsed();
    let mut hist = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable_hist());
    let (mut errors, mut first_error) = (0, None);
    for (h, e, fe) in parts {
        let _ = hist.add(&h);
        errors += e;
        first_error = first_error.or(fe);
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Report {
        requests: hist.len(),
        errors,
        first_error,
        elapsed,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: hist.max() as f64 / 1000.0,
    }
}

fn unreachable_hist() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| std::process::abort())
}

async fn drive(
    client: &reqwest::Client,
    scenario: &Arc<Scenario>,
    concurrency: usize,
    for_how_long: Duration,
) -> Vec<(Histogram<u64>, u64, Option<String>)> {
    let deadline = Instant::now() + for_how_long;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let client = client.clone();
        let scenario = scenario.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable_hist());
            let (mut errors, mut first_error) = (0u64, None);
            let mut i = worker as u64;
            while Instant::now() < deadline {
                let req = scenario.request(&client, i);
                i = i.wrapping_add(concurrency as u64);
                let t = Instant::now();
                match req.send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                    }
                    Ok(res) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("status {}", res.status()));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (hist, errors, first_error)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        if let Ok(r) = t.await {
            out.push(r);
        }
    }
    out
}
