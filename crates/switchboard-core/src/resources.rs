//! Resource listings as pure functions: reading items out of a provider's
//! answer as the catalog describes them, the named transforms, the next page,
//! opaque cursors, and matching names for resolution. No IO.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization as _;

use crate::catalog::{PageStyle, ResourceKind, ResourceTransform, path};

/// One listed thing: its id, its display name and the kind's extra fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// Why an answer could not be read as a listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the answer has no list at {0:?}")]
    NoItems(String),
}

/// The items of one answer. `items_path` is the kind's `items` with its templates rendered.
pub fn read_items(kind: &ResourceKind, items_path: &str, doc: &Value) -> Result<Vec<Item>, ReadError> {
    let found = path::get(doc, items_path).ok_or_else(|| ReadError::NoItems(items_path.to_owned()))?;
    let raw: Vec<Value> = match kind.transform {
        Some(ResourceTransform::HeaderRow) => header_row(found),
        Some(ResourceTransform::ObjectEntries) => object_entries(found),
        None => match found {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            _ => return Err(ReadError::NoItems(items_path.to_owned())),
        },
    };
    Ok(raw.iter().filter_map(|v| item_of(kind, v)).collect())
}

/// One item from one element; elements without an id are skipped.
#[must_use]
pub fn item_of(kind: &ResourceKind, v: &Value) -> Option<Item> {
    let id = path::get_text(v, &kind.id)?;
    let name = path::get_text(v, &kind.name).unwrap_or_else(|| id.clone());
    let fields = kind
        .fields
        .iter()
        .filter_map(|(k, p)| path::get(v, p).filter(|x| !x.is_null()).map(|x| (k.clone(), x.clone())))
        .collect();
    Some(Item { id, name, fields })
}

/// A header row (an array of cell values) as column items: `{letter, position, text}`.
fn header_row(row: &Value) -> Vec<Value> {
    let Some(cells) = row.as_array() else { return Vec::new() };
    cells
        .iter()
        .enumerate()
        .filter_map(|(i, cell)| {
            let text = match cell {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => String::new(),
            };
            (!text.is_empty()).then(|| serde_json::json!({ "letter": column_letter(i), "position": i, "text": text }))
        })
        .collect()
}

/// An object of named objects as items, each with its name under `key`.
fn object_entries(obj: &Value) -> Vec<Value> {
    let Some(map) = obj.as_object() else { return Vec::new() };
    map.iter()
        .map(|(k, v)| {
            let mut entry = v.as_object().cloned().unwrap_or_default();
            entry.insert("key".to_owned(), Value::String(k.clone()));
            Value::Object(entry)
        })
        .collect()
}

/// A spreadsheet column's letters for a 0-based index: 0 → A, 25 → Z, 26 → AA.
#[must_use]
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + u8::try_from(rem).unwrap_or(0));
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Where the next page is, in the provider's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub enum NextPage {
    Cursor(String),
    Offset(u64),
    Page(u64),
    Url(String),
}

impl NextPage {
    /// An opaque cursor for our callers.
    #[must_use]
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A cursor we handed out; `None` for anything else.
    #[must_use]
    pub fn decode(cursor: &str) -> Option<Self> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
    }
}

/// The next page after one that held `count` items of a requested `limit`, as the kind pages.
/// `last_id` is the id of the page's last item (for `last_id` paging).
#[must_use]
pub fn next_page(
    kind: &ResourceKind,
    doc: &Value,
    link_header: Option<&str>,
    current: Option<&NextPage>,
    count: usize,
    limit: u32,
    last_id: Option<&str>,
) -> Option<NextPage> {
    let pages = kind.pages.as_ref()?;
    if let Some(h) = &pages.has_more
        && path::get(doc, h) != Some(&Value::Bool(true))
    {
        return None;
    }
    let full = count >= limit as usize && count > 0;
    match pages.style {
        PageStyle::Cursor => {
            pages.next.as_deref().and_then(|p| path::get_text(doc, p)).filter(|c| !c.is_empty()).map(NextPage::Cursor)
        }
        PageStyle::NextUrl => {
            pages.next.as_deref().and_then(|p| path::get_text(doc, p)).filter(|c| !c.is_empty()).map(NextPage::Url)
        }
        PageStyle::LinkHeader => link_header.and_then(link_next).map(NextPage::Url),
        PageStyle::LastId => full.then(|| last_id.map(|id| NextPage::Cursor(id.to_owned()))).flatten(),
        PageStyle::Offset => full.then(|| {
            let at = match current {
                Some(NextPage::Offset(o)) => *o,
                _ => 0,
            };
            NextPage::Offset(at + count as u64)
        }),
        PageStyle::Page => full.then(|| {
            let at = match current {
                Some(NextPage::Page(p)) => *p,
                _ => 1,
            };
            NextPage::Page(at + 1)
        }),
    }
}

/// The `rel="next"` URL of an RFC 8288 `Link` header.
#[must_use]
pub fn link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        pieces
            .any(|p| {
                let p = p.trim();
                p.strip_prefix("rel=").is_some_and(|r| r.trim_matches('"').split_whitespace().any(|x| x == "next"))
            })
            .then(|| url.to_owned())
    })
}

/// A name for comparison: Unicode compatibility-normalised, case-folded, runs of whitespace as one space.
#[must_use]
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut words = |text: &str| {
        for w in text.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
    };
    // ASCII is its own NFKC form: most names skip the Unicode tables.
    if name.is_ascii() {
        words(&name.to_ascii_lowercase());
    } else {
        words(&name.nfkc().collect::<String>().to_lowercase());
    }
    out
}

/// How a wanted name matches the items.
#[derive(Debug, Clone, PartialEq)]
pub enum NameMatch {
    /// The id, an exact name, or one name equal once normalised.
    Found(Item),
    /// Several items match equally well.
    Ambiguous(Vec<Item>),
    /// No match: the closest names, best first (maybe none).
    NotFound(Vec<Item>),
}

/// Matches `wanted` against `items`: an id, then the exact name, then the normalised name.
/// Never a guess: anything short of these is `NotFound` with suggestions.
#[must_use]
pub fn match_name(items: &[Item], wanted: &str) -> NameMatch {
    if let Some(i) = items.iter().find(|i| i.id == wanted) {
        return NameMatch::Found(i.clone());
    }
    let pick = |pred: &dyn Fn(&Item) -> bool| -> Option<NameMatch> {
        let hits: Vec<Item> = items.iter().filter(|i| pred(i)).cloned().collect();
        match hits.len() {
            0 => None,
            1 => hits.into_iter().next().map(NameMatch::Found),
            _ => Some(NameMatch::Ambiguous(hits)),
        }
    };
    if let Some(m) = pick(&|i| i.name == wanted) {
        return m;
    }
    let norm = normalize(wanted);
    if let Some(m) = pick(&|i| normalize(&i.name) == norm) {
        return m;
    }
    NameMatch::NotFound(suggestions(items, &norm, 5))
}

/// Up to `n` items whose normalised names are closest to `norm` by edit distance, within reason.
#[must_use]
pub fn suggestions(items: &[Item], norm: &str, n: usize) -> Vec<Item> {
    let len = norm.chars().count();
    let limit = (len / 2).max(3);
    let mut scored: Vec<(usize, &Item)> = items
        .iter()
        .map(|i| {
            let other = normalize(&i.name);
            let distance = strsim::levenshtein(norm, &other);
            // A name that contains the wanted text (or is contained in it) is close too.
            let contains = !norm.is_empty() && (other.contains(norm) || norm.contains(other.as_str()));
            (if contains { distance.min(limit) } else { distance }, i)
        })
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let mut seen = BTreeMap::new();
    scored
        .into_iter()
        .filter(|(_, i)| seen.insert(i.id.clone(), ()).is_none())
        .take(n)
        .map(|(_, i)| i.clone())
        .collect()
}

/// The id in a provider URL of an item, by the kind's patterns.
#[must_use]
pub fn id_from_url(kind: &ResourceKind, text: &str) -> Option<String> {
    kind.url_patterns.iter().find_map(|p| {
        let re = crate::pattern::compiled(p).ok()?;
        re.captures(text.trim()).and_then(|c| c.get(1)).map(|m| m.as_str().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(toml_text: &str) -> ResourceKind {
        toml::from_str(toml_text).unwrap()
    }

    const BASE: &str =
        "label = \"X\"\ndocs_url = \"https://x.example\"\nid = \"id\"\nname = \"name\"\n[request]\npath = \"/x\"\n";

    fn item(id: &str, name: &str) -> Item {
        Item { id: id.into(), name: name.into(), fields: Map::new() }
    }

    #[test]
    fn letters_count_like_a_spreadsheet() {
        assert_eq!(
            [0, 1, 25, 26, 27, 51, 52, 701, 702].map(column_letter),
            ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
        );
    }

    #[test]
    fn a_header_row_becomes_columns() {
        let k = kind(
            "label = \"Column\"\ndocs_url = \"https://x.example\"\nid = \"letter\"\nname = \"text\"\nitems = \"values.0\"\ntransform = \"header_row\"\nfields = { letter = \"letter\", position = \"position\" }\n[request]\npath = \"/x\"\n",
        );
        let doc = json!({"values": [["Name", " Email ", "", 3]]});
        let items = read_items(&k, "values.0", &doc).unwrap();
        assert_eq!(
            items.iter().map(|i| (i.id.as_str(), i.name.as_str())).collect::<Vec<_>>(),
            [("A", "Name"), ("B", "Email"), ("D", "3")]
        );
        assert_eq!(items[1].fields["position"], 1);
    }

    #[test]
    fn object_entries_become_items() {
        let k = kind(
            &BASE
                .replace(
                    "id = \"id\"",
                    "id = \"id\"\nitems = \"properties\"\ntransform = \"object_entries\"\nfields = { type = \"type\" }",
                )
                .replace("name = \"name\"", "name = \"key\""),
        );
        let doc = json!({"properties": {"Status": {"id": "a%3Fb", "type": "select"}, "Name": {"id": "title", "type": "title"}}});
        let items = read_items(&k, "properties", &doc).unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.iter().any(|i| i.name == "Status" && i.fields["type"] == "select"));
    }

    fn next_page(
        kind: &ResourceKind,
        doc: &Value,
        link: Option<&str>,
        current: Option<&NextPage>,
        count: usize,
        limit: u32,
    ) -> Option<NextPage> {
        super::next_page(kind, doc, link, current, count, limit, None)
    }

    #[test]
    fn pages_follow_each_style() {
        let cursor = kind(&format!("{BASE}[pages]\nstyle = \"cursor\"\nnext = \"response_metadata.next_cursor\"\n"));
        let doc = json!({"response_metadata": {"next_cursor": "dGVhbTpDMDYx"}});
        assert_eq!(next_page(&cursor, &doc, None, None, 2, 2), Some(NextPage::Cursor("dGVhbTpDMDYx".into())));
        assert_eq!(next_page(&cursor, &json!({"response_metadata": {"next_cursor": ""}}), None, None, 2, 2), None);
        let offset = kind(&format!("{BASE}[pages]\nstyle = \"offset\"\n"));
        assert_eq!(
            next_page(&offset, &json!({}), None, Some(&NextPage::Offset(20)), 10, 10),
            Some(NextPage::Offset(30))
        );
        assert_eq!(next_page(&offset, &json!({}), None, None, 3, 10), None, "a short page is the last");
        let link = kind(&format!("{BASE}[pages]\nstyle = \"link_header\"\n"));
        let h = "<https://api.github.com/user/repos?page=2>; rel=\"next\", <https://api.github.com/user/repos?page=5>; rel=\"last\"";
        assert_eq!(
            next_page(&link, &json!([]), Some(h), None, 30, 30),
            Some(NextPage::Url("https://api.github.com/user/repos?page=2".into()))
        );
        let notion =
            kind(&format!("{BASE}[pages]\nstyle = \"cursor\"\nnext = \"next_cursor\"\nhas_more = \"has_more\"\n"));
        assert_eq!(next_page(&notion, &json!({"has_more": false, "next_cursor": "x"}), None, None, 1, 1), None);
        let graph = kind(&format!("{BASE}[pages]\nstyle = \"next_url\"\nnext = \"@odata\\\\.nextLink\"\n"));
        assert_eq!(
            next_page(
                &graph,
                &json!({"@odata.nextLink": "https://graph.microsoft.com/v1.0/me/calendars?$skip=10"}),
                None,
                None,
                10,
                10
            ),
            Some(NextPage::Url("https://graph.microsoft.com/v1.0/me/calendars?$skip=10".into()))
        );
        let c = NextPage::Url("https://x.example/?a=b".into());
        assert_eq!(NextPage::decode(&c.encode()), Some(c));
        assert_eq!(NextPage::decode("not a cursor"), None);
    }

    #[test]
    fn names_match_exactly_then_normalised_never_by_guess() {
        let items =
            vec![item("1", "Sales 2026"), item("2", "Ｓａｌｅｓ  2027"), item("3", "Budget"), item("4", "budget")];
        assert_eq!(match_name(&items, "Sales 2026"), NameMatch::Found(items[0].clone()));
        assert_eq!(match_name(&items, "3"), NameMatch::Found(items[2].clone()), "an id");
        assert_eq!(match_name(&items, "sales 2027"), NameMatch::Found(items[1].clone()), "width and case folded");
        assert_eq!(match_name(&items, "Budget"), NameMatch::Found(items[2].clone()), "the exact name wins");
        assert!(matches!(match_name(&items, "BUDGET"), NameMatch::Ambiguous(ref c) if c.len() == 2));
        match match_name(&items, "Sales 2025") {
            NameMatch::NotFound(s) => assert_eq!(s.first().map(|i| i.id.as_str()), Some("1"), "{s:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(match_name(&items, "Quarterly forecast"), NameMatch::NotFound(vec![]));
    }

    #[test]
    fn urls_give_ids() {
        let k = kind(&BASE.replace(
            "[request]",
            "url_patterns = ['^https://docs\\.google\\.com/spreadsheets/d/([A-Za-z0-9_-]+)']\n[request]",
        ));
        assert_eq!(
            id_from_url(
                &k,
                "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit#gid=0"
            )
            .as_deref(),
            Some("1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms")
        );
        assert_eq!(id_from_url(&k, "Sales 2026"), None);
    }
}
