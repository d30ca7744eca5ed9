//! `{name}` templates in provider entries.
//!
//! In URL templates a value at the very start is inserted as is (it is a base
//! URL such as `{webhook_url}` or `{metadata.instance_url}`, validated as a URL
//! where it comes from); every other value is percent-encoded so that user input
//! such as `../admin?x=` cannot change the request's path or query.

use std::borrow::Cow;

/// A template string split into literal text and `{name}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed '{{' in template {0:?}")]
    Unclosed(String),
    #[error("stray '}}' in template {0:?}")]
    Stray(String),
    #[error("empty or malformed name in template {0:?}")]
    BadName(String),
    #[error("no value for {{{0}}}")]
    Missing(String),
}

/// Splits a template into pieces, refusing malformed braces. `{{` and `}}`
/// stand for literal braces (GraphQL queries in request bodies need them).
pub fn parse(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    fn flush<'t>(pieces: &mut Vec<Piece<'t>>, template: &'t str, from: usize, to: usize) {
        if to > from {
            pieces.push(Piece::Text(&template[from..to]));
        }
    }
    let bytes = template.as_bytes();
    let mut pieces = Vec::new();
    let (mut i, mut text_start) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => {
                flush(&mut pieces, template, text_start, i);
                pieces.push(Piece::Text(&template[i..=i]));
                i += 2;
                text_start = i;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                flush(&mut pieces, template, text_start, i);
                pieces.push(Piece::Text(&template[i..=i]));
                i += 2;
                text_start = i;
            }
            b'}' => return Err(TemplateError::Stray(template.to_owned())),
            b'{' => {
                flush(&mut pieces, template, text_start, i);
                let close = template[i..].find('}').ok_or_else(|| TemplateError::Unclosed(template.to_owned()))? + i;
                let name = &template[i + 1..close];
                let valid = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
                if !valid {
                    return Err(TemplateError::BadName(template.to_owned()));
                }
                pieces.push(Piece::Var(name));
                i = close + 1;
                text_start = i;
            }
            _ => i += 1,
        }
    }
    flush(&mut pieces, template, text_start, bytes.len());
    Ok(pieces)
}

/// The names a template uses.
pub fn names(template: &str) -> Result<Vec<&str>, TemplateError> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Fills a plain template (headers, query values, bodies): values go in unchanged.
pub fn render<'v>(template: &str, lookup: impl Fn(&str) -> Option<Cow<'v, str>>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for piece in parse(template)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) => out.push_str(&lookup(v).ok_or_else(|| TemplateError::Missing(v.to_owned()))?),
        }
    }
    Ok(out)
}

/// Fills a URL template: a leading value is a base URL taken as is, later values are percent-encoded.
pub fn render_url<'v>(template: &str, lookup: impl Fn(&str) -> Option<Cow<'v, str>>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 32);
    for (i, piece) in parse(template)?.into_iter().enumerate() {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) => {
                let value = lookup(v).ok_or_else(|| TemplateError::Missing(v.to_owned()))?;
                if i == 0 {
                    out.push_str(value.trim_end_matches('/'));
                } else {
                    encode_into(&mut out, &value);
                }
            }
        }
    }
    Ok(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `:` `@`
/// (tokens such as Telegram's `123:ABC` stay readable; `/ ? # %` cannot sneak in).
fn encode_into(out: &mut String, value: &str) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(name: &str) -> Option<Cow<'static, str>> {
        match name {
            "shop" => Some("acme".into()),
            "evil" => Some("../admin?x=1#y".into()),
            "base" => Some("https://example.org/api/".into()),
            "token" => Some("123:AB-c_d".into()),
            _ => None,
        }
    }

    #[test]
    fn parses_and_lists_names() {
        assert_eq!(names("https://{shop}.myshopify.com/x/{token}").unwrap(), vec!["shop", "token"]);
        assert!(parse("a{b").is_err());
        assert!(parse("a}b").is_err());
        assert!(parse("a{}b").is_err());
        assert!(parse("a{b c}").is_err());
        assert_eq!(names("plain").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(render("{{ me {{ id }} }} {token}", vals).unwrap(), "{ me { id } } 123:AB-c_d");
        assert_eq!(names("{{ x }}").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn url_values_cannot_change_the_path_or_query() {
        let url = render_url("https://api.example.org/bot{evil}/getMe", vals).unwrap();
        assert_eq!(url, "https://api.example.org/bot..%2Fadmin%3Fx%3D1%23y/getMe");
        assert_eq!(render_url("/bot{token}/getMe", vals).unwrap(), "/bot123:AB-c_d/getMe");
    }

    #[test]
    fn a_leading_value_is_a_base_url() {
        assert_eq!(render_url("{base}/v1/me", vals).unwrap(), "https://example.org/api/v1/me");
    }

    #[test]
    fn missing_values_are_named() {
        assert_eq!(render("x {nope}", vals).unwrap_err(), TemplateError::Missing("nope".into()));
        assert_eq!(render("Bearer {token}", vals).unwrap(), "Bearer 123:AB-c_d");
    }
}
