use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_core::catalog::Provider;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiPath, ApiQuery, Auth};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_providers)).routes(routes!(get_provider))
}

/// A catalog entry: auth modes, OAuth endpoints and scopes, credential fields, webhook scheme.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProviderDto {
    id: String,
    name: String,
    description: String,
    categories: Vec<String>,
    docs_url: String,
    /// `oauth2` and the credential modes this provider supports.
    auth_modes: Vec<String>,
    #[schema(value_type = Object)]
    entry: serde_json::Value,
}

impl From<&Provider> for ProviderDto {
    fn from(p: &Provider) -> Self {
        let mut auth_modes: Vec<String> = p.oauth2.iter().map(|_| "oauth2".to_owned()).collect();
        auth_modes.extend(p.credentials.keys().map(|m| m.as_str().to_owned()));
        if p.webhooks.is_some() && p.oauth2.is_none() && p.credentials.is_empty() {
            auth_modes.push("webhook".to_owned());
        }
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            categories: p.categories.clone(),
            docs_url: p.docs_url.clone(),
            auth_modes,
            entry: serde_json::to_value(p).unwrap_or_default(),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct ProviderList {
    items: Vec<ProviderDto>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ProviderFilter {
    /// Only providers in this category.
    category: Option<String>,
    /// Only providers supporting this auth mode (`oauth2`, `api_key`, …).
    auth_mode: Option<String>,
}

/// The catalog. Any secret key or session may read it.
#[utoipa::path(get, path = "/v1/providers", tag = "providers", params(ProviderFilter), security(("bearer" = [])),
    responses((status = 200, body = ProviderList), (status = 401, body = crate::http::error::ErrorBody)))]
async fn list_providers(
    _auth: Auth,
    State(state): State<AppState>,
    ApiQuery(f): ApiQuery<ProviderFilter>,
) -> Json<ProviderList> {
    let items = state
        .services
        .catalog
        .iter()
        .map(|p| ProviderDto::from(p.as_ref()))
        .filter(|p| f.category.as_ref().is_none_or(|c| p.categories.contains(c)))
        .filter(|p| f.auth_mode.as_ref().is_none_or(|m| p.auth_modes.contains(m)))
        .collect();
    Json(ProviderList { items })
}

/// One catalog entry.
#[utoipa::path(get, path = "/v1/providers/{provider}", tag = "providers",
    params(("provider" = String, Path, description = "Provider id, e.g. `slack`")), security(("bearer" = [])),
    responses((status = 200, body = ProviderDto), (status = 404, body = crate::http::error::ErrorBody)))]
async fn get_provider(
    _auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProviderDto>> {
    let p = state.services.catalog.get(&id).ok_or_else(|| {
        ApiError::not_found(format!("provider {id:?} is not in the catalog; GET /v1/providers lists them"))
    })?;
    Ok(Json(ProviderDto::from(p.as_ref())))
}
