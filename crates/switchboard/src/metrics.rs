//! Prometheus metrics, one registry per running app (tests run several in one
//! process). Label values are bounded: routes are templates (`/v1/integrations/{id}`),
//! never raw paths, ids or anything secret.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefreshLabels {
    pub provider: String,
    /// `success`, `invalid_grant`, `invalid_client`, `rate_limited` or `transient`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub provider: String,
    /// `accepted`, `duplicate` or `refused`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `succeeded`, `pending` (will retry), `dead` or `cancelled`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListingLabels {
    pub provider: String,
    pub kind: String,
    /// `cache_hit`, `provider_call`, `stale` or `error`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub provider: String,
    pub action: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLatencyLabels {
    pub provider: String,
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProxyLabels {
    pub provider: String,
    pub method: String,
    /// `2xx` … `5xx` for the provider's answers; `error` when the proxy answered itself.
    pub status_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProxyLatencyLabels {
    pub provider: String,
    pub method: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub actions: Family<ActionLabels, Counter>,
    pub action_latency: Family<ActionLatencyLabels, Histogram, fn() -> Histogram>,
    pub proxied: Family<ProxyLabels, Counter>,
    pub proxy_latency: Family<ProxyLatencyLabels, Histogram, fn() -> Histogram>,
    pub listings: Family<ListingLabels, Counter>,
    pub provider_call_latency: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    /// Bytes and pages the listing cache holds now.
    pub listing_cache_bytes: Gauge,
    pub listing_cache_pages: Gauge,
    pub webhooks: Family<WebhookLabels, Counter>,
    pub deliveries: Family<OutcomeLabels, Counter>,
    pub delivery_latency: Histogram,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_latency: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pub refreshes: Family<RefreshLabels, Counter>,
    pub refresh_latency: Family<ProviderLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_latency = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route and status",
            http_latency.clone(),
        );
        let refreshes = Family::<RefreshLabels, Counter>::default();
        let refresh_latency =
            Family::<ProviderLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("token_refreshes", "OAuth token refreshes, by provider and outcome", refreshes.clone());
        registry.register(
            "token_refresh_duration_seconds",
            "Time to refresh an OAuth token at the provider",
            refresh_latency.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        let delivery_latency = latency_histogram();
        registry.register("webhook_events", "Inbound webhook requests, by provider and outcome", webhooks.clone());
        registry.register("deliveries", "Delivery attempts to subscribers, by outcome", deliveries.clone());
        registry.register(
            "delivery_duration_seconds",
            "Time for a subscriber to answer a delivery",
            delivery_latency.clone(),
        );
        let listings = Family::<ListingLabels, Counter>::default();
        let provider_call_latency =
            Family::<ProviderLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("resource_listings", "Resource listings, by provider, kind and outcome", listings.clone());
        registry.register(
            "provider_call_duration_seconds",
            "Time for a provider to answer a call made as a connection",
            provider_call_latency.clone(),
        );
        let listing_cache_bytes = Gauge::default();
        let listing_cache_pages = Gauge::default();
        registry.register(
            "listing_cache_bytes",
            "Approximate bytes of resource listings held in memory",
            listing_cache_bytes.clone(),
        );
        registry.register("listing_cache_pages", "Resource listing pages held in memory", listing_cache_pages.clone());
        let actions = Family::<ActionLabels, Counter>::default();
        let action_latency =
            Family::<ActionLatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("action_runs", "Action runs, by provider, action and outcome", actions.clone());
        registry.register(
            "action_run_duration_seconds",
            "Time to run an action, provider calls included, by provider and action",
            action_latency.clone(),
        );
        let proxied = Family::<ProxyLabels, Counter>::default();
        let proxy_latency =
            Family::<ProxyLatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("proxy_requests", "Proxied requests, by provider, method and status class", proxied.clone());
        registry.register(
            "proxy_request_duration_seconds",
            "Time until a proxied request's answer starts (status and headers), by provider and method",
            proxy_latency.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            actions,
            action_latency,
            proxied,
            proxy_latency,
            listings,
            provider_call_latency,
            listing_cache_bytes,
            listing_cache_pages,
            http_requests,
            http_latency,
            refreshes,
            refresh_latency,
            webhooks,
            deliveries,
            delivery_latency,
        }
    }

    /// Lets later capabilities register their own families.
    pub fn with_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> Option<T> {
        self.registry.lock().ok().map(|mut r| f(&mut r))
    }

    pub fn observe_http(&self, labels: HttpLabels, seconds: f64) {
        self.http_requests.get_or_create(&labels).inc();
        self.http_latency.get_or_create(&labels).observe(seconds);
    }

    pub fn observe_refresh(&self, provider: &str, outcome: &str, seconds: f64) {
        self.refreshes
            .get_or_create(&RefreshLabels { provider: provider.to_owned(), outcome: outcome.to_owned() })
            .inc();
        self.refresh_latency.get_or_create(&ProviderLabels { provider: provider.to_owned() }).observe(seconds);
    }

    pub fn observe_listing(&self, provider: &str, kind: &str, outcome: &str) {
        self.listings
            .get_or_create(&ListingLabels {
                provider: provider.to_owned(),
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn observe_proxy(&self, provider: &str, method: &str, status_class: &str, seconds: f64) {
        self.proxied
            .get_or_create(&ProxyLabels {
                provider: provider.to_owned(),
                method: method.to_owned(),
                status_class: status_class.to_owned(),
            })
            .inc();
        self.proxy_latency
            .get_or_create(&ProxyLatencyLabels { provider: provider.to_owned(), method: method.to_owned() })
            .observe(seconds);
    }

    pub fn observe_action(&self, provider: &str, action: &str, outcome: &str, seconds: f64) {
        self.actions
            .get_or_create(&ActionLabels {
                provider: provider.to_owned(),
                action: action.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.action_latency
            .get_or_create(&ActionLatencyLabels { provider: provider.to_owned(), action: action.to_owned() })
            .observe(seconds);
    }

    pub fn observe_provider_call(&self, provider: &str, seconds: f64) {
        self.provider_call_latency.get_or_create(&ProviderLabels { provider: provider.to_owned() }).observe(seconds);
    }

    pub fn observe_webhook(&self, provider: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels { provider: provider.to_owned(), outcome: outcome.to_owned() })
            .inc();
    }

    pub fn observe_delivery(&self, outcome: &str, latency_ms: i32) {
        self.deliveries.get_or_create(&OutcomeLabels { outcome: outcome.to_owned() }).inc();
        self.delivery_latency.observe(f64::from(latency_ms) / 1000.0);
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(reg) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        }
        out
    }
}
