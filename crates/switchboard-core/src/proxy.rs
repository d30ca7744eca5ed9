//! Where a proxied request goes: the caller's path and query under a connection's API base URL,
//! and never anywhere else.
//!
//! The caller's path arrives percent-encoded and is kept that way (an encoded `/` inside a
//! segment, as GitLab's `group%2Fproject` ids or a Sheets range, is the provider's business).
//! What is refused is anything that could move the request off the base URL: an absolute or
//! protocol-relative URL, a backslash, and dot segments in any spelling (`..`, `%2e%2e`, a segment
//! that decodes to `../x`, or double-encoded forms), checked again on the joined URL.

use std::fmt;

use percent_encoding::percent_decode_str;
use url::Url;

/// Why a path was refused: said to the caller as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRefusal(pub String);

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PathRefusal {}

/// How many rounds of percent-decoding are looked through for dot segments.
const DECODE_ROUNDS: usize = 3;

/// `base` with `path` (percent-encoded, without its leading `/`) appended to its path and `query`
/// (raw) to its query.
///
/// # Errors
/// A `PathRefusal` naming what in the path would leave the base URL.
pub fn join(base: &Url, path: &str, query: Option<&str>) -> Result<Url, PathRefusal> {
    check_path(path)?;
    let base_path = base.path().trim_end_matches('/');
    let mut url = base.clone();
    url.set_path(&format!("{base_path}/{path}"));
    let query = query.filter(|q| !q.is_empty());
    match (base.query().filter(|q| !q.is_empty()), query) {
        (Some(b), Some(q)) => url.set_query(Some(&format!("{b}&{q}"))),
        (None, Some(q)) => url.set_query(Some(q)),
        _ => {}
    }
    url.set_fragment(None);
    // The parser may still have normalised something the checks above let through; the answer
    // must be on the base's origin and under its path either way.
    let under = url.path() == base_path || url.path().starts_with(&format!("{base_path}/"));
    if url.origin() != base.origin() || !under {
        return Err(PathRefusal(format!("the path {path:?} leads outside the connection's API base URL")));
    }
    Ok(url)
}

fn check_path(path: &str) -> Result<(), PathRefusal> {
    if path.starts_with('/') {
        return Err(PathRefusal(
            "the path after the connection id starts with another '/', which reads as a URL of another host; \
             give a path relative to the API base URL"
                .into(),
        ));
    }
    if looks_absolute(path) {
        return Err(PathRefusal(
            "the path is an absolute URL; give a path relative to the connection's API base URL instead".into(),
        ));
    }
    for segment in path.split('/') {
        let mut text = segment.to_owned();
        for round in 0..=DECODE_ROUNDS {
            if text.contains('\\') {
                return Err(PathRefusal(format!("the path segment {segment:?} holds a backslash, which is refused")));
            }
            if text.split(['/', '\\']).any(|part| part == "." || part == "..") {
                return Err(PathRefusal(format!(
                    "the path segment {segment:?} is a '.' or '..' segment, which could leave the API base URL"
                )));
            }
            if text.chars().any(char::is_control) {
                return Err(PathRefusal(format!("the path segment {segment:?} holds a control character")));
            }
            if !text.contains('%') || round == DECODE_ROUNDS {
                break;
            }
            text = percent_decode_str(&text).decode_utf8_lossy().into_owned();
        }
    }
    Ok(())
}

/// `scheme:` at the start (RFC 3986 3.1), or `scheme%3A` spelled encoded.
fn looks_absolute(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or_default();
    let decoded = percent_decode_str(first).decode_utf8_lossy();
    let Some((scheme, _)) = decoded.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn paths_and_queries_are_appended_under_the_base() {
        let b = base("https://slack.com/api");
        assert_eq!(join(&b, "chat.postMessage", None).unwrap().as_str(), "https://slack.com/api/chat.postMessage");
        assert_eq!(
            join(&b, "conversations.list", Some("limit=2&cursor=a%3D")).unwrap().as_str(),
            "https://slack.com/api/conversations.list?limit=2&cursor=a%3D"
        );
        let b = base("https://api.telegram.org/bot123:abc/");
        assert_eq!(join(&b, "getMe", None).unwrap().as_str(), "https://api.telegram.org/bot123:abc/getMe");
        assert_eq!(join(&b, "", None).unwrap().as_str(), "https://api.telegram.org/bot123:abc/");
        let b = base("https://gitlab.example/api/v4?x=1");
        assert_eq!(
            join(&b, "projects/group%2Fproject", Some("a=b")).unwrap().as_str(),
            "https://gitlab.example/api/v4/projects/group%2Fproject?x=1&a=b",
            "encoded slashes inside a segment stay encoded"
        );
        assert_eq!(
            join(&base("https://sheets.googleapis.com"), "v4/spreadsheets/1/values/Sheet1%21A1:B2:append", None)
                .unwrap()
                .path(),
            "/v4/spreadsheets/1/values/Sheet1%21A1:B2:append",
            "colons after the first segment are not schemes"
        );
    }

    #[test]
    fn every_way_out_is_refused() {
        let b = base("https://api.example.com/v1");
        for path in [
            "https://evil.example/x",
            "http:evil",
            "https%3A%2F%2Fevil.example",
            "/evil.example/x",
            "//evil.example",
            "..",
            "../admin",
            "a/../../admin",
            "./x",
            "%2e%2e/admin",
            "%2E%2e/admin",
            ".%2e/admin",
            "a/%2e%2e",
            "..%2fadmin",
            "..%5cadmin",
            "%252e%252e/admin",
            "%25252e%25252e/admin",
            "a\\..\\b",
            "x%00y",
            "x%0d%0aHost:%20evil",
        ] {
            assert!(join(&b, path, None).is_err(), "{path:?} was let through: {:?}", join(&b, path, None));
        }
    }

    #[test]
    fn the_query_cannot_move_the_request() {
        let b = base("https://api.example.com/v1");
        let u = join(&b, "x", Some("a=1#frag@evil.example")).unwrap();
        assert_eq!(u.host_str(), Some("api.example.com"));
        assert_eq!(u.fragment(), None);
    }
}
