//! A minimal local authorization server for the refresher benchmarks: the
//! authorize endpoint redirects straight back with a code; the token endpoint
//! issues tokens expiring after `first_lifetime_s`, refreshed ones after two
//! hours, and counts refreshes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json, Router};

#[derive(Clone)]
struct Idp {
    first_lifetime_s: u64,
    refreshes: Arc<AtomicU64>,
    issued: Arc<AtomicU64>,
}

pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) refreshes: Arc<AtomicU64>,
}

pub(crate) async fn start(first_lifetime_s: u64) -> anyhow::Result<Running> {
    let refreshes = Arc::new(AtomicU64::new(0));
    let state = Idp { first_lifetime_s, refreshes: refreshes.clone(), issued: Arc::new(AtomicU64::new(0)) };
    let app = Router::new()
        .route("/authorize", axum::routing::get(authorize))
        .route("/token", axum::routing::post(token))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { base, refreshes })
}

async fn authorize(Query(q): Query<HashMap<String, String>>) -> Response {
    let (Some(redirect), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(mut target) = url::Url::parse(redirect) else { return StatusCode::BAD_REQUEST.into_response() };
    target.query_pairs_mut().append_pair("code", "bench-code").append_pair("state", state);
    let mut headers = HeaderMap::new();
    if let Ok(v) = target.as_str().parse() {
        headers.insert(header::LOCATION, v);
    }
    (StatusCode::FOUND, headers).into_response()
}

async fn token(State(idp): State<Idp>, Form(f): Form<HashMap<String, String>>) -> Response {
    let n = idp.issued.fetch_add(1, Ordering::Relaxed);
    let lifetime = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => idp.first_lifetime_s,
        Some("refresh_token") => {
            idp.refreshes.fetch_add(1, Ordering::Relaxed);
            7200
        }
        _ => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "unsupported_grant_type"})))
                .into_response();
        }
    };
    Json(serde_json::json!({"access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}"), "expires_in": lifetime, "token_type": "Bearer"})).into_response()
}
