use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_core::resources::Item;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::services::using::resources::{ListRequest, Resolution, ResolveStep};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_kinds)).routes(routes!(list_resources)).routes(routes!(resolve))
}

#[derive(Serialize, ToSchema)]
struct KindDto {
    /// The kind's name, e.g. `sheet`.
    kind: String,
    label: String,
    /// Kinds whose ids a listing of this one needs, each as a query parameter of that name.
    parents: Vec<String>,
    /// Whether `q` searches at the provider (otherwise it filters the page here).
    searchable: bool,
    /// Scopes the connection lacks for this kind; any one of them would do. Empty when it has one.
    missing_scopes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct KindsDto {
    kinds: Vec<KindDto>,
}

/// The kinds of things this connection can list.
#[utoipa::path(get, path = "/v1/connections/{id}/resources", tag = "resources", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = KindsDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_kinds(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<KindsDto>> {
    let kinds = state.services.resource_kinds(&actor, &id).await?;
    Ok(Json(KindsDto {
        kinds: kinds
            .into_iter()
            .map(|k| KindDto {
                kind: k.kind,
                label: k.label,
                parents: k.parents,
                searchable: k.searchable,
                missing_scopes: k.missing_scopes,
            })
            .collect(),
    }))
}

/// An item: `id`, `name`, and the kind's extra fields.
#[derive(Serialize, ToSchema)]
struct ItemDto {
    id: String,
    name: String,
    /// The kind's extra fields (a column's `letter` and `position`, a file's `mime_type`…).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    fields: Map<String, Value>,
}

impl From<Item> for ItemDto {
    fn from(i: Item) -> Self {
        Self { id: i.id, name: i.name, fields: i.fields }
    }
}

#[derive(Serialize, ToSchema)]
struct ListingDto {
    /// The page's items, copied out as the JSON they are kept in.
    #[schema(value_type = Vec<ItemDto>)]
    items: Box<RawValue>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
    /// True when the provider failed and this is the last good page from the cache.
    stale: bool,
    /// With `stale`: what the provider answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_error: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documents the query; the handler reads it as a map because parents are named by kind")]
struct ListingQuery {
    /// Filters by name: at the provider where it searches, else on the page here.
    q: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page (capped by the kind and by SWITCHBOARD_LISTING_MAX_LIMIT; default 50).
    limit: Option<u32>,
    /// `true` skips the cache.
    fresh: Option<bool>,
}

/// One page of a kind. Each parent kind is a query parameter named after it
/// (`?spreadsheet=1AbC…&sheet=0`); a missing one is a 400 naming it.
#[utoipa::path(get, path = "/v1/connections/{id}/resources/{kind}", tag = "resources",
    params(("id" = String, Path), ("kind" = String, Path), ListingQuery), security(("bearer" = [])),
    responses((status = 200, body = ListingDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn list_resources(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath((id, kind)): ApiPath<(String, String)>,
    ApiQuery(mut query): ApiQuery<BTreeMap<String, String>>,
) -> ApiResult<Json<ListingDto>> {
    let limit = match query.remove("limit") {
        Some(l) => Some(l.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError {
            field: Some("limit".into()),
            ..ApiError::bad_request(format!("limit must be a whole number of at least 1 (got {l:?})"))
        })?),
        None => None,
    };
    let fresh = match query.remove("fresh").as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(ApiError {
                field: Some("fresh".into()),
                ..ApiError::bad_request(format!("fresh must be true or false (got {other:?})"))
            });
        }
    };
    let req = ListRequest { kind, q: query.remove("q"), cursor: query.remove("cursor"), limit, fresh, parents: query };
    let listing = state.services.list_resources(&actor, &id, req).await?;
    Ok(Json(ListingDto {
        items: listing.items,
        next_cursor: listing.next_cursor,
        stale: listing.stale,
        provider_error: listing.provider_error,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResolveStepBody {
    kind: String,
    /// A name, an id, or the provider's URL of the item.
    name: String,
    /// Parent ids, by kind (`{"spreadsheet": "1AbC…"}`); earlier steps of a path fill them.
    #[serde(default)]
    parents: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    kind: Option<String>,
    name: Option<String>,
    #[serde(default)]
    parents: BTreeMap<String, String>,
    /// A chain, each step the parent of the next: spreadsheet → sheet → column.
    path: Option<Vec<ResolveStepBody>>,
}

#[derive(Serialize, ToSchema)]
struct ResolvedDto {
    /// `found`, `ambiguous` or `not_found`.
    status: &'static str,
    /// With `found`: the item of each step.
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Vec<ItemDto>>,
    /// The step (from 0) that was ambiguous or not found.
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidates: Option<Vec<ItemDto>>,
    /// With `not_found`: the closest names, best first. Never a guess.
    #[serde(skip_serializing_if = "Option::is_none")]
    suggestions: Option<Vec<ItemDto>>,
    /// True when a step stopped scanning at SWITCHBOARD_RESOLVE_MAX_ITEMS before seeing every item.
    truncated: bool,
}

/// Resolves a name (or an id, or the provider's URL of the item), or a chain of them.
#[utoipa::path(post, path = "/v1/connections/{id}/resolve", tag = "resources", params(("id" = String, Path)), request_body = ResolveBody,
    security(("bearer" = [])),
    responses((status = 200, body = ResolvedDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn resolve(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> ApiResult<Json<ResolvedDto>> {
    let steps = match (body.path, body.kind, body.name) {
        (Some(path), None, None) if !path.is_empty() => {
            path.into_iter().map(|s| ResolveStep { kind: s.kind, name: s.name, parents: s.parents }).collect()
        }
        (None, Some(kind), Some(name)) => vec![ResolveStep { kind, name, parents: body.parents }],
        _ => {
            return Err(ApiError {
                field: Some("path".into()),
                ..ApiError::bad_request(
                    "give either \"kind\" and \"name\" (with \"parents\"), or a non-empty \"path\" of steps",
                )
            });
        }
    };
    let resolved = state.services.resolve(&actor, &id, steps).await?;
    let items = |v: Vec<Item>| Some(v.into_iter().map(Into::into).collect());
    let dto = match resolved.resolution {
        Resolution::Found(found) => ResolvedDto {
            status: "found",
            items: items(found),
            step: None,
            candidates: None,
            suggestions: None,
            truncated: resolved.truncated,
        },
        Resolution::Ambiguous { step, candidates } => ResolvedDto {
            status: "ambiguous",
            items: None,
            step: Some(step),
            candidates: items(candidates),
            suggestions: None,
            truncated: resolved.truncated,
        },
        Resolution::NotFound { step, suggestions } => ResolvedDto {
            status: "not_found",
            items: None,
            step: Some(step),
            candidates: None,
            suggestions: items(suggestions),
            truncated: resolved.truncated,
        },
    };
    Ok(Json(dto))
}
