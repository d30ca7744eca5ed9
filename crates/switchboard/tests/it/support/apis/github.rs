//! GitHub's REST API (https://docs.github.com/en/rest/repos/repos#list-repositories-for-the-authenticated-user,
//! https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api): a bearer
//! token with `X-GitHub-Api-Version: 2022-11-28` and the `application/vnd.github+json` media type,
//! `per_page` (at most 100) and `page`, the next page in the `Link` header (`rel="next"`, absent on
//! the last page), errors as `{"message", "documentation_url", "status"}`, and rate limits as a 403
//! with `x-ratelimit-remaining: 0`.

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
        _ => wrong(s, "not a documented endpoint"),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.github.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
