pub(super) mod actions;
pub(super) mod ai;
pub(super) mod audit;
pub(super) mod connections;
pub(super) mod health;
pub(super) mod integrations;
pub(super) mod oauth;
pub(super) mod providers;
pub(super) mod proxy;
pub(super) mod resources;
pub(super) mod sessions;
pub(super) mod webhooks;

use switchboard_core::ids::OrgId;

use crate::http::error::{ApiError, ApiResult};
use crate::store::Page;

/// A list's page from `?limit=&cursor=`: 1 to 500 items, 100 by default.
fn page(limit: Option<u32>, cursor: Option<String>) -> ApiResult<Page> {
    let limit = limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be from 1 to 500"));
    }
    Ok(Page { after: cursor, limit })
}

/// The cursor of the next page: the last item's id when the page is full.
fn next_cursor<T>(items: &[T], limit: u32, id: impl Fn(&T) -> String) -> Option<String> {
    (items.len() == limit as usize).then(|| items.last().map(id)).flatten()
}

/// An optional `?org=` filter.
fn org_filter(org: Option<&str>) -> ApiResult<Option<OrgId>> {
    org.map(OrgId::parse).transpose().map_err(|e| ApiError::bad_request(e.0))
}
