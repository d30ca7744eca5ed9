use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_core::time::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use crate::services::auth::SessionRequest;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session, list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(create_connect_link))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct CreateConnectLink {
    /// Open the page on this provider.
    provider: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ConnectLinkDto {
    /// A single-use link that opens the integrations page as the calling session.
    connect_url: String,
    expires_at: String,
}

/// A fresh single-use link into the integrations page for the calling session (session tokens only),
/// for a browser that holds a session token: the browser SDK's `connect({ sessionToken })`.
#[utoipa::path(post, path = "/v1/connect-links", tag = "sessions", request_body(content = Option<CreateConnectLink>), security(("bearer" = [])),
    responses((status = 201, body = ConnectLinkDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_connect_link(
    State(state): State<AppState>,
    Auth(_actor): Auth,
    headers: axum::http::HeaderMap,
    OptionalJson(b): OptionalJson<CreateConnectLink>,
) -> ApiResult<(StatusCode, Json<ConnectLinkDto>)> {
    // Authenticated above; the link is made for the very session whose token this is.
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(switchboard_core::request::bearer_token)
        .unwrap_or_default();
    let link = state.services.connect_link_for_token(token, b.provider.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConnectLinkDto { connect_url: link.url.to_string(), expires_at: link.expires_at.to_rfc3339() }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    /// The host app's org id.
    org: String,
    /// The host app's user id.
    user: String,
    /// `admin` or `member`.
    role: String,
    /// Lifetime in seconds (default 3600).
    #[schema(minimum = 60)]
    ttl_s: Option<u64>,
    /// The providers the session's integrations page shows (default: every provider the operator
    /// made connectable).
    providers: Option<Vec<String>>,
    /// The language of its pages, `en` or `de` (default: the browser's).
    locale: Option<String>,
    /// For a page opened by a redirect: where it sends the browser back, with
    /// `status=success&provider=…&connection_id=…` after a connect and `status=closed` from its Done
    /// button. Must be under SWITCHBOARD_ALLOWED_REDIRECTS.
    return_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct SessionCreated {
    /// The session's id (`ses_…`), to list and revoke it.
    id: String,
    /// The session token, `st_…`. Shown once.
    token: String,
    expires_at: String,
    org: String,
    user: String,
    role: String,
    /// A single-use link (valid for `SWITCHBOARD_UI_CONNECT_LINK_TTL_S`, 5 minutes by default) that
    /// opens the integrations page `/ui` as this session, for a redirect, a popup or an iframe.
    connect_url: String,
    connect_url_expires_at: String,
}

/// Makes a session token for one end user of one org (secret key only).
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = CreateSession, security(("bearer" = [])),
    responses((status = 201, body = SessionCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_session(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<SessionCreated>)> {
    let s = state
        .services
        .create_session(
            &actor,
            SessionRequest {
                org: body.org,
                user: body.user,
                role: body.role,
                ttl_s: body.ttl_s,
                providers: body.providers,
                locale: body.locale,
                return_url: body.return_url,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            id: s.id.to_string(),
            token: s.token.expose().to_owned(),
            expires_at: s.expires_at.to_rfc3339(),
            org: s.org.to_string(),
            user: s.user.to_string(),
            role: s.role.as_str().to_owned(),
            connect_url: s.connect_link.url.to_string(),
            connect_url_expires_at: s.connect_link.expires_at.to_rfc3339(),
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SessionQuery {
    /// Only this org's sessions (sessions always see only their own org).
    org: Option<String>,
    /// Page size, 1–500 (default 100).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A live session; never its token.
#[derive(Serialize, ToSchema)]
struct SessionDto {
    id: String,
    org: String,
    user: String,
    role: String,
    /// Who made it (the secret key's id and name).
    created_by: String,
    created_at: String,
    expires_at: String,
}

#[derive(Serialize, ToSchema)]
struct SessionPage {
    items: Vec<SessionDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Live sessions, newest first: a secret key's of any org, an admin's of their org, a member's their own.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", params(SessionQuery), security(("bearer" = [])),
    responses((status = 200, body = SessionPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_sessions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> ApiResult<Json<SessionPage>> {
    let org = super::org_filter(q.org.as_deref())?;
    let page = super::page(q.limit, q.cursor)?;
    let limit = page.limit;
    let items = state.services.list_sessions(&actor, org.as_ref(), page).await?;
    let next_cursor = super::next_cursor(&items, limit, |i| i.id.clone());
    let items = items
        .into_iter()
        .map(|r| SessionDto {
            created_at: Timestamp::from_millis(r.created_at).to_rfc3339(),
            expires_at: Timestamp::from_millis(r.expires_at).to_rfc3339(),
            id: r.id,
            org: r.org,
            user: r.user_id,
            role: r.role,
            created_by: r.created_by,
        })
        .collect();
    Ok(Json(SessionPage { items, next_cursor }))
}

/// Ends a session at once: its token is refused from the next request on, on every instance.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "sessions", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_session(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.revoke_session(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
