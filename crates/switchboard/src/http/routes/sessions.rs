use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, Auth};
use crate::services::auth::SessionRequest;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_session))
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
    ttl_s: Option<u64>,
}

#[derive(Serialize, ToSchema)]
struct SessionCreated {
    /// The session token, `st_…`. Shown once.
    token: String,
    expires_at: String,
    org: String,
    user: String,
    role: String,
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
        .create_session(&actor, SessionRequest { org: body.org, user: body.user, role: body.role, ttl_s: body.ttl_s })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            token: s.token.expose().to_owned(),
            expires_at: s.expires_at.to_rfc3339(),
            org: s.org.to_string(),
            user: s.user.to_string(),
            role: s.role.as_str().to_owned(),
        }),
    ))
}
