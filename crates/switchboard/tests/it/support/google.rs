//! Google as the tests meet it: the OAuth servers (authorize, token, userinfo)
//! and the Drive and Sheets APIs for resource listings, answering in Google's
//! documented shapes (files.list with nextPageToken, spreadsheets.get,
//! values:batchGetByDataFilter, google.rpc error bodies) and refusing requests
//! that are not the documented ones.

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

/// calendarList.list: four calendars, `maxResults` per page, nextPageToken until the last (which has nextSyncToken).
fn calendar_list(s: &Seen) -> Shape {
    let all = [
        ("ada@acme.example", "ada@acme.example", true),
        ("c_team@group.calendar.google.com", "Team", false),
        ("c_oncall@group.calendar.google.com", "On call", false),
        ("en.uk#holiday@group.v.calendar.google.com", "Holidays in United Kingdom", false),
    ];
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

/// The sheets of a spreadsheet: Sales 2026 has two, every other one a single Sheet1.
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
        let (m, c) = (mode.clone(), calls.clone());
        let drive = Fake::start("https://www.googleapis.com", move |s| {
            c.lock().unwrap().push(format!("{} {}?{}", s.method, s.path, s.query("q").unwrap_or_default()));
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
        let (m, c) = (mode.clone(), calls.clone());
        let gmail = Fake::start("https://gmail.googleapis.com", move |s| {
            c.lock().unwrap().push(format!("{} {}", s.method, s.path));
            if let Some(r) = refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                return r;
            }
            match (s.method.as_str(), s.path.as_str()) {
                // users.getProfile: the connection's identity.
                ("GET", "/gmail/v1/users/me/profile") => shape(200, json!({
                    "emailAddress": "ada@acme.example", "messagesTotal": 1204, "threadsTotal": 877, "historyId": "991234"
                })),
                // users.labels.list: every label in one answer, no paging.
                ("GET", "/gmail/v1/users/me/labels") => shape(200, json!({"labels": [
                    {"id": "INBOX", "name": "INBOX", "messageListVisibility": "hide", "labelListVisibility": "labelShow", "type": "system"},
                    {"id": "Label_1234567890123456789", "name": "Invoices", "messageListVisibility": "show", "labelListVisibility": "labelShow", "type": "user"},
                    {"id": "Label_2", "name": "Projects/Alpha", "type": "user"}
                ]})),
                _ => shape(404, json!({"error": {"code": 404, "message": "fake Gmail: not a documented endpoint"}})),
            }
        })
        .await;
        let (m, c) = (mode.clone(), calls.clone());
        let forms = Fake::start("https://forms.googleapis.com", move |s| {
            c.lock().unwrap().push(format!("{} {}", s.method, s.path));
            if let Some(r) = refusal(*m.lock().unwrap(), s.bearer().as_deref()) {
                return r;
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
        Self { accounts, tokens, userinfo, drive, sheets, gmail, forms, mode, calls, values }
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
