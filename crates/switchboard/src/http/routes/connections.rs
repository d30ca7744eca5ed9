use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_core::ids::OrgId;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use crate::services::ServiceError;
use crate::services::credentials::connections::{Connection, CredentialsOut, NewConnection};
use crate::services::credentials::connector::Account;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_new_credentials))
        .routes(routes!(create_connection, list_connections))
        .routes(routes!(get_connection, update_connection, delete_connection))
        .routes(routes!(retest_connection))
        .routes(routes!(read_credentials))
        .routes(routes!(refresh_connection))
        .routes(routes!(status))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AccountDto {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    #[schema(value_type = Object)]
    metadata: Map<String, Value>,
}

impl From<Account> for AccountDto {
    fn from(a: Account) -> Self {
        Self { id: a.id, name: a.name, email: a.email, metadata: a.metadata.into_iter().collect() }
    }
}

/// A connection: metadata only, never a secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectionDto {
    id: String,
    org: String,
    /// The user who connected it, when known.
    owner: Option<String>,
    provider: String,
    integration: Option<String>,
    /// `oauth2`, `api_key`, `basic`, `bot_token`, `service_account`, `smtp` or `webhook`.
    auth_mode: String,
    label: String,
    /// Shared with the whole org (true) or private to its owner.
    shared: bool,
    /// `connected`, `refreshing`, `needs_reauth`, `error` or `revoked`.
    status: String,
    scopes: Vec<String>,
    expires_at: Option<String>,
    account: AccountDto,
    /// The non-secret credential fields (e.g. a shop or SMTP host).
    #[schema(value_type = Object)]
    fields: Map<String, Value>,
    last_error: Option<String>,
    failure_count: i32,
    last_tested_at: Option<String>,
    last_refreshed_at: Option<String>,
    last_sync_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Connection> for ConnectionDto {
    fn from(c: Connection) -> Self {
        let ts = |t: Option<switchboard_core::time::Timestamp>| t.map(|t| t.to_rfc3339());
        Self {
            account: AccountDto {
                id: c.account_id,
                name: c.account_name,
                email: c.account_email,
                metadata: c.metadata,
            },
            id: c.id,
            org: c.org,
            owner: c.owner,
            provider: c.provider,
            integration: c.integration,
            auth_mode: c.auth_mode,
            label: c.label,
            shared: c.shared,
            status: c.status,
            scopes: c.scopes,
            expires_at: ts(c.expires_at),
            fields: c.fields,
            last_error: c.last_error,
            failure_count: c.failure_count,
            last_tested_at: ts(c.last_tested_at),
            last_refreshed_at: ts(c.last_refreshed_at),
            last_sync_at: ts(c.last_sync_at),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TestCredentials {
    provider: String,
    /// Which credential mode, when the provider has several (e.g. Discord `webhook` or `bot_token`).
    auth_mode: Option<String>,
    /// The mode's fields, named as in the catalog.
    #[schema(value_type = Object)]
    credentials: Map<String, Value>,
}

#[derive(Serialize, ToSchema)]
struct TestResult {
    ok: bool,
    account: Option<AccountDto>,
    error: Option<crate::http::error::ErrorDetail>,
}

fn test_failure(e: ServiceError) -> Response {
    let api = ApiError::from(e);
    let status = api.status;
    let retry = api.retry_after_s;
    let body = TestResult {
        ok: false,
        account: None,
        error: Some(crate::http::error::ErrorDetail {
            code: api.code,
            message: api.message,
            field: api.field,
            details: api.details,
        }),
    };
    let mut res = (status, Json(body)).into_response();
    if let Some(s) = retry
        && let Ok(v) = s.to_string().parse()
    {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    res
}

/// Checks credentials against the catalog and the provider; stores nothing.
/// 400 for a missing or malformed field, 422 when the provider refuses, 429 when it rate-limits, 502 when it fails.
#[utoipa::path(post, path = "/v1/connections/test", tag = "connections", request_body = TestCredentials, security(("bearer" = [])),
    responses((status = 200, body = TestResult), (status = 400, body = TestResult), (status = 422, body = TestResult), (status = 429, body = TestResult), (status = 502, body = TestResult)))]
async fn test_new_credentials(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<TestCredentials>,
) -> Response {
    match state.services.test_credentials(&actor, &body.provider, body.auth_mode.as_deref(), &body.credentials).await {
        Ok(account) => Json(TestResult { ok: true, account: Some(account.into()), error: None }).into_response(),
        Err(e) => test_failure(e),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateConnection {
    /// A catalog provider id…
    provider: Option<String>,
    /// …or an integration id.
    integration: Option<String>,
    /// The org that owns it (sessions: their own).
    org: Option<String>,
    /// The user who connects it (sessions: themselves).
    user: Option<String>,
    label: Option<String>,
    /// Shared with the org (default) or private to the user.
    shared: Option<bool>,
    auth_mode: Option<String>,
    #[schema(value_type = Object)]
    credentials: Map<String, Value>,
}

/// Validates the fields, tests them against the provider, then stores the connection (credentials sealed).
#[utoipa::path(post, path = "/v1/connections", tag = "connections", request_body = CreateConnection, security(("bearer" = [])),
    responses((status = 201, body = ConnectionDto), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn create_connection(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<CreateConnection>,
) -> ApiResult<(StatusCode, Json<ConnectionDto>)> {
    let input = NewConnection {
        provider: b.provider,
        integration: b.integration,
        org: b.org,
        user: b.user,
        label: b.label,
        shared: b.shared,
        auth_mode: b.auth_mode,
        credentials: b.credentials,
    };
    let c = state.services.create_connection(&actor, input).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConnectionQuery {
    org: Option<String>,
    provider: Option<String>,
    status: Option<String>,
    /// Page size, 1–500 (default 100).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ConnectionPage {
    items: Vec<ConnectionDto>,
    next_cursor: Option<String>,
}

/// Lists connections (metadata only). Members see shared connections and their own.
#[utoipa::path(get, path = "/v1/connections", tag = "connections", params(ConnectionQuery), security(("bearer" = [])),
    responses((status = 200, body = ConnectionPage), (status = 404, body = ErrorBody)))]
async fn list_connections(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
) -> ApiResult<Json<ConnectionPage>> {
    let org = super::org_filter(q.org.as_deref())?;
    let page = super::page(q.limit, q.cursor)?;
    let limit = page.limit;
    let items = state.services.list_connections(&actor, org.as_ref(), q.provider, q.status, page).await?;
    let next_cursor = super::next_cursor(&items, limit, |c| c.id.clone());
    Ok(Json(ConnectionPage { items: items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One connection's metadata.
#[utoipa::path(get, path = "/v1/connections/{id}", tag = "connections", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConnectionDto), (status = 404, body = ErrorBody)))]
async fn get_connection(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ConnectionDto>> {
    Ok(Json(state.services.get_connection(&actor, &id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateConnection {
    label: Option<String>,
    shared: Option<bool>,
}

/// Renames or (un)shares a connection: admins, secret keys, or its owner.
#[utoipa::path(patch, path = "/v1/connections/{id}", tag = "connections", params(("id" = String, Path)), request_body = UpdateConnection,
    security(("bearer" = [])), responses((status = 200, body = ConnectionDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_connection(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<UpdateConnection>,
) -> ApiResult<Json<ConnectionDto>> {
    Ok(Json(state.services.update_connection(&actor, &id, b.label, b.shared).await?.into()))
}

/// Disconnects: admins, secret keys, or its owner.
#[utoipa::path(delete, path = "/v1/connections/{id}", tag = "connections", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_connection(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_connection(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct RetestResult {
    ok: bool,
    account: Option<AccountDto>,
    error: Option<crate::http::error::ErrorDetail>,
    connection: ConnectionDto,
}

/// Tests the stored credentials again; records `last_tested_at` and the status.
#[utoipa::path(post, path = "/v1/connections/{id}/test", tag = "connections", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RetestResult), (status = 404, body = ErrorBody)))]
async fn retest_connection(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RetestResult>> {
    let (outcome, connection) = state.services.retest_connection(&actor, &id).await?;
    let error = outcome.error.map(|e| {
        let a = ApiError::from(e);
        crate::http::error::ErrorDetail { code: a.code, message: a.message, field: a.field, details: a.details }
    });
    Ok(Json(RetestResult {
        ok: outcome.ok,
        account: outcome.account.map(Into::into),
        error,
        connection: connection.into(),
    }))
}

/// Fresh credentials: `{"type", "fields"}` or, for tokens, `{"type", "access_token", "token_type", "expires_at", "scopes"}`.
#[derive(Serialize, ToSchema)]
struct CredentialsDto {
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[schema(value_type = Object)]
    fields: Map<String, Value>,
}

/// The connection's credentials, fresh. Secret API keys only; every read is audited.
#[utoipa::path(get, path = "/v1/connections/{id}/credentials", tag = "connections", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = CredentialsDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn read_credentials(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let out = state.services.connection_credentials(&actor, &id).await?;
    let dto = match out {
        CredentialsOut::Fields { mode, fields } => {
            CredentialsDto { kind: mode, access_token: None, token_type: None, expires_at: None, scopes: None, fields }
        }
        CredentialsOut::Token { mode, access_token, token_type, expires_at, scopes, fields } => CredentialsDto {
            kind: mode,
            access_token: Some(access_token.expose_secret().to_owned()),
            token_type: Some(token_type),
            expires_at: expires_at.map(|t| t.to_rfc3339()),
            scopes: Some(scopes),
            fields,
        },
    };
    let mut res = Json(dto).into_response();
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    /// Refresh even when the token is not yet inside the refresh window.
    #[serde(default)]
    force: bool,
}

#[derive(Serialize, ToSchema)]
struct RefreshResult {
    /// Whether a refresh happened (here or by a concurrent caller).
    refreshed: bool,
    connection: ConnectionDto,
}

/// Refreshes an OAuth connection's token now, single-flight: concurrent callers wait for one refresh.
/// Without `force` it refreshes only inside the refresh window or after expiry.
#[utoipa::path(post, path = "/v1/connections/{id}/refresh", tag = "connections", params(("id" = String, Path)), request_body(content = Option<RefreshBody>),
    security(("bearer" = [])), responses((status = 200, body = RefreshResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn refresh_connection(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    // The body is optional: none means "refresh if due".
    OptionalJson(RefreshBody { force }): OptionalJson<RefreshBody>,
) -> ApiResult<Json<RefreshResult>> {
    let (connection, refreshed) = state.services.refresh_connection(&actor, &id, force).await?;
    Ok(Json(RefreshResult { refreshed, connection: connection.into() }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    org: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ProviderStatus {
    provider: String,
    connections: i64,
    #[schema(value_type = Object)]
    statuses: Map<String, Value>,
    last_error: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct StatusReport {
    items: Vec<ProviderStatus>,
}

/// Per provider: how many connections, in which statuses, and the last error.
#[utoipa::path(get, path = "/v1/status", tag = "connections", params(StatusQuery), security(("bearer" = [])),
    responses((status = 200, body = StatusReport), (status = 404, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> ApiResult<Json<StatusReport>> {
    let org = q.org.as_deref().map(OrgId::parse).transpose().map_err(|e| ApiError::bad_request(e.0))?;
    let counts = state.services.connection_status(&actor, org.as_ref()).await?;
    let mut items: Vec<ProviderStatus> = Vec::new();
    for c in counts {
        if items.last().is_none_or(|p| p.provider != c.provider) {
            items.push(ProviderStatus {
                provider: c.provider.clone(),
                connections: 0,
                statuses: Map::new(),
                last_error: None,
            });
        }
        if let Some(p) = items.last_mut() {
            p.connections += c.count;
            p.statuses.insert(c.status.clone(), Value::from(c.count));
            if c.status != "connected" && c.last_error.is_some() {
                p.last_error = c.last_error;
            }
        }
    }
    Ok(Json(StatusReport { items }))
}
