//! `ANY /v1/proxy/{connection_id}/{path…}`: the provider's API as the connection, streamed.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use futures::TryStreamExt as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::Auth;
use crate::services::using::proxy::{ProxyBody, ProxyCall};

/// The route's path; `{*path}` is axum's catch-all, shown as `{path}` in the OpenAPI document.
pub(crate) const ROUTE: &str = "/v1/proxy/{connection_id}/{*path}";
const PREFIX: &str = "/v1/proxy/";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(proxy))
}

/// Sends the request to the connection's provider: `{path}` and the query are appended to the
/// connection's API base URL (a path that would leave it is a 400), the credentials are applied
/// as the catalog says, and the provider's status, headers (less hop-by-hop ones and cookies)
/// and body come back as they are, streamed both ways. Our `Authorization`, cookies and
/// `Switchboard-*` headers are not forwarded. A provider 401 forces one refresh and one retry
/// when the body was small enough to keep (SWITCHBOARD_PROXY_REPLAY_KB); `Switchboard-Rate-Limit-Retries: N`
/// waits out up to N rate limits within SWITCHBOARD_PROXY_MAX_WAIT_S, otherwise 429s come back with `Retry-After`.
#[utoipa::path(method(get, post, put, patch, delete, head, options), path = "/v1/proxy/{connection_id}/{*path}", tag = "proxy",
    params(("connection_id" = String, Path), ("path" = String, Path, description = "the provider API path under the connection's base URL"),
        ("Switchboard-Rate-Limit-Retries" = Option<u32>, Header, description = "wait out up to this many rate limits (0–5) instead of answering 429")),
    security(("bearer" = [])),
    responses((status = 200, description = "the provider's answer, whatever its status"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn proxy(
    State(state): State<AppState>,
    Auth(actor): Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    // The raw path, still percent-encoded: decoding it here would turn `%2F` into a separator.
    let rest = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let (connection, path) = rest.split_once('/').unwrap_or((rest, ""));
    let call = ProxyCall {
        method,
        path: path.to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body: Box::pin(body.into_data_stream().map_err(std::io::Error::other)),
    };
    let answer = state.services.proxy(&actor, connection, call).await?;
    let mut res = Response::new(match answer.body {
        ProxyBody::Whole(bytes) => Body::from(bytes),
        ProxyBody::Stream(stream) => Body::from_stream(stream),
    });
    *res.status_mut() = answer.status;
    *res.headers_mut() = answer.headers;
    Ok(res)
}

/// The route as the OpenAPI document shows it.
pub(crate) fn documented_path() -> String {
    ROUTE.replace("{*path}", "{path}")
}
