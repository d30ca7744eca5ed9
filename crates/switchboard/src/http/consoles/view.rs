//! What every page's template shares, and small renderings that templates call.

use switchboard_core::time::Timestamp;

use super::Messages;
use super::assets::ASSET_VERSION;
use crate::http::AppState;

/// The frame of every page: texts, branding, the CSP nonce and (on pages that act) the CSRF token.
pub(crate) struct Base {
    pub(crate) t: Messages,
    pub(crate) title: String,
    pub(crate) nonce: String,
    pub(crate) csrf: String,
    pub(crate) product: String,
    pub(crate) logo_url: Option<String>,
    pub(crate) v: &'static str,
}

impl Base {
    pub(crate) fn new(state: &AppState, t: Messages, title: String, nonce: String, csrf: String) -> Self {
        let ui = &state.services.settings.ui;
        Self {
            t,
            title,
            nonce,
            csrf,
            product: ui.product_name.clone(),
            logo_url: ui.logo_url.clone(),
            v: ASSET_VERSION.as_str(),
        }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text with its https URLs made links that open in a new tab (help texts name the provider's
/// settings pages). Everything else is escaped.
#[must_use]
pub(crate) fn linkify(text: &str) -> String {
    let mut out = String::new();
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let Some(start) = word.find("https://") else {
            out.push_str(&escape(word));
            continue;
        };
        let (before, rest) = word.split_at(start);
        let url_end = rest.trim_end_matches(['.', ',', ')', ';', ':']).len();
        let (url, after) = rest.split_at(url_end);
        if url::Url::parse(url).is_err() {
            out.push_str(&escape(word));
            continue;
        }
        out.push_str(&escape(before));
        out.push_str(&format!("<a href=\"{0}\" target=\"_blank\" rel=\"noopener noreferrer\">{0}</a>", escape(url)));
        out.push_str(&escape(after));
    }
    out
}

/// A provider's mark: its initial on a colour derived from its id (decorative; the name is beside it).
#[must_use]
pub(crate) fn logo_svg(id: &str, name: &str) -> String {
    // FNV-1a, so ids that share a prefix still spread over the colour wheel.
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let hue = (hash >> 8) % 360;
    let initial = name.chars().find(|c| c.is_alphanumeric()).map_or('?', |c| c.to_ascii_uppercase());
    format!(
        "<svg class=\"logo\" viewBox=\"0 0 40 40\" width=\"40\" height=\"40\" aria-hidden=\"true\" focusable=\"false\">\
<rect width=\"40\" height=\"40\" rx=\"9\" fill=\"hsl({hue} 55% 32%)\"/>\
<text x=\"20\" y=\"27\" text-anchor=\"middle\" font-size=\"20\" font-weight=\"700\" fill=\"#ffffff\" font-family=\"system-ui,sans-serif\">{}</text></svg>",
        escape(&initial.to_string())
    )
}

/// An instant as readers see it (UTC), or the "never" text.
#[must_use]
pub(crate) fn when(t: Option<Timestamp>, m: &Messages) -> String {
    match t {
        None => m.get("account.never"),
        Some(t) => {
            let s = t.to_rfc3339();
            // 2026-12-01T18:05:09.123Z → 2026-12-01 18:05 UTC
            format!("{} {} UTC", s.get(..10).unwrap_or(&s), s.get(11..16).unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_only_https_urls_and_escapes_the_rest() {
        assert_eq!(
            linkify("Create one at https://airtable.com/create/tokens. <b>"),
            "Create one at <a href=\"https://airtable.com/create/tokens\" target=\"_blank\" rel=\"noopener noreferrer\">https://airtable.com/create/tokens</a>. &lt;b&gt;"
        );
        assert_eq!(linkify("javascript:alert(1) http://x"), "javascript:alert(1) http://x");
        assert_eq!(
            linkify("(see https://a.example/x\"onmouseover=1)"),
            "(see <a href=\"https://a.example/x&quot;onmouseover=1\" target=\"_blank\" rel=\"noopener noreferrer\">https://a.example/x&quot;onmouseover=1</a>)"
        );
    }

    #[test]
    fn a_logo_is_escaped_and_decorative() {
        let svg = logo_svg("x", "<script>");
        assert!(svg.contains("aria-hidden=\"true\""));
        assert!(!svg.contains("<script"));
    }
}
