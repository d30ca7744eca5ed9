//! Microsoft Graph v1.0 (https://learn.microsoft.com/en-us/graph/api/user-list-mailfolders,
//! user-list-calendars, user-list-joinedteams, channel-list; paging:
//! https://learn.microsoft.com/en-us/graph/paging): a bearer token, `$top` and `$select`, the next
//! page as the full `@odata.nextLink` URL (here with `$skip`), errors as `{"error": {"code",
//! "message"}}`, 429 with Retry-After; and the identity platform's authorize and token endpoints
//! under the tenant, refresh included.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Api, Control, Trouble, back, number, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TEAM: &str = "02bd9fd6-8f93-4758-87c3-1fb73740a315";

fn mail_folders() -> Vec<Value> {
    ["Archive", "Conversation History", "Deleted Items", "Drafts", "Inbox", "Junk Email", "Outbox", "Sent Items"]
        .iter()
        .enumerate()
        .map(|(i, n)| json!({
            "id": format!("AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAE{i}AAA="),
            "displayName": n, "parentFolderId": "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEIAAA=",
            "childFolderCount": 0, "unreadItemCount": if *n == "Inbox" { 7 } else { 0 }, "totalItemCount": 10 * i, "isHidden": false
        }))
        .collect()
}

fn calendars() -> Vec<Value> {
    [("Calendar", true, "auto"), ("United States holidays", false, "lightGreen"), ("Birthdays", false, "lightBlue"), ("Team rota", false, "lightOrange")]
        .iter()
        .enumerate()
        .map(|(i, (n, default, color))| json!({
            "id": format!("AAMkAGI2TGuLAAA{i}="), "name": n, "color": color, "isDefaultCalendar": default, "canEdit": *default || i == 3,
            "owner": {"name": "Adele Vance", "address": "AdeleV@contoso.com"}
        }))
        .collect()
}

fn teams() -> Vec<Value> {
    vec![
        json!({"id": TEAM, "displayName": "Contoso Team", "description": "This is a Contoso team.", "isArchived": false, "tenantId": "b33cbe9f-8ebe-4f2a-912b-7e2a427f477f"}),
        json!({"id": "8090c93e-ba7c-433e-9f39-08c7ba07c0b3", "displayName": "Finance", "description": "Finance", "isArchived": false, "tenantId": "b33cbe9f-8ebe-4f2a-912b-7e2a427f477f"}),
    ]
}

fn channels() -> Vec<Value> {
    [("19:561fbdbbfca848a484f0a6f00ce9dbbd@thread.tacv2", "General", "standard"), ("19:8cf1ac0d1a4a4f6c9e3c5b4a3f2e1d0c@thread.tacv2", "Launch", "private"), ("19:b0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5@thread.tacv2", "Support", "shared")]
        .iter()
        .map(|(id, n, m)| json!({"id": id, "createdDateTime": "2026-04-01T09:00:00Z", "displayName": n, "description": format!("{n} channel"), "membershipType": m, "webUrl": format!("https://teams.microsoft.com/l/channel/{id}/{n}")}))
        .collect()
}

fn error(status: u16, code: &str, message: &str) -> Shape {
    shape(
        status,
        json!({"error": {"code": code, "message": message, "innerError": {"date": "2026-12-01T10:00:00", "request-id": "b1c2d3e4-0000-4000-8000-000000000000"}}}),
    )
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => {
            error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        }
        Trouble::Forbidden => error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."),
        Trouble::RateLimited => error(429, "TooManyRequests", "Too many requests").header("retry-after", "10"),
        Trouble::Down => error(503, "ServiceUnavailable", "The service is temporarily unavailable."),
    })
}

/// A page of `items` under `value`: `$top`, `$select` exactly as documented for the kind, and the
/// next page as a full URL with `$skip`.
fn page(s: &Seen, items: &[Value], select: Option<&str>) -> Shape {
    if s.query("$select").as_deref() != select {
        return wrong(s, &format!("$select {:?}, expected {select:?}", s.query("$select")));
    }
    if let Some((k, _)) = s.query.iter().find(|(k, _)| !["$top", "$skip", "$select"].contains(&k.as_str())) {
        return error(400, "BadRequest", &format!("Query option '{k}' is not allowed."));
    }
    let (top, skip) = match (number(s, "$top", 10), number(s, "$skip", 0)) {
        (Ok(t), Ok(k)) if (1..=999).contains(&t) => (t, k),
        (Err(e), _) | (_, Err(e)) => return e,
        _ => return error(400, "ErrorInvalidParameter", "Invalid $top"),
    };
    let (value, next) = window(items, skip, top);
    let mut body = json!({"@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#{}", s.path.trim_start_matches("/v1.0/")), "value": value});
    if let Some(n) = next {
        let mut url = url::Url::parse(&format!("https://graph.microsoft.com{}", s.path)).unwrap();
        url.query_pairs_mut().append_pair("$top", &top.to_string()).append_pair("$skip", &n.to_string());
        if let Some(sel) = select {
            url.query_pairs_mut().append_pair("$select", sel);
        }
        body["@odata.nextLink"] = json!(url.to_string());
    }
    shape(200, body)
}

fn handle(c: &Control, tokens: &Mutex<Vec<String>>, s: &Seen) -> Shape {
    let t = c.enter(s);
    if !s.bearer().is_some_and(|b| tokens.lock().unwrap().contains(&b)) {
        return error(401, "InvalidAuthenticationToken", "Access token is empty.");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    if s.method != "GET" {
        return wrong(s, "only GET is used");
    }
    match s.path.as_str() {
        "/v1.0/me" => shape(
            200,
            json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
                "displayName": "Adele Vance", "mail": "AdeleV@contoso.com", "userPrincipalName": "AdeleV@contoso.com"
            }),
        ),
        "/v1.0/me/mailFolders" => page(
            s,
            &mail_folders(),
            Some("id,displayName,parentFolderId,childFolderCount,unreadItemCount,totalItemCount"),
        ),
        "/v1.0/me/calendars" => page(s, &calendars(), Some("id,name,color,isDefaultCalendar,canEdit,owner")),
        "/v1.0/me/joinedTeams" => {
            if !s.query.is_empty() {
                return error(400, "BadRequest", "This API does not support OData query parameters.");
            }
            shape(200, json!({"@odata.count": 2, "value": teams()}))
        }
        p => match p.strip_prefix("/v1.0/teams/").and_then(|r| r.strip_suffix("/channels")) {
            Some(TEAM) => {
                page(s, &channels(), Some("id,displayName,description,membershipType,webUrl,createdDateTime"))
            }
            Some(id) if teams().iter().any(|t| t["id"] == id) => shape(200, json!({"value": []})),
            Some(id) => error(404, "NotFound", &format!("No team found with Group Id {id}")),
            None => error(400, "BadRequest", "Resource not found for the segment."),
        },
    }
}

/// Tokens: `EwB-first` from the code, `EwB-refreshed-N` from each refresh.
fn token(tokens: &Mutex<Vec<String>>, s: &Seen) -> Shape {
    let form = s.form();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("client_id") != Some("ms-client") || get("client_secret") != Some("ms-secret") {
        return shape(
            401,
            json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    let mut t = tokens.lock().unwrap();
    let access = match (get("grant_type"), get("code"), get("refresh_token")) {
        (Some("authorization_code"), Some("M.C507_BAY.2.U"), _) if get("code_verifier").is_some() => {
            "EwB-first".to_owned()
        }
        (Some("refresh_token"), _, Some("M.C507_BAY.0.U.-refresh")) => format!("EwB-refreshed-{}", t.len()),
        _ => {
            return shape(
                400,
                json!({"error": "invalid_grant", "error_description": "AADSTS70000: The provided value for the 'code' parameter is not valid."}),
            );
        }
    };
    t.push(access.clone());
    shape(
        200,
        json!({
            "token_type": "Bearer", "scope": "User.Read Mail.ReadBasic Calendars.ReadBasic Team.ReadBasic.All Channel.ReadBasic.All",
            "expires_in": 3599, "ext_expires_in": 3599, "access_token": access, "refresh_token": "M.C507_BAY.0.U.-refresh"
        }),
    )
}

pub async fn start() -> Api {
    let control = Control::default();
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let (c, t) = (control.clone(), tokens.clone());
    let graph = Fake::start("https://graph.microsoft.com", move |s| handle(&c, &t, s)).await;
    let login = Fake::start("https://login.microsoftonline.com", move |s| match s.path.as_str() {
        "/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
            if s.query("code_challenge_method").as_deref() == Some("S256") =>
        {
            back(s, &[("code", "M.C507_BAY.2.U")])
        }
        "/contoso.onmicrosoft.com/oauth2/v2.0/token" => token(&tokens, s),
        _ => shape(400, json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."})),
    })
    .await;
    Api { fakes: vec![graph, login], control }
}
