use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::ids::OrgId;
use switchboard_core::time::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{next_cursor, page};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use crate::services::webhooks::endpoints::{Endpoint, Incoming, Intake, NewEndpoint};
use crate::services::webhooks::events::Event;
use crate::services::webhooks::subscriptions::{Delivery, NewSubscription, Subscription};
use crate::store::{DeliveryFilter, EventFilter, EventSummary};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(rotate_endpoint, delete_endpoint))
        .routes(routes!(receive, handshake))
        .routes(routes!(list_events))
        .routes(routes!(get_event))
        .routes(routes!(replay_event))
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(delete_subscription))
        .routes(routes!(list_deliveries))
}

#[derive(Serialize, ToSchema)]
struct EndpointDto {
    id: String,
    /// Give this URL to the provider.
    url: String,
    org: String,
    provider: String,
    /// How requests are verified, e.g. `stripe`, `github`, `shared-secret`.
    scheme: String,
    connection_id: Option<String>,
    /// 2 while a rotation keeps the previous secret.
    secrets: usize,
    created_at: String,
    /// Only when Switchboard generated it, only in this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Meta: the verify token to enter with the callback URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    verify_token: Option<String>,
}

impl EndpointDto {
    fn new(e: Endpoint, secret: Option<SecretString>, verify_token: Option<String>) -> Self {
        Self {
            id: e.id,
            url: e.url,
            org: e.org,
            provider: e.provider,
            scheme: e.scheme,
            connection_id: e.connection_id,
            secrets: e.secrets,
            created_at: e.created_at.to_rfc3339(),
            secret: secret.map(|s| s.expose_secret().to_owned()),
            verify_token,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEndpoint {
    /// A catalog provider with webhooks, or `webhook` for any sender.
    provider: String,
    org: Option<String>,
    /// The provider's signing secret (Stripe whsec_…, Slack signing secret, Shopify/Meta app secret,
    /// Twilio auth token, Trello app secret, Discord public key in hex); generated when Switchboard may choose it.
    #[schema(value_type = Option<String>)]
    secret: Option<SecretString>,
    /// Events are attributed to this connection.
    connection: Option<String>,
    /// For `webhook`: `shared-secret` (X-Webhook-Secret), `hmac-sha256` (X-Webhook-Signature) or `standard-webhooks`.
    scheme: Option<String>,
    /// Meta: the verify token for the subscription handshake (generated when absent).
    verify_token: Option<String>,
}

/// Creates an inbound webhook endpoint (secret key, or an org admin for its org).
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateEndpoint, security(("bearer" = [])),
    responses((status = 201, body = EndpointDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointDto>)> {
    let created = state
        .services
        .create_endpoint(
            &actor,
            NewEndpoint {
                provider: b.provider,
                org: b.org,
                secret: b.secret,
                connection: b.connection,
                scheme: b.scheme,
                verify_token: b.verify_token,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(EndpointDto::new(created.endpoint, created.secret, created.verify_token))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    org: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct EndpointPage {
    items: Vec<EndpointDto>,
    next_cursor: Option<String>,
}

/// Lists webhook endpoints (never their secrets).
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = EndpointPage)))]
async fn list_endpoints(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<EndpointPage>> {
    let org = q.org.as_deref().map(OrgId::parse).transpose().map_err(|e| ApiError::bad_request(e.0))?;
    let p = page(q.limit, q.cursor)?;
    let limit = p.limit;
    let items = state.services.list_endpoints(&actor, org.as_ref(), p).await?;
    let next = next_cursor(&items, limit, |e| e.id.clone());
    Ok(Json(EndpointPage {
        items: items.into_iter().map(|e| EndpointDto::new(e, None, None)).collect(),
        next_cursor: next,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    /// The new secret (generated when absent and Switchboard may choose it). The old one stays valid.
    #[schema(value_type = Option<String>)]
    secret: Option<SecretString>,
    /// End a rotation: only the current secret is accepted from now on.
    #[serde(default)]
    drop_previous: bool,
}

/// Rotates an endpoint's secret: both are accepted until `drop_previous`.
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = RotateBody, security(("bearer" = [])),
    responses((status = 200, body = EndpointDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_endpoint(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<RotateBody>,
) -> ApiResult<Json<EndpointDto>> {
    let (e, generated) = state.services.rotate_endpoint_secret(&actor, &id, b.secret, b.drop_previous).await?;
    Ok(Json(EndpointDto::new(e, generated, None)))
}

/// Deletes a webhook endpoint; its URL stops accepting at once.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_endpoint(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn incoming(method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Incoming {
    Incoming {
        method: method.to_string(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
        body,
    }
}

fn intake_response(intake: Intake) -> Response {
    match intake {
        Intake::Accepted { event_id, duplicate, reply } => {
            let body = reply.unwrap_or_else(
                || serde_json::json!({ "received": true, "event_id": event_id, "duplicate": duplicate }),
            );
            (StatusCode::OK, Json(body)).into_response()
        }
        Intake::Challenge { content_type, body } => {
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            r
        }
        Intake::Refused { status, code, message } => {
            ApiError::new(StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED), code, message)
                .into_response()
        }
        Intake::NotFound => ApiError::not_found("no webhook endpoint here").into_response(),
    }
}

/// Receives a provider's webhook: verified on the raw bytes, stored durably, then 2xx. Public.
/// A repeat of an event already stored is answered 2xx and not stored again.
#[utoipa::path(post, path = "/hooks/{id}", tag = "webhooks", params(("id" = String, Path)), request_body(content = String, description = "the provider's payload, as sent"),
    responses((status = 200, description = "stored (or a repeat)"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody, description = "the endpoint's rate (SWITCHBOARD_RATE_LIMIT_WEBHOOK_PER_S) is spent; Retry-After says when to send again")))]
async fn receive(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Before verification: a flood of forged requests is refused as cheaply as a real one.
    if let Err(e) = state.limits.check(crate::http::limits::Caller::WebhookEndpoint, &id) {
        return e.into_response();
    }
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::too_large(state.services.settings.max_body_bytes).into_response();
        }
        Err(r) => {
            return ApiError::bad_request(format!("the body could not be read: {}", r.body_text())).into_response();
        }
    };
    match state.services.ingest(&id, incoming(&method, &uri, &headers, body)).await {
        Ok(i) => intake_response(i),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Verification handshakes: Meta's `hub.challenge`, Microsoft Graph's `validationToken`, Trello's check. Public.
#[utoipa::path(get, path = "/hooks/{id}", tag = "webhooks", operation_id = "webhook_handshake", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/plain", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn handshake(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = state.limits.check(crate::http::limits::Caller::WebhookEndpoint, &id) {
        return e.into_response();
    }
    match state.services.ingest(&id, incoming(&method, &uri, &headers, Bytes::new())).await {
        Ok(i) => intake_response(i),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// An event in a list: its metadata and the size of its body, which
/// `GET /v1/events/{id}` returns.
#[derive(Serialize, ToSchema)]
struct EventSummaryDto {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    provider: String,
    source: String,
    provider_event_id: Option<String>,
    endpoint_id: Option<String>,
    org: Option<String>,
    connection_id: Option<String>,
    received_at: String,
    /// Bytes of the body as received.
    body_size: i64,
}

impl From<EventSummary> for EventSummaryDto {
    fn from(r: EventSummary) -> Self {
        Self {
            id: r.id,
            kind: r.event_type,
            provider: r.provider,
            source: r.source,
            provider_event_id: r.provider_event_id,
            endpoint_id: r.endpoint_id,
            org: r.org,
            connection_id: r.connection_id,
            received_at: Timestamp::from_millis(r.received_at).to_rfc3339(),
            body_size: r.body_size,
        }
    }
}

/// One event whole: its metadata, the headers kept, and the body (JSON, form fields, or base64).
#[derive(Serialize, ToSchema)]
struct EventDto {
    #[serde(flatten)]
    summary: EventSummaryDto,
    #[schema(value_type = Object)]
    headers: Value,
    #[schema(value_type = Object)]
    data: Value,
}

impl From<Event> for EventDto {
    fn from(e: Event) -> Self {
        Self {
            data: e.data(),
            headers: serde_json::from_str(&e.record.headers).unwrap_or_default(),
            summary: EventSummary::from(&e.record).into(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventQuery {
    org: Option<String>,
    endpoint: Option<String>,
    provider: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    limit: Option<u32>,
    /// Also accepted as `after`: the `next_cursor` of the previous page.
    cursor: Option<String>,
    after: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct EventPage {
    items: Vec<EventSummaryDto>,
    next_cursor: Option<String>,
}

/// Received events, newest first, without their bodies (secret key, or an org admin for its org).
#[utoipa::path(get, path = "/v1/events", tag = "webhooks", params(EventQuery), security(("bearer" = [])), responses((status = 200, body = EventPage)))]
async fn list_events(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<Json<EventPage>> {
    let org = q.org.as_deref().map(OrgId::parse).transpose().map_err(|e| ApiError::bad_request(e.0))?;
    let p = page(q.limit, q.cursor.or(q.after))?;
    let limit = p.limit;
    let filter = EventFilter { org: None, endpoint: q.endpoint, provider: q.provider, event_type: q.kind };
    let items = state.services.list_events(&actor, org.as_ref(), filter, p).await?;
    let next = next_cursor(&items, limit, |e| e.id.clone());
    Ok(Json(EventPage { items: items.into_iter().map(Into::into).collect(), next_cursor: next }))
}

/// One event with its headers and body (secret key, or an org admin for its org).
#[utoipa::path(get, path = "/v1/events/{id}", tag = "webhooks", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = EventDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EventDto>> {
    Ok(Json(state.services.get_event(&actor, &id).await?.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    /// Only to this subscription.
    subscription: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Replayed {
    deliveries: Vec<String>,
}

/// Delivers an event again to the subscriptions that take it (secret key only).
#[utoipa::path(post, path = "/v1/events/{id}/replay", tag = "webhooks", params(("id" = String, Path)), request_body(content = Option<ReplayBody>), security(("bearer" = [])),
    responses((status = 202, body = Replayed), (status = 404, body = ErrorBody)))]
async fn replay_event(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    OptionalJson(b): OptionalJson<ReplayBody>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    let deliveries = state.services.replay_event(&actor, &id, b.subscription.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { deliveries })))
}

#[derive(Serialize, ToSchema)]
struct SubscriptionDto {
    id: String,
    url: String,
    org: Option<String>,
    endpoint_id: Option<String>,
    event_types: Vec<String>,
    /// `active` or `disabled`.
    status: String,
    disabled_reason: Option<String>,
    created_at: String,
    /// The whsec_ secret deliveries are signed with; only when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl SubscriptionDto {
    fn new(s: Subscription, secret: Option<SecretString>) -> Self {
        Self {
            id: s.id,
            url: s.url,
            org: s.org,
            endpoint_id: s.endpoint_id,
            event_types: s.event_types,
            status: s.status,
            disabled_reason: s.disabled_reason,
            created_at: s.created_at.to_rfc3339(),
            secret: secret.map(|x| x.expose_secret().to_owned()),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSubscription {
    /// The receiver (the workflow engine).
    url: String,
    /// Only this org's events.
    org: Option<String>,
    /// Only this endpoint's events.
    endpoint: Option<String>,
    /// Only these types: exact (`github.push`) or prefixes (`stripe.*`, `connection.*`).
    event_types: Option<Vec<String>>,
}

/// Subscribes a receiver to events (secret key only). Deliveries are signed with the returned whsec_ secret (Standard Webhooks).
#[utoipa::path(post, path = "/v1/subscriptions", tag = "webhooks", request_body = CreateSubscription, security(("bearer" = [])),
    responses((status = 201, body = SubscriptionDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_subscription(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<CreateSubscription>,
) -> ApiResult<(StatusCode, Json<SubscriptionDto>)> {
    let (s, secret) = state
        .services
        .create_subscription(
            &actor,
            NewSubscription { url: b.url, org: b.org, endpoint: b.endpoint, event_types: b.event_types },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(SubscriptionDto::new(s, Some(secret)))))
}

#[derive(Serialize, ToSchema)]
struct SubscriptionPage {
    items: Vec<SubscriptionDto>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Lists subscriptions (secret key only; never their secrets).
#[utoipa::path(get, path = "/v1/subscriptions", tag = "webhooks", params(PageQuery), security(("bearer" = [])), responses((status = 200, body = SubscriptionPage)))]
async fn list_subscriptions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<SubscriptionPage>> {
    let p = page(q.limit, q.cursor)?;
    let limit = p.limit;
    let items = state.services.list_subscriptions(&actor, p).await?;
    let next = next_cursor(&items, limit, |s| s.id.clone());
    Ok(Json(SubscriptionPage {
        items: items.into_iter().map(|s| SubscriptionDto::new(s, None)).collect(),
        next_cursor: next,
    }))
}

/// Deletes a subscription; its pending deliveries are given up.
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = "webhooks", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_subscription(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_subscription(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct AttemptDto {
    attempt: i32,
    at: String,
    status_code: Option<i32>,
    latency_ms: i32,
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryDto {
    id: String,
    event_id: String,
    subscription_id: String,
    /// `pending`, `succeeded`, `dead` (given up) or `cancelled`.
    status: String,
    attempts: i32,
    next_attempt_at: Option<String>,
    last_status: Option<i32>,
    last_error: Option<String>,
    last_latency_ms: Option<i32>,
    created_at: String,
    history: Vec<AttemptDto>,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        let r = d.record;
        Self {
            id: r.id,
            event_id: r.event_id,
            subscription_id: r.subscription_id,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.map(|t| Timestamp::from_millis(t).to_rfc3339()),
            last_status: r.last_status,
            last_error: r.last_error,
            last_latency_ms: r.last_latency_ms,
            created_at: Timestamp::from_millis(r.created_at).to_rfc3339(),
            history: d
                .attempts
                .into_iter()
                .map(|a| AttemptDto {
                    attempt: a.attempt,
                    at: Timestamp::from_millis(a.at).to_rfc3339(),
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    subscription: Option<String>,
    status: Option<String>,
    event: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryPage {
    items: Vec<DeliveryDto>,
    next_cursor: Option<String>,
}

/// Deliveries and every attempt: status code, latency, error, next attempt (secret key only).
#[utoipa::path(get, path = "/v1/deliveries", tag = "webhooks", params(DeliveryQuery), security(("bearer" = [])), responses((status = 200, body = DeliveryPage)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    let p = page(q.limit, q.cursor)?;
    let limit = p.limit;
    let items = state
        .services
        .list_deliveries(&actor, DeliveryFilter { subscription: q.subscription, status: q.status, event: q.event }, p)
        .await?;
    let next = next_cursor(&items, limit, |d| d.record.id.clone());
    Ok(Json(DeliveryPage { items: items.into_iter().map(Into::into).collect(), next_cursor: next }))
}
