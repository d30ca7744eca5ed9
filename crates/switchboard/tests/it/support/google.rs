//! Google as the tests meet it: the OAuth servers (authorize, token, userinfo)
//! and the Drive and Sheets APIs for resource listings, answering in Google's
//! documented shapes (files.list with nextPageToken, spreadsheets.get,
//! values:batchGetByDataFilter, google.rpc error bodies) and refusing requests
//! that are not the documented ones. Calendar's events.list and events.insert
//! (https://developers.google.com/workspace/calendar/api/v3/reference/events,
//! errors as https://developers.google.com/workspace/calendar/api/guides/errors
//! shows them) and Forms' forms.responses.list
//! (https://developers.google.com/workspace/forms/api/reference/rest/v1/forms.responses/list)
//! serve the actions.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::fakes::{Fake, Seen, Shape, shape};
use super::server::TestApp;

/// How the fake API answers right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Every token is refused (401): refresh cannot help.
    RefuseAll,
    /// The first token is refused, refreshed ones are accepted.
    RefuseFirstToken,
    /// 403: the token lacks the scope.
    NoScope,
    /// 429 with Retry-After.
    RateLimited,
    /// 503.
    Down,
}

pub struct Google {
    pub accounts: Fake,
    pub tokens: Fake,
    pub userinfo: Fake,
    pub drive: Fake,
    pub sheets: Fake,
    pub gmail: Fake,
    pub forms: Fake,
    pub mode: Arc<Mutex<Mode>>,
    /// Requests the Drive and Sheets fakes served, as `METHOD path?query`.
    pub calls: Arc<Mutex<Vec<String>>>,
    /// Calls to spreadsheets.values: (method, decoded range and verb, query, JSON body).
    pub values: Arc<Mutex<Vec<ValuesCall>>>,
    /// Calls to Calendar's events and Forms' responses, as they arrived.
    pub workspace: Arc<Mutex<Vec<ApiCall>>>,
}

/// One call to Calendar's events or Forms' responses: method, decoded path, query, content type
/// and JSON body (`Null` when empty).
#[derive(Clone, Debug)]
pub struct ApiCall {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Value,
}

impl ApiCall {
    fn of(s: &Seen) -> Self {
        Self {
            method: s.method.to_string(),
            path: percent_decode(&s.path),
            query: s.query.clone(),
            content_type: s.header("content-type").map(str::to_owned),
            body: if s.body.is_empty() { Value::Null } else { serde_json::from_slice(&s.body).unwrap_or(Value::Null) },
        }
    }
}

/// One spreadsheets.values call, decoded.
#[derive(Clone, Debug)]
pub struct ValuesCall {
    pub method: String,
    pub range: String,
    pub query: Vec<(String, String)>,
    pub body: Value,
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// spreadsheets.values get, update, append and clear: `range` is `'Title'!A1…` and must name one
/// of the spreadsheet's sheets; bodies and queries are the documented ones.
fn values_call(id: &str, rest: &str, s: &Seen, log: &Mutex<Vec<ValuesCall>>) -> Shape {
    let decoded = percent_decode(rest);
    let (range, verb) = match decoded.rsplit_once(':') {
        Some((r, v @ ("append" | "clear"))) => (r.to_owned(), Some(v)),
        _ => (decoded.clone(), None),
    };
    let body: Value =
        if s.body.is_empty() { Value::Null } else { serde_json::from_slice(&s.body).unwrap_or(Value::Null) };
    log.lock().unwrap().push(ValuesCall {
        method: s.method.to_string(),
        range: decoded.clone(),
        query: s.query.clone(),
        body: body.clone(),
    });
    let Some(sheets) = sheets_of(id) else {
        return google_error(404, "NOT_FOUND", "Requested entity was not found.", None);
    };
    let title = range.strip_prefix('\'').and_then(|r| r.split_once("'!")).map(|(t, _)| t.replace("''", "'"));
    let Some(title) = title.filter(|t| sheets.iter().any(|(_, st)| st == t)) else {
        return google_error(400, "INVALID_ARGUMENT", &format!("Unable to parse range: {range}"), None);
    };
    let q = |k: &str| s.query(k);
    let json_body = s.header("content-type") == Some("application/json");
    match (s.method.as_str(), verb) {
        ("GET", None) => {
            if q("majorDimension").as_deref() != Some("ROWS") {
                return google_error(400, "INVALID_ARGUMENT", "fake Sheets: majorDimension", None);
            }
            shape(
                200,
                json!({"range": format!("'{title}'!A1:C2"), "majorDimension": "ROWS",
                "values": [["Name", "Email", "Amount"], ["Ada Lovelace", "ada@acme.example", "1,200"]]}),
            )
        }
        ("PUT", None) => {
            let rows = body["values"].as_array().cloned().unwrap_or_default();
            if q("valueInputOption").as_deref() != Some("USER_ENTERED")
                || body["range"] != range.as_str()
                || !json_body
                || rows.is_empty()
            {
                return google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "fake Sheets: update needs valueInputOption, the range and values",
                    None,
                );
            }
            let cells: usize = rows.iter().map(|r| r.as_array().map_or(0, Vec::len)).sum();
            shape(
                200,
                json!({"spreadsheetId": id, "updatedRange": range, "updatedRows": rows.len(), "updatedColumns": rows[0].as_array().map_or(0, Vec::len), "updatedCells": cells}),
            )
        }
        ("POST", Some("append")) => {
            let rows = body["values"].as_array().cloned().unwrap_or_default();
            let documented = q("valueInputOption").as_deref() == Some("USER_ENTERED")
                && q("insertDataOption").as_deref() == Some("INSERT_ROWS")
                && body["range"] == range.as_str()
                && body["majorDimension"] == "ROWS"
                && rows.len() == 1
                && json_body;
            if !documented {
                return google_error(400, "INVALID_ARGUMENT", "fake Sheets: not the documented append", None);
            }
            let width = rows[0].as_array().map_or(0, Vec::len);
            let last = char::from(b'A' + u8::try_from(width.max(1) - 1).unwrap_or(0));
            shape(
                200,
                json!({"spreadsheetId": id, "tableRange": format!("'{title}'!A1:E3"),
                "updates": {"spreadsheetId": id, "updatedRange": format!("'{title}'!A4:{last}4"), "updatedRows": 1, "updatedColumns": width, "updatedCells": width}}),
            )
        }
        ("POST", Some("clear")) if json_body && body == json!({}) => {
            shape(200, json!({"spreadsheetId": id, "clearedRange": range}))
        }
        _ => google_error(400, "INVALID_ARGUMENT", "fake Sheets: not a documented values call", None),
    }
}

pub const SPREADSHEET_MIME: &str = "application/vnd.google-apps.spreadsheet";

/// The spreadsheets the account holds, newest first: (id, name).
pub const SPREADSHEETS: &[(&str, &str)] = &[
    ("1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", "Sales 2026"),
    ("1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_sales25", "Sales 2025"),
    ("1qA2wS3eD4rF5tG6yH7uJ8iK9oL0pZ1xC2vB3nM4budg1", "Budget"),
    ("1qA2wS3eD4rF5tG6yH7uJ8iK9oL0pZ1xC2vB3nM4budg2", "budget"),
    ("1ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210_hiring", "Hiring plan"),
    ("1MnBvCxZaSdFgHjKlPoIuYtReWq1234567890_okrs26", "OKRs 2026"),
    ("1PlOkIjUhYgTfRdEsWaQ0987654321zxcvbnm_invent", "Inventory"),
];

/// Other Drive files: (id, name, MIME type).
pub const FILES: &[(&str, &str, &str)] = &[
    ("1FolderInvoices2026aaaaaaaaaaaaaaaa", "Invoices 2026", "application/vnd.google-apps.folder"),
    ("1FolderTeamaaaaaaaaaaaaaaaaaaaaaaaa", "Team", "application/vnd.google-apps.folder"),
    ("1FolderArchiveaaaaaaaaaaaaaaaaaaaaa", "Archive", "application/vnd.google-apps.folder"),
    ("1FAIpQLSfCustomerSurveyaaaaaaaaaaaaa", "Customer survey", "application/vnd.google-apps.form"),
    ("1FAIpQLSfEventSignUpaaaaaaaaaaaaaaaa", "Event sign-up", "application/vnd.google-apps.form"),
    ("191yJH2qNolW8EG5dtnnyReportPdfaaaaa", "report.pdf", "application/pdf"),
    ("1DocNotesaaaaaaaaaaaaaaaaaaaaaaaaaa", "Notes", "application/vnd.google-apps.document"),
];

/// Every Drive file: the spreadsheets and the others.
fn drive_files() -> Vec<(&'static str, &'static str, &'static str)> {
    SPREADSHEETS.iter().map(|(id, name)| (*id, *name, SPREADSHEET_MIME)).chain(FILES.iter().copied()).collect()
}

fn google_error(code: u16, status: &str, message: &str, reason: Option<&str>) -> Shape {
    let mut body = json!({"error": {"code": code, "message": message, "status": status}});
    if let Some(r) = reason {
        body["error"]["details"] =
            json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": r, "domain": "googleapis.com"}]);
    }
    shape(code, body)
}

/// The refusal `mode` calls for, or `None` to serve the request.
fn refusal(mode: Mode, token: Option<&str>) -> Option<Shape> {
    let token = token.unwrap_or_default();
    let unauthenticated = || {
        google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            Some("ACCESS_TOKEN_EXPIRED"),
        )
    };
    if !token.starts_with("ya29.") {
        return Some(unauthenticated());
    }
    match mode {
        Mode::Normal => None,
        Mode::RefuseAll => Some(unauthenticated()),
        Mode::RefuseFirstToken if token == "ya29.first" => Some(unauthenticated()),
        Mode::RefuseFirstToken => None,
        Mode::NoScope => Some(google_error(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
            Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT"),
        )),
        Mode::RateLimited => Some(
            google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
                Some("RATE_LIMIT_EXCEEDED"),
            )
            .header("retry-after", "30"),
        ),
        Mode::Down => Some(google_error(503, "UNAVAILABLE", "The service is currently unavailable.", None)),
    }
}

/// Drive's `name contains '…'` clause, unquoted.
fn name_contains(q: &str) -> Option<String> {
    let start = q.find("name contains '")? + "name contains '".len();
    let mut out = String::new();
    let mut chars = q[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '\'' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// Which MIME type a files.list `q` selects: `mimeType = 'X'` or `mimeType != 'X'`.
fn mime_clause(q: &str) -> Option<(bool, String)> {
    let (equal, rest) = if let Some(i) = q.find("mimeType = '") {
        (true, &q[i + "mimeType = '".len()..])
    } else if let Some(i) = q.find("mimeType != '") {
        (false, &q[i + "mimeType != '".len()..])
    } else {
        return None;
    };
    rest.split_once('\'').map(|(mime, _)| (equal, mime.to_owned()))
}

fn files_list(s: &Seen) -> Shape {
    let q = s.query("q").unwrap_or_default();
    // What the catalog entry must send (files.list documents q, pageSize, pageToken, fields).
    let Some((equal, mime)) = mime_clause(&q).filter(|_| q.contains("trashed = false")) else {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "fake Drive: the query must select a MIME type and leave out trashed files",
            None,
        );
    };
    let fields = s.query("fields").unwrap_or_default();
    if !fields.contains("nextPageToken") || !fields.contains("files(") {
        return google_error(400, "INVALID_ARGUMENT", "fake Drive: fields must ask for nextPageToken and files", None);
    }
    let size: usize = s.query("pageSize").and_then(|p| p.parse().ok()).unwrap_or(100).clamp(1, 1000);
    let wanted = name_contains(&q).map(|w| w.to_lowercase());
    let matching: Vec<(&str, &str, &str)> = drive_files()
        .into_iter()
        .filter(|(_, _, m)| (*m == mime) == equal)
        .filter(|(_, name, _)| wanted.as_ref().is_none_or(|w| name.to_lowercase().contains(w)))
        .collect();
    let start: usize = match s.query("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("tok-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return google_error(400, "INVALID_ARGUMENT", "Invalid Value", None),
        },
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(size)
        .map(|(id, name, mime)| {
            let link = match *mime {
                SPREADSHEET_MIME => format!("https://docs.google.com/spreadsheets/d/{id}/edit?usp=drivesdk"),
                "application/vnd.google-apps.folder" => format!("https://drive.google.com/drive/folders/{id}"),
                "application/vnd.google-apps.form" => format!("https://docs.google.com/forms/d/{id}/edit?usp=drivesdk"),
                _ => format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
            };
            json!({"id": id, "name": name, "mimeType": mime, "webViewLink": link, "modifiedTime": "2026-11-30T09:15:00.000Z"})
        })
        .collect();
    let mut body = json!({"files": page});
    if start + size < matching.len() {
        body["nextPageToken"] = json!(format!("tok-{}", start + size));
    }
    shape(200, body)
}

fn files_get(id: &str) -> Shape {
    match drive_files().into_iter().find(|(i, _, _)| *i == id) {
        Some((id, name, mime)) => shape(
            200,
            json!({"id": id, "name": name, "mimeType": mime, "webViewLink": format!("https://docs.google.com/d/{id}/edit"), "modifiedTime": "2026-11-30T09:15:00.000Z"}),
        ),
        None => google_error(404, "NOT_FOUND", &format!("File not found: {id}."), Some("notFound")),
    }
}

/// The account's calendars: (id, summary, primary).
pub const CALENDARS: &[(&str, &str, bool)] = &[
    ("ada@acme.example", "ada@acme.example", true),
    ("c_team@group.calendar.google.com", "Team", false),
    ("c_oncall@group.calendar.google.com", "On call", false),
    ("en.uk#holiday@group.v.calendar.google.com", "Holidays in United Kingdom", false),
];

/// calendarList.list: four calendars, `maxResults` per page, nextPageToken until the last (which has nextSyncToken).
fn calendar_list(s: &Seen) -> Shape {
    let all = CALENDARS;
    let size: usize = s.query("maxResults").and_then(|p| p.parse().ok()).unwrap_or(100).clamp(1, 250);
    let start: usize =
        s.query("pageToken").and_then(|t| t.strip_prefix("cal-").and_then(|n| n.parse().ok())).unwrap_or(0);
    let items: Vec<Value> = all
        .iter()
        .skip(start)
        .take(size)
        .map(|(id, summary, primary)| {
            let mut e = json!({"kind": "calendar#calendarListEntry", "id": id, "summary": summary, "timeZone": "Europe/London", "accessRole": if *primary { "owner" } else { "reader" }});
            if *primary {
                e["primary"] = json!(true);
            }
            e
        })
        .collect();
    let mut body = json!({"kind": "calendar#calendarList", "etag": "\"p33k9v0u2ul7ig0g\"", "items": items});
    if start + size < all.len() {
        body["nextPageToken"] = json!(format!("cal-{}", start + size));
    } else {
        body["nextSyncToken"] = json!("CPDAlvWDx70CEPDAlvWDx70CGAU=");
    }
    shape(200, body)
}

/// Calendar's own error body: `errors` with domain and reason, `code` and `message`.
fn calendar_error(code: u16, domain: &str, reason: &str, message: &str, location: Option<(&str, &str)>) -> Shape {
    let mut e = json!({"domain": domain, "reason": reason, "message": message});
    if let Some((kind, at)) = location {
        e["locationType"] = json!(kind);
        e["location"] = json!(at);
    }
    shape(code, json!({"error": {"errors": [e], "code": code, "message": message}}))
}

/// The refusal `mode` calls for on Calendar's events, in Calendar's shape, or `None`.
fn calendar_refusal(mode: Mode, token: Option<&str>) -> Option<Shape> {
    let token = token.unwrap_or_default();
    let invalid =
        || calendar_error(401, "global", "authError", "Invalid Credentials", Some(("header", "Authorization")));
    if !token.starts_with("ya29.") {
        return Some(invalid());
    }
    match mode {
        Mode::Normal => None,
        Mode::RefuseAll => Some(invalid()),
        Mode::RefuseFirstToken if token == "ya29.first" => Some(invalid()),
        Mode::RefuseFirstToken => None,
        Mode::NoScope => Some(calendar_error(
            403,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
            None,
        )),
        Mode::RateLimited => Some(
            calendar_error(429, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded", None)
                .header("retry-after", "30"),
        ),
        Mode::Down => Some(calendar_error(500, "global", "backendError", "Backend Error", None)),
    }
}

fn rfc3339(v: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
}

/// The events of a calendar: (id, summary, start, end), start and end a dateTime (RFC 3339) or,
/// for all-day events, a date.
fn events_of(calendar: &str) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    match calendar {
        "ada@acme.example" => vec![
            ("4h7ttgqdl0o3tbsb2nqkhce8pl_20261201T090000Z", "Stand-up", "2026-12-01T09:00:00Z", "2026-12-01T09:15:00Z"),
            ("1l2c0m9m7e5vbbjv5pld2ia1v8", "Company offsite", "2026-12-02", "2026-12-03"),
            ("4h7ttgqdl0o3tbsb2nqkhce8pl_20261203T090000Z", "Stand-up", "2026-12-03T09:00:00Z", "2026-12-03T09:15:00Z"),
            ("6b9s1q2r3t4u5v6w7x8y9z0a1b", "Quarterly review", "2026-12-03T14:00:00Z", "2026-12-03T15:30:00Z"),
        ],
        "c_team@group.calendar.google.com" => {
            vec![("0p1o2i3u4y5t6r7e8w9q0a1s2d", "Team lunch", "2026-12-04T12:00:00Z", "2026-12-04T13:00:00Z")]
        }
        _ => Vec::new(),
    }
}

/// An EventDateTime: `{date}` for a bare date, else `{dateTime, timeZone}`.
fn event_time(v: &str) -> Value {
    if v.len() == 10 { json!({"date": v}) } else { json!({"dateTime": v, "timeZone": "Europe/London"}) }
}

/// An instant for comparisons: a date is its midnight UTC.
fn instant(v: &str) -> Option<time::OffsetDateTime> {
    rfc3339(v).or_else(|| rfc3339(&format!("{v}T00:00:00Z")))
}

/// The standard `fields` parameter (partial response): `a,b(c,d)` keeps those members, nested
/// selections applied to each element of a list.
fn partial(value: &Value, fields: &str) -> Value {
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let bytes = fields.as_bytes();
    for i in 0..=bytes.len() {
        let c = bytes.get(i).copied();
        match c {
            Some(b'(') => depth += 1,
            Some(b')') => depth = depth.saturating_sub(1),
            Some(b',') | None if depth == 0 => {
                let part = fields[start..i].trim();
                match part.split_once('(') {
                    Some((name, rest)) => {
                        wanted.push((name.to_owned(), Some(rest.strip_suffix(')').unwrap_or(rest).to_owned())));
                    }
                    None if !part.is_empty() => wanted.push((part.to_owned(), None)),
                    None => {}
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|i| partial(i, fields)).collect()),
        Value::Object(map) => Value::Object(
            wanted
                .iter()
                .filter_map(|(k, sub)| {
                    let v = map.get(k)?;
                    Some((k.clone(), sub.as_deref().map_or_else(|| v.clone(), |f| partial(v, f))))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// events.list: the documented query only (orderBy=startTime needs singleEvents=true; timeMin and
/// timeMax RFC 3339 with an offset, timeMin before timeMax), events overlapping the window in start
/// order, `q` over the summary, `maxResults` per page (at most 2500), `fields` honoured.
fn events_list(calendar: &str, s: &Seen) -> Shape {
    const KNOWN: &[&str] = &["singleEvents", "orderBy", "timeMin", "timeMax", "q", "maxResults", "pageToken", "fields"];
    if let Some((k, _)) = s.query.iter().find(|(k, _)| !KNOWN.contains(&k.as_str())) {
        return calendar_error(
            400,
            "global",
            "invalidParameter",
            &format!("fake Calendar: unexpected parameter {k}"),
            Some(("parameter", k)),
        );
    }
    let q = |k: &str| s.query(k);
    if q("orderBy").is_some_and(|o| o != "startTime" && o != "updated")
        || (q("orderBy").as_deref() == Some("startTime") && q("singleEvents").as_deref() != Some("true"))
    {
        return calendar_error(
            400,
            "global",
            "badRequest",
            "The requested ordering is not available for the particular query.",
            Some(("parameter", "orderBy")),
        );
    }
    let (Some(min), Some(max)) = (q("timeMin").as_deref().and_then(rfc3339), q("timeMax").as_deref().and_then(rfc3339))
    else {
        return calendar_error(
            400,
            "global",
            "invalid",
            "fake Calendar: timeMin and timeMax must be RFC 3339 date-times with an offset",
            Some(("parameter", "timeMin")),
        );
    };
    if max <= min {
        return calendar_error(
            400,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
            Some(("parameter", "timeMax")),
        );
    }
    let size: usize = match q("maxResults").map(|m| m.parse::<usize>()) {
        None => 250,
        Some(Ok(n)) if (1..=2500).contains(&n) => n,
        Some(_) => {
            return calendar_error(
                400,
                "global",
                "invalid",
                "Invalid value for: maxResults",
                Some(("parameter", "maxResults")),
            );
        }
    };
    let wanted = q("q").map(|w| w.to_lowercase());
    let mut matching: Vec<_> = events_of(calendar)
        .into_iter()
        .filter(|(_, _, start, end)| instant(end).is_some_and(|e| e > min) && instant(start).is_some_and(|st| st < max))
        .filter(|(_, summary, _, _)| wanted.as_ref().is_none_or(|w| summary.to_lowercase().contains(w)))
        .collect();
    matching.sort_by_key(|(_, _, start, _)| instant(start));
    let offset: usize = match q("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("ev-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return calendar_error(
                    400,
                    "global",
                    "invalid",
                    "Invalid page token value.",
                    Some(("parameter", "pageToken")),
                );
            }
        },
    };
    let items: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(size)
        .map(|(id, summary, start, end)| {
            json!({"kind": "calendar#event", "etag": "\"3468571927402000\"", "id": id, "status": "confirmed",
                "htmlLink": format!("https://www.google.com/calendar/event?eid={id}"), "created": "2026-11-20T10:00:00.000Z",
                "updated": "2026-11-20T10:00:00.000Z", "summary": summary, "creator": {"email": "ada@acme.example", "self": true},
                "organizer": {"email": calendar, "self": true}, "start": event_time(start), "end": event_time(end),
                "iCalUID": format!("{id}@google.com"), "sequence": 0, "eventType": "default"})
        })
        .collect();
    let summary = CALENDARS.iter().find(|(id, _, _)| *id == calendar).map_or("", |(_, s, _)| *s);
    let mut body = json!({"kind": "calendar#events", "etag": "\"p33k9v0u2ul7ig0g\"", "summary": summary, "updated": "2026-11-20T10:00:00.000Z",
        "timeZone": "Europe/London", "accessRole": "owner", "defaultReminders": [], "items": items});
    if offset + size < matching.len() {
        body["nextPageToken"] = json!(format!("ev-{}", offset + size));
    } else {
        body["nextSyncToken"] = json!("CPDAlvWDx70CEPDAlvWDx70CGAU=");
    }
    match q("fields") {
        Some(f) => shape(200, partial(&body, &f)),
        None => shape(200, body),
    }
}

/// One EventDateTime of an events.insert body: `{date}` or `{dateTime[, timeZone]}` (dateTime
/// RFC 3339 with an offset here), nothing else.
fn event_time_in(v: &Value) -> Result<(bool, time::OffsetDateTime), String> {
    let Some(obj) = v.as_object() else { return Err("must be an object".into()) };
    if let Some(k) = obj.keys().find(|k| !["date", "dateTime", "timeZone"].contains(&k.as_str())) {
        return Err(format!("unknown member {k}"));
    }
    match (obj.get("date").and_then(Value::as_str), obj.get("dateTime").and_then(Value::as_str)) {
        (Some(d), None) if d.len() == 10 => instant(d).map(|t| (true, t)).ok_or_else(|| format!("bad date {d}")),
        (None, Some(dt)) => rfc3339(dt).map(|t| (false, t)).ok_or_else(|| format!("bad dateTime {dt}")),
        _ => Err("needs date or dateTime, not both".into()),
    }
}

/// events.insert: a JSON Events resource with start and end (required), the writable members this
/// catalog sends, `sendUpdates` the only query; answers the created event.
fn events_insert(calendar: &str, s: &Seen, n: usize) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return calendar_error(
            400,
            "global",
            "parseError",
            "This API does not support parsing form-encoded input.",
            None,
        );
    }
    if let Some((k, v)) =
        s.query.iter().find(|(k, v)| k != "sendUpdates" || !["all", "externalOnly", "none"].contains(&v.as_str()))
    {
        return calendar_error(
            400,
            "global",
            "invalidParameter",
            &format!("fake Calendar: unexpected parameter {k}={v}"),
            Some(("parameter", k)),
        );
    }
    let body: Value = serde_json::from_slice(&s.body).unwrap_or(Value::Null);
    let Some(obj) = body.as_object() else {
        return calendar_error(400, "global", "parseError", "Parse Error", None);
    };
    const WRITABLE: &[&str] = &["summary", "description", "location", "start", "end", "attendees"];
    if let Some(k) = obj.keys().find(|k| !WRITABLE.contains(&k.as_str())) {
        return calendar_error(400, "global", "invalid", &format!("fake Calendar: unexpected member {k}"), None);
    }
    let (start, end) = match (obj.get("start").map(event_time_in), obj.get("end").map(event_time_in)) {
        (Some(Ok(st)), Some(Ok(e))) => (st, e),
        (None, _) | (_, None) => return calendar_error(400, "global", "required", "Missing end time.", None),
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            return calendar_error(400, "global", "invalid", &format!("fake Calendar: {e}"), None);
        }
    };
    if start.0 != end.0 {
        return calendar_error(
            400,
            "global",
            "invalid",
            "fake Calendar: start and end must both be date or both dateTime",
            None,
        );
    }
    if end.1 <= start.1 {
        return calendar_error(400, "calendar", "timeRangeEmpty", "The specified time range is empty.", None);
    }
    let mut attendees = Vec::new();
    for a in obj.get("attendees").and_then(Value::as_array).into_iter().flatten() {
        let ok = a.as_object().is_some_and(|m| {
            m.keys().all(|k| ["email", "displayName", "optional"].contains(&k.as_str()))
                && m.get("email").and_then(Value::as_str).is_some_and(|e| e.contains('@'))
        });
        if !ok {
            return calendar_error(400, "global", "invalid", "fake Calendar: each attendee needs an email", None);
        }
        let mut a = a.clone();
        a["responseStatus"] = json!("needsAction");
        attendees.push(a);
    }
    let id = format!("7cbh8rpc10lrc0ckih9tafss{n:02}");
    let mut event = json!({"kind": "calendar#event", "etag": "\"3468571927402000\"", "id": id, "status": "confirmed",
        "htmlLink": format!("https://www.google.com/calendar/event?eid={id}"), "created": "2026-11-30T09:15:00.000Z",
        "updated": "2026-11-30T09:15:00.000Z", "creator": {"email": "ada@acme.example", "self": true},
        "organizer": {"email": calendar, "self": true}, "start": obj["start"], "end": obj["end"],
        "iCalUID": format!("{id}@google.com"), "sequence": 0, "reminders": {"useDefault": true}, "eventType": "default"});
    for k in ["summary", "description", "location"] {
        if let Some(v) = obj.get(k) {
            event[k] = v.clone();
        }
    }
    if !attendees.is_empty() {
        event["attendees"] = Value::Array(attendees);
    }
    shape(200, event)
}

/// A form's responses: (responseId, lastSubmittedTime, respondentEmail, answers to the questions
/// 4f5e6d7c, 7a8b9c0d, 0e1f2a3b of the Customer survey).
fn responses_of(form: &str) -> Option<Vec<Value>> {
    let answer = |q: &str, v: &str| json!({"questionId": q, "textAnswers": {"answers": [{"value": v}]}});
    let rows = [
        ("ACYDBNj_first", "2026-11-28T10:01:02.345678Z", "ada@acme.example", "Ada Lovelace", "Friend", "Lovely"),
        ("ACYDBNj_second", "2026-11-30T16:20:00.5Z", "grace@acme.example", "Grace Hopper", "Web", "More forms, please"),
        ("ACYDBNj_third", "2026-12-01T08:00:00Z", "alan@acme.example", "Alan Turing", "Web", ""),
    ];
    if form == FILES[3].0 {
        Some(
            rows.iter()
                .map(|(id, at, email, name, heard, comment)| {
                    let mut answers = json!({"4f5e6d7c": answer("4f5e6d7c", name), "7a8b9c0d": answer("7a8b9c0d", heard)});
                    if !comment.is_empty() {
                        answers["0e1f2a3b"] = answer("0e1f2a3b", comment);
                    }
                    json!({"responseId": id, "createTime": at, "lastSubmittedTime": at, "respondentEmail": email, "answers": answers})
                })
                .collect(),
        )
    } else if form == FILES[4].0 {
        Some(Vec::new())
    } else {
        None
    }
}

/// forms.responses.list: `filter` is `timestamp > T` or `timestamp >= T` (T RFC 3339 UTC, "Zulu"),
/// `pageSize` (at most 5000 by default), `pageToken` only with the filter it was given for; an
/// empty list answers `{}`.
fn responses_list(form: &str, s: &Seen) -> Shape {
    if let Some((k, _)) = s.query.iter().find(|(k, _)| !["filter", "pageSize", "pageToken"].contains(&k.as_str())) {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            &format!("Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter."),
            None,
        );
    }
    let filter = s.query("filter");
    let after = match filter.as_deref() {
        None => None,
        Some(f) => {
            let parsed = f
                .strip_prefix("timestamp >= ")
                .map(|t| (true, t))
                .or_else(|| f.strip_prefix("timestamp > ").map(|t| (false, t)))
                .and_then(|(inclusive, t)| t.ends_with('Z').then(|| rfc3339(t)).flatten().map(|t| (inclusive, t)));
            match parsed {
                Some(p) => Some(p),
                None => return google_error(400, "INVALID_ARGUMENT", &format!("Invalid filter: {f}"), None),
            }
        }
    };
    let Some(all) = responses_of(form) else {
        return google_error(404, "NOT_FOUND", "Requested entity was not found.", None);
    };
    let size: usize = match s.query("pageSize").map(|p| p.parse::<usize>()) {
        None | Some(Ok(0)) => 5000,
        Some(Ok(n)) => n.min(5000),
        Some(Err(_)) => {
            return google_error(400, "INVALID_ARGUMENT", "Invalid value at 'page_size' (TYPE_INT32)", None);
        }
    };
    // A page token carries the filter it was issued for, as Google requires the same one back.
    let token_filter = filter.clone().unwrap_or_default();
    let offset: usize = match s.query("pageToken") {
        None => 0,
        Some(t) => match t
            .split_once('|')
            .filter(|(_, f)| *f == token_filter)
            .and_then(|(n, _)| n.strip_prefix("resp-")?.parse().ok())
        {
            Some(n) => n,
            None => {
                return google_error(400, "INVALID_ARGUMENT", "The page token is not valid for this request.", None);
            }
        },
    };
    let matching: Vec<Value> = all
        .into_iter()
        .filter(|r| {
            let at = r["lastSubmittedTime"].as_str().and_then(rfc3339);
            match (after, at) {
                (None, _) => true,
                (Some((inclusive, t)), Some(at)) => {
                    if inclusive {
                        at >= t
                    } else {
                        at > t
                    }
                }
                (Some(_), None) => false,
            }
        })
        .collect();
    let page: Vec<Value> = matching.iter().skip(offset).take(size).cloned().collect();
    let mut body = json!({});
    if !page.is_empty() {
        body["responses"] = Value::Array(page);
    }
    if offset + size < matching.len() {
        body["nextPageToken"] = json!(format!("resp-{}|{token_filter}", offset + size));
    }
    shape(200, body)
}

/// The sheets of a spreadsheet: Sales 2026 has two, every other one a single Sheet1.
/// files.create as a multipart upload (https://developers.google.com/workspace/drive/api/guides/manage-uploads#multipart):
/// `uploadType=multipart`, a `multipart/related` body of exactly two parts — the metadata as JSON,
/// then the media with its Content-Type — each parsed here as Drive would. Logged as an ApiCall
/// whose body is `{"metadata", "media_type", "media_sha256", "media_size"}`.
fn upload(s: &Seen, log: &Mutex<Vec<ApiCall>>) -> Shape {
    use sha2::Digest as _;
    if s.method != "POST" || s.query("uploadType").as_deref() != Some("multipart") {
        return google_error(400, "INVALID_ARGUMENT", "fake Drive: uploads here are POST ?uploadType=multipart", None);
    }
    let Some(boundary) = s.header("content-type").and_then(|c| c.strip_prefix("multipart/related; boundary=")) else {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid multipart request: the Content-Type must be multipart/related with a boundary",
            None,
        );
    };
    let delimiter = format!("--{boundary}\r\n");
    let body = &s.body;
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
    };
    let close = format!("\r\n--{boundary}--\r\n");
    let (Some(0), true) = (find(body, delimiter.as_bytes(), 0), body.ends_with(close.as_bytes())) else {
        return google_error(400, "INVALID_ARGUMENT", "Invalid multipart request with 0 mime parts.", None);
    };
    let inner = &body[delimiter.len()..body.len() - close.len()];
    let separator = format!("\r\n--{boundary}\r\n");
    let Some(split) = find(inner, separator.as_bytes(), 0) else {
        return google_error(400, "INVALID_ARGUMENT", "Invalid multipart request with 1 mime parts.", None);
    };
    let (first, second) = (&inner[..split], &inner[split + separator.len()..]);
    let part = |p: &[u8]| -> Option<(String, Vec<u8>)> {
        let at = find(p, b"\r\n\r\n", 0)?;
        let head = String::from_utf8(p[..at].to_vec()).ok()?;
        let kind = head.strip_prefix("Content-Type: ")?.to_owned();
        Some((kind, p[at + 4..].to_vec()))
    };
    let (Some((meta_type, meta)), Some((media_type, media))) = (part(first), part(second)) else {
        return google_error(400, "INVALID_ARGUMENT", "Invalid multipart request: a part has no Content-Type", None);
    };
    let Ok(metadata) = serde_json::from_slice::<Value>(&meta) else {
        return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received in the metadata part.", None);
    };
    if !meta_type.starts_with("application/json") {
        return google_error(400, "INVALID_ARGUMENT", "The metadata part must be application/json", None);
    }
    log.lock().unwrap().push(ApiCall {
        method: s.method.to_string(),
        path: s.path.clone(),
        query: s.query.clone(),
        content_type: s.header("content-type").map(str::to_owned),
        body: json!({"metadata": metadata, "media_type": media_type, "media_sha256": hex::encode(sha2::Sha256::digest(&media)), "media_size": media.len()}),
    });
    let parents = metadata["parents"].as_array().cloned().unwrap_or_default();
    if parents
        .iter()
        .any(|p| !drive_files().iter().any(|(id, _, mime)| p == id && *mime == "application/vnd.google-apps.folder"))
    {
        return google_error(
            404,
            "NOT_FOUND",
            &format!("File not found: {}.", parents[0].as_str().unwrap_or_default()),
            Some("notFound"),
        );
    }
    shape(
        200,
        json!({"id": "1UploadedReportaaaaaaaaaaaaaaaaaaa", "name": metadata["name"], "mimeType": media_type,
        "webViewLink": "https://drive.google.com/file/d/1UploadedReportaaaaaaaaaaaaaaaaaaa/view?usp=drivesdk",
        "size": media.len().to_string(), "parents": if parents.is_empty() { json!(["0AJrootFolderaaaa"]) } else { json!(parents) }}),
    )
}

/// users.messages.send (https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.messages/send):
/// a JSON Message whose `raw` is the RFC 2822 message in base64url; it must name its recipients.
/// Answers the sent Message (id, threadId, labelIds SENT).
fn messages_send(s: &Seen) -> Shape {
    use base64::Engine as _;
    if s.header("content-type") != Some("application/json") {
        return google_error(400, "INVALID_ARGUMENT", "fake Gmail: send the Message as JSON", None);
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", None);
    };
    if body.keys().any(|k| k != "raw") {
        return google_error(400, "INVALID_ARGUMENT", "fake Gmail: only raw is sent", None);
    }
    let raw = body["raw"].as_str().unwrap_or_default();
    let Ok(mime) = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
    else {
        return google_error(400, "INVALID_ARGUMENT", "Invalid value for ByteString", None);
    };
    let text = String::from_utf8_lossy(&mime);
    let headers = text.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase();
    if !headers.contains("\r\nto: ") && !headers.starts_with("to: ") {
        return google_error(400, "FAILED_PRECONDITION", "Recipient address required", Some("failedPrecondition"));
    }
    if headers.contains("@refused.example") {
        return google_error(400, "INVALID_ARGUMENT", "Invalid To header", Some("invalidArgument"));
    }
    shape(200, json!({"id": "18c9d2a5b7e3f001", "threadId": "18c9d2a5b7e3f001", "labelIds": ["SENT"]}))
}

fn sheets_of(id: &str) -> Option<Vec<(i64, &'static str)>> {
    SPREADSHEETS.iter().find(|(i, _)| *i == id)?;
    Some(if id == SPREADSHEETS[0].0 { vec![(0, "Sheet1"), (1_846_372_910, "Q1 leads")] } else { vec![(0, "Sheet1")] })
}

fn spreadsheets_get(id: &str, s: &Seen) -> Shape {
    if !s.query("fields").unwrap_or_default().starts_with("sheets.properties") {
        return google_error(400, "INVALID_ARGUMENT", "fake Sheets: ask only for sheets.properties", None);
    }
    match sheets_of(id) {
        Some(sheets) => shape(
            200,
            json!({"sheets": sheets.iter().enumerate().map(|(i, (sid, title))| json!({"properties": {"sheetId": sid, "title": title, "index": i, "gridProperties": {"rowCount": 1000, "columnCount": 26}}})).collect::<Vec<_>>()}),
        ),
        None => google_error(404, "NOT_FOUND", "Requested entity was not found.", None),
    }
}

fn header_row(id: &str, s: &Seen) -> Shape {
    let body: Value = serde_json::from_slice(&s.body).unwrap_or(Value::Null);
    let range = &body["dataFilters"][0]["gridRange"];
    let sheet_id: Option<i64> =
        range["sheetId"].as_i64().or_else(|| range["sheetId"].as_str().and_then(|v| v.parse().ok()));
    if range["startRowIndex"] != 0 || range["endRowIndex"] != 1 || s.header("content-type") != Some("application/json")
    {
        return google_error(400, "INVALID_ARGUMENT", "fake Sheets: ask for the first row by gridRange", None);
    }
    let Some(sheets) = sheets_of(id) else {
        return google_error(404, "NOT_FOUND", "Requested entity was not found.", None);
    };
    let Some((_, title)) = sheets.iter().find(|(sid, _)| Some(*sid) == sheet_id) else {
        return google_error(400, "INVALID_ARGUMENT", "No grid with id: 99", None);
    };
    let row =
        if *title == "Sheet1" { json!(["Name", "Email", "Amount", "", "Notes"]) } else { json!(["Lead", "Company"]) };
    shape(
        200,
        json!({"spreadsheetId": id, "valueRanges": [{"valueRange": {"range": format!("'{title}'!A1:Z1"), "majorDimension": "ROWS", "values": [row]}, "dataFilters": body["dataFilters"]}]}),
    )
}

impl Google {
    pub async fn start() -> Self {
        let mode = Arc::new(Mutex::new(Mode::Normal));
        let calls: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        let asked_scopes: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
        let asked = asked_scopes.clone();
        let accounts = Fake::start("https://accounts.google.com", move |s| {
            *asked.lock().unwrap() = s.query("scope").unwrap_or_default();
            let mut target = url::Url::parse(&s.query("redirect_uri").unwrap()).unwrap();
            target
                .query_pairs_mut()
                .append_pair("state", &s.query("state").unwrap())
                .append_pair("code", "4/0AeaYSHB-code")
                .append_pair("scope", &s.query("scope").unwrap_or_default())
                .append_pair("iss", "https://accounts.google.com");
            shape(302, json!({})).header("location", target.to_string())
        })
        .await;
        let refreshes = Arc::new(Mutex::new(0u32));
        let tokens = Fake::start("https://oauth2.googleapis.com", move |s| {
            let form: Vec<(String, String)> = s.form();
            let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            match get("grant_type").as_deref() {
                // Google answers with the scopes granted: those the authorization asked for.
                Some("authorization_code") => shape(200, json!({
                    "access_token": "ya29.first", "expires_in": 3599, "refresh_token": "1//0g-refresh", "token_type": "Bearer",
                    "scope": asked_scopes.lock().unwrap().clone()
                })),
                Some("refresh_token") => {
                    let mut n = refreshes.lock().unwrap();
                    *n += 1;
                    shape(200, json!({"access_token": format!("ya29.refreshed-{n}"), "expires_in": 3599, "token_type": "Bearer"}))
                }
                _ => shape(400, json!({"error": "invalid_grant"})),
            }
        })
        .await;
        let userinfo = Fake::start("https://openidconnect.googleapis.com", |_| {
            shape(200, json!({"sub": "110169484474386276334", "name": "Ada Lovelace", "email": "ada@acme.example", "email_verified": true}))
        })
        .await;
        let workspace: Arc<Mutex<Vec<ApiCall>>> = Arc::default();
        let (m, c, w) = (mode.clone(), calls.clone(), workspace.clone());
        let drive = Fake::start("https://www.googleapis.com", move |s| {
            c.lock().unwrap().push(format!("{} {}?{}", s.method, s.path, s.query("q").unwrap_or_default()));
            if s.path == "/upload/drive/v3/files" {
                if let Some(r) = refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                    return r;
                }
                return upload(s, &w);
            }
            // events.list and events.insert: /calendar/v3/calendars/{calendarId}/events.
            if let Some(calendar) =
                s.path.strip_prefix("/calendar/v3/calendars/").and_then(|r| r.strip_suffix("/events"))
            {
                let n = {
                    let mut log = w.lock().unwrap();
                    log.push(ApiCall::of(s));
                    log.len()
                };
                if let Some(r) = calendar_refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                    return r;
                }
                let calendar = percent_decode(calendar);
                if !CALENDARS.iter().any(|(id, _, _)| *id == calendar) {
                    return calendar_error(404, "global", "notFound", "Not Found", None);
                }
                return match s.method.as_str() {
                    "GET" => events_list(&calendar, s),
                    "POST" => events_insert(&calendar, s, n),
                    _ => calendar_error(
                        405,
                        "global",
                        "httpMethodNotAllowed",
                        "fake Calendar: not a documented method",
                        None,
                    ),
                };
            }
            if let Some(r) = refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                return r;
            }
            if s.path == "/calendar/v3/users/me/calendarList" && s.method == "GET" {
                return calendar_list(s);
            }
            match s.path.strip_prefix("/drive/v3/files") {
                Some("") if s.method == "GET" => files_list(s),
                Some(rest) if s.method == "GET" && rest.starts_with('/') => files_get(&rest[1..]),
                _ => shape(404, json!({"error": {"code": 404, "message": "fake Drive: not a documented endpoint"}})),
            }
        })
        .await;
        let values: Arc<Mutex<Vec<ValuesCall>>> = Arc::default();
        let (m, c, v) = (mode.clone(), calls.clone(), values.clone());
        let sheets = Fake::start("https://sheets.googleapis.com", move |s| {
            c.lock().unwrap().push(format!("{} {}", s.method, s.path));
            if let Some(r) = refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                return r;
            }
            let Some(rest) = s.path.strip_prefix("/v4/spreadsheets/") else {
                return shape(
                    404,
                    json!({"error": {"code": 404, "message": "fake Sheets: not a documented endpoint"}}),
                );
            };
            match rest.split_once('/') {
                None if s.method == "GET" => spreadsheets_get(rest, s),
                Some((id, "values:batchGetByDataFilter")) if s.method == "POST" => header_row(id, s),
                Some((id, values)) if values.starts_with("values/") => values_call(id, &values[7..], s, &v),
                _ => shape(404, json!({"error": {"code": 404, "message": "fake Sheets: not a documented endpoint"}})),
            }
        })
        .await;
        let (m, c, w) = (mode.clone(), calls.clone(), workspace.clone());
        let gmail = Fake::start("https://gmail.googleapis.com", move |s| {
            c.lock().unwrap().push(format!("{} {}", s.method, s.path));
            if s.path == "/gmail/v1/users/me/messages/send" {
                w.lock().unwrap().push(ApiCall::of(s));
            }
            if let Some(r) = refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                return r;
            }
            match (s.method.as_str(), s.path.as_str()) {
                // users.getProfile: the connection's identity.
                ("GET", "/gmail/v1/users/me/profile") => shape(200, json!({
                    "emailAddress": "ada@acme.example", "messagesTotal": 1204, "threadsTotal": 877, "historyId": "991234"
                })),
                // users.labels.list: every label in one answer, no paging.
                ("POST", "/gmail/v1/users/me/messages/send") => messages_send(s),
                ("GET", "/gmail/v1/users/me/labels") => shape(200, json!({"labels": [
                    {"id": "INBOX", "name": "INBOX", "messageListVisibility": "hide", "labelListVisibility": "labelShow", "type": "system"},
                    {"id": "Label_1234567890123456789", "name": "Invoices", "messageListVisibility": "show", "labelListVisibility": "labelShow", "type": "user"},
                    {"id": "Label_2", "name": "Projects/Alpha", "type": "user"}
                ]})),
                _ => shape(404, json!({"error": {"code": 404, "message": "fake Gmail: not a documented endpoint"}})),
            }
        })
        .await;
        let (m, c, w) = (mode.clone(), calls.clone(), workspace.clone());
        let forms = Fake::start("https://forms.googleapis.com", move |s| {
            c.lock().unwrap().push(format!("{} {}", s.method, s.path));
            let responses = s.path.strip_prefix("/v1/forms/").and_then(|r| r.strip_suffix("/responses"));
            if responses.is_some() {
                w.lock().unwrap().push(ApiCall::of(s));
            }
            if let Some(r) = refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                return r;
            }
            if let Some(form) = responses {
                return if s.method == "GET" && s.body.is_empty() {
                    responses_list(form, s)
                } else {
                    google_error(400, "INVALID_ARGUMENT", "fake Forms: responses are listed with GET and no body", None)
                };
            }
            match s.path.strip_prefix("/v1/forms/") {
                Some(id) if s.method == "GET" && id == FILES[3].0 => shape(200, json!({
                    "formId": id, "info": {"title": "Customer survey", "documentTitle": "Customer survey"}, "revisionId": "00000042",
                    "responderUri": "https://docs.google.com/forms/d/e/1FAIpQLSe_responder/viewform",
                    "items": [
                        {"itemId": "3a1b2c3d", "title": "Your name", "questionItem": {"question": {"questionId": "4f5e6d7c", "required": true, "textQuestion": {}}}},
                        {"itemId": "5b6c7d8e", "title": "About you", "pageBreakItem": {}},
                        {"itemId": "6c7d8e9f", "title": "How did you hear about us?", "questionItem": {"question": {"questionId": "7a8b9c0d", "choiceQuestion": {"type": "RADIO", "options": [{"value": "Friend"}, {"value": "Web"}]}}}},
                        {"itemId": "7d8e9f0a", "title": "Comments", "questionItem": {"question": {"questionId": "0e1f2a3b", "textQuestion": {"paragraph": true}}}}
                    ]
                })),
                Some(_) if s.method == "GET" => google_error(404, "NOT_FOUND", "Requested entity was not found.", None),
                _ => shape(404, json!({"error": {"code": 404, "message": "fake Forms: not a documented endpoint"}})),
            }
        })
        .await;
        Self { accounts, tokens, userinfo, drive, sheets, gmail, forms, mode, calls, values, workspace }
    }

    /// The `SWITCHBOARD_OUTBOUND_OVERRIDES` for every Google fake.
    pub fn overrides(&self) -> String {
        super::fakes::overrides(&[
            &self.accounts,
            &self.tokens,
            &self.userinfo,
            &self.drive,
            &self.sheets,
            &self.gmail,
            &self.forms,
        ])
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// How many API calls reached Drive and Sheets so far.
    pub fn api_calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// Connects a Google Sheets account through the OAuth flow; the connection's id.
    pub async fn connect(&self, app: &TestApp, extra: Value) -> String {
        if app.get("/v1/integrations/google").await.status == 404 {
            let a = app.create_integration("google", "google-sheets", "google-secret").await;
            assert_eq!(a.status, 201, "{}", a.body);
        }
        let mut body = json!({"integration": "google"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        super::apis::connect_oauth(app, body).await
    }
}
