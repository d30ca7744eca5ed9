use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::services::integrations::{Integration, IntegrationChanges, NewIntegration};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_integration, list_integrations)).routes(routes!(
        get_integration,
        update_integration,
        delete_integration
    ))
}

/// The custom-oauth2 fields that API.md puts at the top level; stored as settings.
const CUSTOM_FIELDS: [&str; 8] = [
    "authorization_url",
    "token_url",
    "revocation_url",
    "userinfo_url",
    "client_auth",
    "pkce",
    "issuer",
    "api_base_url",
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateIntegration {
    /// Your name for it: lowercase letters, digits, `-`, `_` (e.g. `google-prod`).
    id: String,
    /// A provider id from the catalog with an OAuth 2.0 flow.
    provider: String,
    client_id: String,
    /// Sealed in the vault; never returned.
    #[schema(value_type = Option<String>)]
    client_secret: Option<SecretString>,
    /// Scopes to ask for; the catalog's defaults when absent.
    scopes: Option<Vec<String>>,
    /// The redirect URI registered at the provider (default: PUBLIC_URL/oauth/callback).
    redirect_uri: Option<String>,
    /// Provider settings: placeholder values such as a fixed Microsoft `tenant`.
    #[serde(default)]
    #[schema(value_type = Object)]
    settings: BTreeMap<String, Value>,
    /// custom-oauth2 only.
    authorization_url: Option<String>,
    /// custom-oauth2 only.
    token_url: Option<String>,
    /// custom-oauth2 only.
    revocation_url: Option<String>,
    /// custom-oauth2 only.
    userinfo_url: Option<String>,
    /// custom-oauth2 only: `basic` or `post`.
    client_auth: Option<String>,
    /// custom-oauth2 only.
    pkce: Option<bool>,
    /// custom-oauth2 only: the server's issuer identifier, checked against `iss` on the callback (RFC 9207).
    issuer: Option<String>,
    /// custom-oauth2 only: the API the tokens are for, which the proxy appends paths to.
    api_base_url: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateIntegration {
    client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    client_secret: Option<SecretString>,
    scopes: Option<Vec<String>>,
    /// A URL, or null to fall back to PUBLIC_URL/oauth/callback.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    redirect_uri: Option<Option<String>>,
    /// Replaces all settings when given.
    #[schema(value_type = Option<Object>)]
    settings: Option<BTreeMap<String, Value>>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct IntegrationDto {
    id: String,
    provider: String,
    client_id: String,
    /// Whether a client secret is stored (it is never returned).
    has_client_secret: bool,
    scopes: Vec<String>,
    redirect_uri: Option<String>,
    #[schema(value_type = Object)]
    settings: BTreeMap<String, Value>,
    created_at: String,
    updated_at: String,
}

impl From<Integration> for IntegrationDto {
    fn from(i: Integration) -> Self {
        Self {
            id: i.id.to_string(),
            provider: i.provider,
            client_id: i.client_id,
            has_client_secret: i.has_client_secret,
            scopes: i.scopes,
            redirect_uri: i.redirect_uri,
            settings: i.settings,
            created_at: i.created_at.to_rfc3339(),
            updated_at: i.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct IntegrationList {
    items: Vec<IntegrationDto>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct IntegrationFilter {
    provider: Option<String>,
}

/// Registers an OAuth app for a provider (secret key only).
#[utoipa::path(post, path = "/v1/integrations", tag = "integrations", request_body = CreateIntegration, security(("bearer" = [])),
    responses((status = 201, body = IntegrationDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_integration(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<CreateIntegration>,
) -> ApiResult<(StatusCode, Json<IntegrationDto>)> {
    let mut settings = body.settings;
    let custom = [
        body.authorization_url.map(Value::String),
        body.token_url.map(Value::String),
        body.revocation_url.map(Value::String),
        body.userinfo_url.map(Value::String),
        body.client_auth.map(Value::String),
        body.pkce.map(Value::Bool),
        body.issuer.map(Value::String),
        body.api_base_url.map(Value::String),
    ];
    for (name, value) in CUSTOM_FIELDS.iter().zip(custom) {
        if let Some(v) = value {
            settings.insert((*name).to_owned(), v);
        }
    }
    let created = state
        .services
        .create_integration(
            &actor,
            NewIntegration {
                id: body.id,
                provider: body.provider,
                client_id: body.client_id,
                client_secret: body.client_secret,
                scopes: body.scopes,
                redirect_uri: body.redirect_uri,
                settings,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Lists integrations (secret key only).
#[utoipa::path(get, path = "/v1/integrations", tag = "integrations", params(IntegrationFilter), security(("bearer" = [])),
    responses((status = 200, body = IntegrationList), (status = 403, body = ErrorBody)))]
async fn list_integrations(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(f): ApiQuery<IntegrationFilter>,
) -> ApiResult<Json<IntegrationList>> {
    let items = state.services.list_integrations(&actor, f.provider.as_deref()).await?;
    Ok(Json(IntegrationList { items: items.into_iter().map(Into::into).collect() }))
}

/// One integration (secret key only).
#[utoipa::path(get, path = "/v1/integrations/{id}", tag = "integrations", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = IntegrationDto), (status = 404, body = ErrorBody)))]
async fn get_integration(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IntegrationDto>> {
    Ok(Json(state.services.get_integration(&actor, &id).await?.into()))
}

/// Changes client id, secret, scopes, redirect URI or settings (secret key only).
/// A new client secret takes effect on the next token request.
#[utoipa::path(patch, path = "/v1/integrations/{id}", tag = "integrations", params(("id" = String, Path)), request_body = UpdateIntegration,
    security(("bearer" = [])), responses((status = 200, body = IntegrationDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_integration(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> ApiResult<Json<IntegrationDto>> {
    let changes = IntegrationChanges {
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes,
        redirect_uri: body.redirect_uri,
        settings: body.settings,
    };
    Ok(Json(state.services.update_integration(&actor, &id, changes).await?.into()))
}

/// Removes an integration (secret key only).
#[utoipa::path(delete, path = "/v1/integrations/{id}", tag = "integrations", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_integration(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_integration(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
