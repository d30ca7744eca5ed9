//! GitHub's REST API (https://docs.github.com/en/rest/repos/repos#list-repositories-for-the-authenticated-user,
//! https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api): a bearer
//! token with `X-GitHub-Api-Version: 2022-11-28` and the `application/vnd.github+json` media type,
//! `per_page` (at most 100) and `page`, the next page in the `Link` header (`rel="next"`, absent on
//! the last page), errors as `{"message", "documentation_url", "status"}`, and rate limits as a 403
//! with `x-ratelimit-remaining: 0`.
//!
//! Create an issue (https://docs.github.com/en/rest/issues/issues#create-an-issue): `POST
//! /repos/{owner}/{repo}/issues` with a JSON body of documented parameters only (`title` required;
//! `body`, `assignee`, `milestone`, `labels`, `assignees`, `type`), answered `201 Created` with the
//! issue; an unknown repository is a 404, an assignee who cannot be assigned a 422 `Validation
//! Failed` with its `errors`, and creating too quickly a secondary rate limit (429 with Retry-After).

use serde_json::{Value, json};

use super::{Api, Control, Trouble, expect_query, number, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";

fn repo(id: u64, owner: &str, name: &str, private: bool) -> Value {
    json!({
        "id": id, "node_id": format!("R_kgDO{id}"), "name": name, "full_name": format!("{owner}/{name}"),
        "private": private, "owner": {"login": owner, "id": id / 1000, "type": if owner == "octocat" { "User" } else { "Organization" }},
        "html_url": format!("https://github.com/{owner}/{name}"), "description": format!("The {name} repository"),
        "fork": false, "default_branch": "main", "visibility": if private { "private" } else { "public" }
    })
}

/// Seven repositories by full name; two are called `api`.
pub fn repos() -> Vec<Value> {
    vec![
        repo(1_296_269_001, "acme", "api", true),
        repo(1_296_269_002, "acme", "docs", false),
        repo(1_296_269_003, "acme", "infra", true),
        repo(1_296_269_004, "acme", "web", false),
        repo(1_296_269_005, "globex", "api", false),
        repo(1_296_269_006, "octocat", "Hello-World", false),
        repo(1_296_269_007, "octocat", "Spoon-Knife", false),
    ]
}

fn error(status: u16, message: &str) -> Shape {
    shape(
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => error(401, "Bad credentials"),
        Trouble::Forbidden => error(403, "Resource not accessible by personal access token"),
        Trouble::RateLimited => error(403, "API rate limit exceeded for user ID 583231.")
            .header("x-ratelimit-limit", "5000")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "1795000000"),
        Trouble::Down => error(503, "Service Unavailable"),
    })
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.header("x-github-api-version") != Some("2022-11-28")
        || s.header("accept") != Some("application/vnd.github+json")
    {
        return error(400, "the X-GitHub-Api-Version and Accept headers are documented for every call");
    }
    if s.bearer().as_deref() != Some(TOKEN) {
        return error(401, "Requires authentication");
    }
    let creating = s.method == "POST" && issues_of(&s.path).is_some();
    if creating && t == Trouble::RateLimited {
        // Creating content too quickly meets the secondary rate limit, which says how long to wait.
        return error(429, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
            .header("retry-after", "60");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/user") => shape(
            200,
            json!({"login": "octocat", "id": 583231, "type": "User", "html_url": "https://github.com/octocat"}),
        ),
        ("GET", "/user/repos") => {
            if let Err(e) = expect_query(s, &[("per_page", None), ("sort", Some("full_name"))], &["page"]) {
                return e;
            }
            let (per_page, page) = match (number(s, "per_page", 30), number(s, "page", 1)) {
                (Ok(p), Ok(n)) if (1..=100).contains(&p) && n >= 1 => (p, n),
                (Err(e), _) | (_, Err(e)) => return e,
                _ => return error(422, "Validation Failed"),
            };
            let all = repos();
            let (items, next) = window(&all, (page - 1) * per_page, per_page);
            let link = |n: usize, rel: &str| {
                format!(
                    "<https://api.github.com/user/repos?per_page={per_page}&sort=full_name&page={n}>; rel=\"{rel}\""
                )
            };
            let last = all.len().div_ceil(per_page);
            let mut rels = Vec::new();
            if next.is_some() {
                rels.push(link(page + 1, "next"));
                rels.push(link(last, "last"));
            }
            if page > 1 {
                rels.push(link(1, "first"));
                rels.push(link(page - 1, "prev"));
            }
            let answer = shape(200, Value::Array(items));
            if rels.is_empty() { answer } else { answer.header("link", rels.join(", ")) }
        }
        ("POST", p) if issues_of(p).is_some() => create_issue(s),
        _ => wrong(s, "not a documented endpoint"),
    }
}

/// The owner and repository name of a `/repos/{owner}/{repo}/issues` path.
fn issues_of(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/repos/")?.strip_suffix("/issues")?;
    let (owner, repo) = rest.split_once('/')?;
    (!owner.is_empty() && !repo.is_empty() && !repo.contains('/')).then(|| (owner.to_owned(), repo.to_owned()))
}

/// Users who can be assigned issues in every repository here.
const ASSIGNABLE: [&str; 3] = ["octocat", "hubot", "monalisa"];

/// The documented body parameters of Create an issue.
const ISSUE_PARAMS: [&str; 7] = ["title", "body", "assignee", "milestone", "labels", "assignees", "type"];

fn validation_failed(errors: Value) -> Shape {
    shape(
        422,
        json!({
            "message": "Validation Failed", "errors": errors,
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "422"
        }),
    )
}

fn create_issue(s: &Seen) -> Shape {
    let Some((owner, name)) = issues_of(&s.path) else { return wrong(s, "not an issues path") };
    if !s.query.is_empty() {
        return wrong(s, "Create an issue takes no query parameters");
    }
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "the body is JSON and must say Content-Type: application/json");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "the body is not a JSON object");
    };
    if let Some(k) = body.keys().find(|k| !ISSUE_PARAMS.contains(&k.as_str())) {
        return wrong(s, &format!("{k} is not a body parameter of Create an issue"));
    }
    // The owner and name are not case sensitive.
    let Some(repo) = repos()
        .into_iter()
        .find(|r| r["full_name"].as_str().is_some_and(|f| f.eq_ignore_ascii_case(&format!("{owner}/{name}"))))
    else {
        return shape(
            404,
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "404"}),
        );
    };
    let title = match body.get("title") {
        None => return validation_failed(json!([{"resource": "Issue", "field": "title", "code": "missing_field"}])),
        Some(Value::String(t)) => t.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return wrong(s, "title is a string or a number"),
    };
    let strings = |k: &str| -> Result<Vec<String>, Shape> {
        match body.get(k) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| wrong(s, &format!("{k} are strings here"))))
                .collect(),
            Some(_) => Err(wrong(s, &format!("{k} is an array"))),
        }
    };
    let (labels, assignees) = match (strings("labels"), strings("assignees")) {
        (Ok(l), Ok(a)) => (l, a),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if let Some(b) = body.get("body")
        && !b.is_string()
    {
        return wrong(s, "body is a string");
    }
    if let Some(who) = assignees.iter().find(|a| !ASSIGNABLE.contains(&a.as_str())) {
        return validation_failed(
            json!([{"value": who, "resource": "Issue", "field": "assignees", "code": "invalid"}]),
        );
    }
    let full = repo["full_name"].as_str().unwrap_or_default().to_owned();
    let user = |login: &str| json!({"login": login, "id": 583_231, "type": "User"});
    shape(
        201,
        json!({
            "id": 1_296_269_001_347_u64, "node_id": "I_kwDOBFQLEs5XB1347",
            "url": format!("https://api.github.com/repos/{full}/issues/1347"),
            "repository_url": format!("https://api.github.com/repos/{full}"),
            "html_url": format!("https://github.com/{full}/issues/1347"),
            "number": 1347, "state": "open", "state_reason": null, "title": title,
            "body": body.get("body").cloned().unwrap_or(Value::Null),
            "user": user("octocat"),
            "labels": labels.iter().map(|l| json!({"name": l, "color": "d73a4a", "default": false})).collect::<Vec<_>>(),
            "assignee": assignees.first().map(|a| user(a)),
            "assignees": assignees.iter().map(|a| user(a)).collect::<Vec<_>>(),
            "locked": false, "comments": 0, "created_at": "2026-07-30T23:19:04Z", "updated_at": "2026-07-30T23:19:04Z",
            "closed_at": null, "author_association": "OWNER"
        }),
    )
    .header("location", format!("https://api.github.com/repos/{full}/issues/1347"))
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.github.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
