//! Values given by name against a schema a resource kind reads (Airtable's fields, Notion's
//! properties): names matched as resolve matches them, every unknown, repeated or mistyped value
//! a problem at its JSON pointer, all at once.

use serde_json::{Map, Value, json};
use switchboard_core::resources::{self as core_resources, Item};

use crate::services::InputProblem;

/// A JSON pointer below `base` to the member `name` (RFC 6901 escapes).
pub(super) fn pointer(base: &str, name: &str) -> String {
    format!("{base}/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// The item named `name`: by its exact name, else as resolve matches names.
pub(super) fn find<'a>(items: &'a [Item], name: &str) -> Option<&'a Item> {
    let wanted = core_resources::normalize(name);
    items
        .iter()
        .find(|i| i.name == name)
        .or_else(|| items.iter().find(|i| core_resources::normalize(&i.name) == wanted))
}

/// A name that is none of `items` (`what` of `whose`): the problem, with the real names and the
/// closest ones.
pub(super) fn unknown(path: String, items: &[Item], name: &str, what: &str, whose: &str) -> InputProblem {
    let real: Vec<String> = items.iter().map(|i| format!("{:?}", i.name)).collect();
    InputProblem {
        path,
        message: if real.is_empty() {
            format!("{whose} has no {what}s, so there is no {what} {name:?}")
        } else {
            format!("{whose} has no {what} {name:?}; its {what}s are {}", real.join(", "))
        },
        candidates: Some(
            core_resources::suggestions(items, &core_resources::normalize(name), 5)
                .iter()
                .map(|i| json!({"id": i.id, "name": i.name}))
                .collect(),
        ),
    }
}

/// A choice among `choices` (`[{name}]`), matched as names are: its real name.
pub(super) fn choice(choices: Option<&Value>, given: &str) -> Result<String, String> {
    let names: Vec<&str> =
        choices.and_then(Value::as_array).into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
    let wanted = core_resources::normalize(given);
    names
        .iter()
        .find(|n| **n == given)
        .or_else(|| names.iter().find(|n| core_resources::normalize(n) == wanted))
        .map(|n| (*n).to_owned())
        .ok_or_else(|| {
            let listed: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            format!("{given:?} is not one of its options ({})", listed.join(", "))
        })
}

/// `given` (name → value) mapped onto `schema`'s items under their real names, each value
/// converted by `convert(kind, item, value)` (`kind` is the item's `type` field); the problems,
/// each at its pointer below `base`, for names that are unknown (`what` of `whose`), repeated or
/// not convertible.
pub(super) fn map_by_name(
    given: &Map<String, Value>,
    schema: &[Item],
    base: &str,
    what: &str,
    whose: &str,
    convert: impl Fn(&str, &Item, &Value) -> Result<Value, String>,
) -> (Map<String, Value>, Vec<InputProblem>) {
    let mut out = Map::new();
    let mut problems = Vec::new();
    for (name, value) in given {
        let path = pointer(base, name);
        let Some(item) = find(schema, name) else {
            problems.push(unknown(path, schema, name, what, whose));
            continue;
        };
        if out.contains_key(&item.name) {
            problems.push(InputProblem {
                path,
                message: format!("{what} {:?} is given twice", item.name),
                candidates: None,
            });
            continue;
        }
        let kind = item.fields.get("type").and_then(Value::as_str).unwrap_or_default();
        match convert(kind, item, value) {
            Ok(v) => {
                out.insert(item.name.clone(), v);
            }
            Err(message) => problems.push(InputProblem { path, message, candidates: None }),
        }
    }
    (out, problems)
}
