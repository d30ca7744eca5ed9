//! Extractors whose failures speak API.md's error shape: authentication, and
//! JSON/query/path parsing that names the field at fault.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use switchboard_core::request::{BodyShape, body_shape};

use super::AppState;
use super::error::ApiError;
use crate::services::Principal;

/// The authenticated caller.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            // The consoles' own pages call the API with their cookie and their CSRF token: the
            // operator console's when its token is presented, else the integrations page's.
            let settings = &state.services.settings;
            let cookies: Vec<String> = [CONSOLE_COOKIE, PAGE_COOKIE]
                .iter()
                .filter_map(|base| browser_cookie_named(&parts.headers, &cookie_name(settings, base)))
                .collect();
            if !cookies.is_empty() {
                let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
                let mut last_error = None;
                for cookie in &cookies {
                    match state.services.browser_session(cookie).await {
                        Ok(session) if session.csrf_matches(presented) => {
                            limit(state, &session.principal, cookie)?;
                            return Ok(Self(session.principal));
                        }
                        Ok(_) => {
                            last_error = Some(ApiError::new(
                                axum::http::StatusCode::FORBIDDEN,
                                "csrf_token_invalid",
                                "a console page's request must carry its X-CSRF-Token; reload the page",
                            ));
                        }
                        Err(e) => last_error = last_error.or(Some(e.into())),
                    }
                }
                if let Some(e) = last_error {
                    return Err(e);
                }
            }
            return Err(ApiError::unauthenticated(
                "send Authorization: Bearer sk_… (a secret API key) or Bearer st_… (a session token)",
            ));
        };
        let value =
            header.to_str().map_err(|_| ApiError::unauthenticated("the Authorization header is not readable text"))?;
        let token = switchboard_core::request::bearer_token(value)
            .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be \"Bearer <token>\""))?;
        let principal = state.services.authenticate(token).await?;
        limit(state, &principal, token)?;
        Ok(Self(principal))
    }
}

/// Takes one request from the caller's rate-limit bucket: a secret key's own (its console pages
/// included), or the session's, keyed by the digest of the token or cookie it came with.
pub fn limit(state: &AppState, principal: &Principal, presented: &str) -> Result<(), ApiError> {
    use super::limits::Caller;
    match principal {
        Principal::SecretKey { id, .. } => state.limits.check(Caller::SecretKey, id.as_str()),
        Principal::Session { .. } => {
            state.limits.check(Caller::Session, switchboard_core::token::TokenDigest::of(presented).as_str())
        }
        Principal::Operator | Principal::System => Ok(()),
    }
}

/// The header a console page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The end user's integrations page's cookie, and the operator console's.
pub const PAGE_COOKIE: &str = "sb_session";
pub const CONSOLE_COOKIE: &str = "sb_console";

/// A console cookie's name: with the `__Host-` prefix (Secure, whole host, no Domain) where the
/// public URL is https.
#[must_use]
pub fn cookie_name(settings: &crate::config::Settings, base: &str) -> String {
    if settings.public_url.scheme() == "https" { format!("__Host-{base}") } else { base.to_owned() }
}

/// The integrations page's cookie name.
#[must_use]
pub fn browser_cookie_name(settings: &crate::config::Settings) -> String {
    cookie_name(settings, PAGE_COOKIE)
}

/// The value of the cookie `name` of a request, if it has one.
#[must_use]
pub fn browser_cookie_named(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    let values = headers.get_all(axum::http::header::COOKIE).iter().filter_map(|h| h.to_str().ok());
    switchboard_core::request::cookie(values, name).map(str::to_owned)
}

/// The integrations page's cookie of a request.
#[must_use]
pub fn browser_cookie(headers: &axum::http::HeaderMap, settings: &crate::config::Settings) -> Option<String> {
    browser_cookie_named(headers, &browser_cookie_name(settings))
}

/// A JSON body. It must be a JSON object sent as `application/json`: malformed JSON or a wrong
/// field is 400 naming it, another content type 415, a body over the limit 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let body = json_body(req, state).await?;
        if body.is_empty() {
            return Err(ApiError::bad_request("this request needs a JSON object as its body"));
        }
        parse_object(&body, state).map(Self)
    }
}

/// An optional JSON body: none at all, or `null`, is the type's default; anything else is read as
/// [`ApiJson`] reads it.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let no_type = !req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        let body = read_body(req, state).await?;
        if matches!(body_shape(&body), BodyShape::Empty | BodyShape::Null) {
            return Ok(Self(T::default()));
        }
        if no_type {
            return Err(unsupported_media_type());
        }
        parse_object(&body, state).map(Self)
    }
}

/// The body of a request that declares JSON (`application/json` or a `+json` type).
async fn json_body(req: Request, state: &AppState) -> Result<axum::body::Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(switchboard_core::request::is_json_media_type);
    if !is_json {
        return Err(unsupported_media_type());
    }
    read_body(req, state).await
}

async fn read_body(req: Request, state: &AppState) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(req, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.services.settings.max_body_bytes)
        } else {
            ApiError::bad_request(format!("the request body could not be read: {}", r.body_text()))
        }
    })
}

/// Reads `body` as `T`, which takes a JSON object: an array, which serde would read field by
/// field, or any other value is refused.
fn parse_object<T: DeserializeOwned>(body: &[u8], state: &AppState) -> Result<T, ApiError> {
    match body_shape(body) {
        BodyShape::Object => {}
        BodyShape::NotJson => return Err(ApiError::bad_request("the body is not valid JSON; send a JSON object")),
        BodyShape::Empty | BodyShape::Null | BodyShape::NotAnObject => {
            return Err(ApiError::bad_request("the body must be a JSON object ({…})"));
        }
    }
    axum::Json::<T>::from_bytes(body)
        .map(|axum::Json(v)| v)
        .map_err(|r| json_rejection(&r, state.services.settings.max_body_bytes))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as JSON with Content-Type: application/json",
    )
}

fn json_rejection(r: &JsonRejection, limit: usize) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(limit),
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            let detail = text.split_once("target type: ").map_or(text.as_str(), |(_, d)| d);
            ApiError::bad_request(format!("the JSON body does not fit this request: {detail}"))
        }
        JsonRejection::JsonSyntaxError(e) => {
            let text = e.body_text();
            let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d);
            ApiError::bad_request(format!("the body is not valid JSON: {detail}"))
        }
        other => ApiError::bad_request(format!("the request body could not be read: {}", other.body_text())),
    }
}

/// Query parameters; a wrong one is 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Self(q.0)).map_err(
            |r: QueryRejection| {
                let text = r.body_text();
                let detail = text.split_once("query string: ").map_or(text.as_str(), |(_, d)| d);
                ApiError::bad_request(format!("a query parameter is invalid: {detail}"))
            },
        )
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| Self(p.0)).map_err(
            |r: PathRejection| ApiError::bad_request(format!("a path parameter is invalid: {}", r.body_text())),
        )
    }
}
