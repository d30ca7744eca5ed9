//! Microsoft Graph v1.0 (https://learn.microsoft.com/en-us/graph/api/user-list-mailfolders,
//! user-list-calendars, user-list-joinedteams, channel-list; paging:
//! https://learn.microsoft.com/en-us/graph/paging): a bearer token, `$top` and `$select`, the next
//! page as the full `@odata.nextLink` URL (here with `$skip`), errors as `{"error": {"code",
//! "message"}}`, 429 with Retry-After; and the identity platform's authorize and token endpoints
//! under the tenant, refresh included. For the actions: a calendar's calendarView
//! (calendar-list-calendarview: startDateTime and endDateTime, `Prefer: outlook.timezone`), event
//! creation in a calendar (calendar-post-events, 201 with the event) and a channel message
//! (channel-post-messages, 201 with the chatMessage).

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

/// A path segment, percent-decoded (calendar ids end in `=`, sent as `%3D`).
fn decoded(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Time zones the fake knows, Windows and IANA names, with their offset in December (hours).
const ZONES: &[(&str, i8)] = &[
    ("UTC", 0),
    ("GMT Standard Time", 0),
    ("Europe/London", 0),
    ("W. Europe Standard Time", 1),
    ("Europe/Berlin", 1),
    ("Pacific Standard Time", -8),
    ("America/Los_Angeles", -8),
];

fn zone_offset(name: &str) -> Option<i8> {
    ZONES.iter().find(|(z, _)| *z == name).map(|(_, o)| *o)
}

fn unsupported_zone(name: &str) -> Shape {
    error(
        400,
        "TimeZoneNotSupportedException",
        &format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."),
    )
}

fn instant(v: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
}

/// The events of the default calendar ("Calendar"), in UTC: (id, subject, start, end, location).
fn events() -> Vec<(&'static str, &'static str, &'static str, &'static str, &'static str)> {
    vec![
        ("AAMkAGI2TGuLAAA0=-ev1", "Weekly sync", "2026-12-01T09:00:00Z", "2026-12-01T09:30:00Z", "Teams"),
        ("AAMkAGI2TGuLAAA0=-ev2", "Budget review", "2026-12-01T13:00:00Z", "2026-12-01T14:00:00Z", "Room 4"),
        ("AAMkAGI2TGuLAAA0=-ev3", "Weekly sync", "2026-12-08T09:00:00Z", "2026-12-08T09:30:00Z", "Teams"),
    ]
}

/// A dateTimeTimeZone in `zone`: the local time, seven decimals, no offset.
fn in_zone(at: &str, zone: &str, offset: i8) -> Value {
    let local = instant(at).unwrap().to_offset(time::UtcOffset::from_hms(offset, 0, 0).unwrap());
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].0000000");
    json!({"dateTime": local.format(&format).unwrap(), "timeZone": zone})
}

/// calendarView: startDateTime and endDateTime (ISO 8601) required, `$top` 1 to 1000, `$select`
/// and the nextLink's `$skip`; `Prefer: outlook.timezone="…"` sets the zone of start and end
/// (UTC without it).
fn calendar_view(calendar: &str, s: &Seen) -> Shape {
    if let Some((k, _)) = s
        .query
        .iter()
        .find(|(k, _)| !["startDateTime", "endDateTime", "$top", "$skip", "$select"].contains(&k.as_str()))
    {
        return error(400, "BadRequest", &format!("Query option '{k}' is not allowed."));
    }
    let (Some(start), Some(end)) =
        (s.query("startDateTime").as_deref().and_then(instant), s.query("endDateTime").as_deref().and_then(instant))
    else {
        return error(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        );
    };
    if end <= start {
        return error(400, "ErrorInvalidParameter", "The value of EndDateTime must be later than StartDateTime.");
    }
    let zone = match s.header("prefer") {
        None => "UTC".to_owned(),
        Some(p) => match p.strip_prefix("outlook.timezone=\"").and_then(|z| z.strip_suffix('"')) {
            Some(z) => z.to_owned(),
            None => return wrong(s, &format!("Prefer {p:?}, documented outlook.timezone=\"…\"")),
        },
    };
    let Some(offset) = zone_offset(&zone) else { return unsupported_zone(&zone) };
    let (top, skip) = match (number(s, "$top", 10), number(s, "$skip", 0)) {
        (Ok(t), Ok(k)) if (1..=1000).contains(&t) => (t, k),
        (Err(e), _) | (_, Err(e)) => return e,
        _ => return error(400, "ErrorInvalidParameter", "Invalid $top"),
    };
    let select = s.query("$select");
    let all: Vec<Value> = if calendar == "AAMkAGI2TGuLAAA0=" { events() } else { Vec::new() }
        .into_iter()
        .filter(|(_, _, st, en, _)| instant(en).unwrap() > start && instant(st).unwrap() < end)
        .map(|(id, subject, st, en, place)| {
            let full = json!({
                "@odata.etag": "W/\"ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw==\"", "id": id, "createdDateTime": "2026-11-20T10:00:00.0000000Z",
                "subject": subject, "isAllDay": false, "isCancelled": false, "showAs": "busy", "type": "occurrence",
                "webLink": format!("https://outlook.office365.com/owa/?itemid={id}&exvsurl=1&path=/calendar/item"),
                "start": in_zone(st, &zone, offset), "end": in_zone(en, &zone, offset),
                "location": {"displayName": place, "locationType": "default"},
                "organizer": {"emailAddress": {"name": "Adele Vance", "address": "AdeleV@contoso.com"}}
            });
            match &select {
                None => full,
                Some(sel) => {
                    let keep: Vec<&str> = sel.split(',').chain(["id", "@odata.etag"]).collect();
                    Value::Object(full.as_object().unwrap().iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
                }
            }
        })
        .collect();
    let (value, next) = window(&all, skip, top);
    let mut body =
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(event)", "value": value});
    if let Some(n) = next {
        let mut url = url::Url::parse(&format!("https://graph.microsoft.com{}", s.path)).unwrap();
        for (k, v) in s.query.iter().filter(|(k, _)| k != "$skip") {
            url.query_pairs_mut().append_pair(k, v);
        }
        url.query_pairs_mut().append_pair("$skip", &n.to_string());
        body["@odata.nextLink"] = json!(url.to_string());
    }
    shape(200, body)
}

/// A dateTimeTimeZone of a request: exactly {dateTime (no offset), timeZone (a known zone)}.
fn date_time_zone(v: &Value) -> Result<(), Shape> {
    let obj = v
        .as_object()
        .filter(|o| o.len() == 2)
        .ok_or_else(|| error(400, "BadRequest", "start and end are {dateTime, timeZone}"))?;
    let zone = obj.get("timeZone").and_then(Value::as_str).unwrap_or_default();
    let local = obj.get("dateTime").and_then(Value::as_str).unwrap_or_default();
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if time::PrimitiveDateTime::parse(local.get(..19).unwrap_or(local), &format).is_err() {
        return Err(error(
            400,
            "BadRequest",
            &format!("Cannot convert the literal '{local}' to the expected type 'Edm.DateTime'."),
        ));
    }
    if zone_offset(zone).is_none() {
        return Err(unsupported_zone(zone));
    }
    Ok(())
}

/// Creating an event in a calendar: a JSON event with the members this catalog sends (body
/// {contentType text|html, content}, start and end dateTimeTimeZone, location {displayName},
/// attendees [{emailAddress {address[, name]}, type}]); answers 201 with the event.
fn create_event(calendar: &str, s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return error(
            415,
            "UnsupportedMediaType",
            "A supported MIME type could not be found that matches the content type of the response.",
        );
    }
    let body: Value = serde_json::from_slice(&s.body).unwrap_or(Value::Null);
    let Some(obj) = body.as_object() else { return error(400, "BadRequest", "Empty Payload. JSON content expected.") };
    if let Some(k) =
        obj.keys().find(|k| !["subject", "body", "start", "end", "location", "attendees"].contains(&k.as_str()))
    {
        return wrong(s, &format!("unexpected member {k}"));
    }
    if let Some(b) = obj.get("body") {
        let ok = b.as_object().is_some_and(|m| {
            m.keys().all(|k| k == "content" || k == "contentType")
                && m.get("content").is_some_and(Value::is_string)
                && m.get("contentType").is_none_or(|t| {
                    t.as_str().is_some_and(|t| t.eq_ignore_ascii_case("text") || t.eq_ignore_ascii_case("html"))
                })
        });
        if !ok {
            return error(400, "BadRequest", "body is an itemBody: {contentType text or html, content}");
        }
    }
    for k in ["start", "end"] {
        match obj.get(k) {
            Some(v) => {
                if let Err(e) = date_time_zone(v) {
                    return e;
                }
            }
            None => return wrong(s, &format!("no {k}")),
        }
    }
    if obj.get("location").is_some_and(|l| {
        l.as_object().is_none_or(|m| m.len() != 1 || !m.get("displayName").is_some_and(Value::is_string))
    }) {
        return error(400, "BadRequest", "location is {displayName}");
    }
    for a in obj.get("attendees").map(|a| a.as_array().cloned().unwrap_or_default()).unwrap_or_default() {
        let address = a["emailAddress"]["address"].as_str().unwrap_or_default();
        let ok = a.as_object().is_some_and(|m| m.len() == 2)
            && a["emailAddress"].as_object().is_some_and(|m| m.keys().all(|k| k == "address" || k == "name"))
            && address.contains('@')
            && ["required", "optional", "resource"].contains(&a["type"].as_str().unwrap_or_default());
        if !ok {
            return error(
                400,
                "BadRequest",
                "attendees are [{emailAddress {address, name}, type required|optional|resource}]",
            );
        }
    }
    let id = format!("{calendar}-new{}", s.body.len());
    let mut event = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('87d349ed-44d7-43e1-9a83-5f2406dee5bd')/calendars('AAMkAGI2TGuLAAA0%3D')/events/$entity",
        "@odata.etag": "W/\"ZlnW4RIAV06KYYwlrfNZvQAALfZeRQ==\"", "id": id,
        "createdDateTime": "2026-11-30T09:15:00.0000000Z", "lastModifiedDateTime": "2026-11-30T09:15:00.0000000Z",
        "iCalUId": "040000008200E00074C5B7101A82E00800000000DA2B357D94C4D1010000000000000000100000000B1CC4C0E8324D4B9B0C3F6F8B2E1C9E",
        "subject": obj.get("subject").cloned().unwrap_or(json!("")), "isAllDay": false, "isCancelled": false, "isOrganizer": true,
        "webLink": format!("https://outlook.office365.com/owa/?itemid={id}&exvsurl=1&path=/calendar/item"),
        "body": obj.get("body").cloned().unwrap_or(json!({"contentType": "html", "content": ""})),
        "start": obj["start"], "end": obj["end"],
        "location": obj.get("location").cloned().unwrap_or(json!({"displayName": ""})),
        "organizer": {"emailAddress": {"name": "Adele Vance", "address": "AdeleV@contoso.com"}}
    });
    let attendees: Vec<Value> = obj
        .get("attendees")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| {
            let mut a = a.clone();
            a["status"] = json!({"response": "none", "time": "0001-01-01T00:00:00Z"});
            a
        })
        .collect();
    event["attendees"] = Value::Array(attendees);
    shape(201, event)
}

/// A channel message: exactly {"body": {content[, contentType text|html]}}; an html `<at>` mention
/// needs its `mentions` entry. Answers 201 with the chatMessage.
fn post_message(team: &str, channel: &str, s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return error(
            415,
            "UnsupportedMediaType",
            "A supported MIME type could not be found that matches the content type of the response.",
        );
    }
    let body: Value = serde_json::from_slice(&s.body).unwrap_or(Value::Null);
    let message = &body["body"];
    let documented = body.as_object().is_some_and(|m| m.len() == 1)
        && message.as_object().is_some_and(|m| m.keys().all(|k| k == "content" || k == "contentType"))
        && message["content"].as_str().is_some_and(|c| !c.is_empty())
        && message.get("contentType").is_none_or(|t| t == "text" || t == "html");
    if !documented {
        return wrong(s, "the body must be {\"body\": {\"content\", \"contentType\"}}");
    }
    let html = message["contentType"] == "html";
    let content = message["content"].as_str().unwrap_or_default();
    if html && content.contains("<at ") {
        return error(
            400,
            "BadRequest",
            "Invalid mention: the message has no mentions entry for the <at> tag with id 0.",
        );
    }
    let id = format!("17649{:08}", s.body.len());
    shape(
        201,
        json!({
            "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#teams('{team}')/channels('{channel}')/messages/$entity"),
            "id": id, "replyToId": null, "etag": id, "messageType": "message",
            "createdDateTime": "2026-12-01T10:00:00.123Z", "lastModifiedDateTime": "2026-12-01T10:00:00.123Z",
            "lastEditedDateTime": null, "deletedDateTime": null, "subject": null, "summary": null, "chatId": null,
            "importance": "normal", "locale": "en-us",
            "webUrl": format!("https://teams.microsoft.com/l/message/{channel}/{id}?groupId={team}&tenantId=b33cbe9f-8ebe-4f2a-912b-7e2a427f477f&createdTime={id}&parentMessageId={id}"),
            "from": {"application": null, "device": null, "user": {"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Adele Vance", "userIdentityType": "aadUser"}},
            "body": {"contentType": if html { "html" } else { "text" }, "content": content},
            "channelIdentity": {"teamId": team, "channelId": channel},
            "attachments": [], "mentions": [], "reactions": []
        }),
    )
}

fn handle(c: &Control, tokens: &Mutex<Vec<String>>, s: &Seen) -> Shape {
    let t = c.enter(s);
    if !s.bearer().is_some_and(|b| tokens.lock().unwrap().contains(&b)) {
        return error(401, "InvalidAuthenticationToken", "Access token is empty.");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    let segments: Vec<&str> = s.path.trim_start_matches("/v1.0/").split('/').collect();
    match (s.method.as_str(), segments.as_slice()) {
        ("GET", ["me", "calendars", id, "calendarView"]) | ("POST", ["me", "calendars", id, "events"]) => {
            let id = decoded(id);
            if !calendars().iter().any(|cal| cal["id"] == id.as_str()) {
                return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
            }
            return if s.method == "GET" { calendar_view(&id, s) } else { create_event(&id, s) };
        }
        ("POST", ["teams", team, "channels", channel, "messages"]) => {
            let (team, channel) = (decoded(team), decoded(channel));
            if team != TEAM {
                return error(404, "NotFound", &format!("No team found with Group Id {team}"));
            }
            if !channels().iter().any(|ch| ch["id"] == channel.as_str()) {
                return error(404, "NotFound", "Channel not found.");
            }
            return post_message(&team, &channel, s);
        }
        _ => {}
    }
    if s.method == "POST" && s.path == "/v1.0/me/sendMail" {
        return send_mail(s);
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

/// user: sendMail (https://learn.microsoft.com/en-us/graph/api/user-sendmail): `{message,
/// saveToSentItems}` as JSON, recipients as `emailAddress` objects, a body of contentType Text or
/// HTML, file attachments with base64 `contentBytes`; 202 with no body. A recipient at
/// refused.example is refused as Exchange refuses an invalid recipient.
fn send_mail(s: &Seen) -> Shape {
    use base64::Engine as _;
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "the body is application/json");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "not a JSON object");
    };
    if let Some(k) = body.keys().find(|k| !["message", "saveToSentItems"].contains(&k.as_str())) {
        return wrong(s, &format!("sendMail takes no {k}"));
    }
    let m = &body["message"];
    let known = ["subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "attachments"];
    if let Some(k) = m.as_object().and_then(|o| o.keys().find(|k| !known.contains(&k.as_str()))) {
        return wrong(s, &format!("unexpected message property {k}"));
    }
    if !matches!(m["body"]["contentType"].as_str(), Some("Text" | "HTML")) || !m["body"]["content"].is_string() {
        return error(400, "ErrorInvalidRequest", "The body's contentType must be Text or HTML.");
    }
    let mut addresses = Vec::new();
    for list in ["toRecipients", "ccRecipients", "bccRecipients", "replyTo"] {
        for r in m[list].as_array().into_iter().flatten() {
            let Some(address) = r["emailAddress"]["address"].as_str() else {
                return error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.");
            };
            addresses.push(address.to_owned());
        }
    }
    if m["toRecipients"].as_array().is_none_or(Vec::is_empty) {
        return error(400, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.");
    }
    if addresses.iter().any(|a| a.ends_with("@refused.example")) {
        return error(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., Recipient 'nobody@refused.example' isn't resolved.",
        );
    }
    for a in m["attachments"].as_array().into_iter().flatten() {
        let ok = a["@odata.type"] == "#microsoft.graph.fileAttachment"
            && a["name"].is_string()
            && a["contentBytes"].as_str().is_some_and(|c| base64::engine::general_purpose::STANDARD.decode(c).is_ok());
        if !ok {
            return error(400, "ErrorInvalidRequest", "The attachment is not a valid fileAttachment.");
        }
    }
    shape(202, Value::String(String::new()))
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
            "token_type": "Bearer", "scope": "User.Read Mail.ReadBasic Mail.Send Calendars.ReadBasic Calendars.ReadWrite Team.ReadBasic.All Channel.ReadBasic.All ChannelMessage.Send",
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
