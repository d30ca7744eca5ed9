//! What `/openapi.json` says beyond the routes' own annotations, kept in one place so it stays
//! equal to what the server enforces: the refusals every operation of a kind can answer, the
//! constraints the services check (each value list is the constant the service checks against; URLs
//! are left as strings, since no pattern states exactly what the URL Standard's parser accepts),
//! and the links from each create to the reads, updates and deletes of what it made.

use utoipa::openapi::{Object, RefOr, Schema};

/// Refusals every operation of a kind can answer, documented once here rather than on each route:
/// a bearer-authenticated one can be unauthenticated (401), forbidden (403) or over its rate (429);
/// one with input can get 400; one with a body 413 and 415; every one that reads the database 503.
pub(super) fn document_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};
    let error = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    for (path, item) in &mut doc.paths.paths {
        let public = matches!(path.as_str(), "/healthz" | "/metrics" | "/openapi.json");
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
            &mut item.head,
            &mut item.options,
        ]
        .into_iter()
        .flatten()
        {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_input = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let has_body = op.request_body.is_some();
            let mut refusals = Vec::new();
            if secured {
                refusals.push(("401", "no bearer token, or one that is unknown, revoked or expired"));
                refusals.push(("403", "the token may not do this (a session acting beyond its user or role)"));
                refusals.push((
                    "429",
                    "the key's or session's rate is spent (SWITCHBOARD_RATE_LIMIT_*); Retry-After and RateLimit say when to come back",
                ));
            }
            if has_input || has_body {
                refusals.push(("400", "a parameter or the body is wrong; the message and `field` name it"));
            }
            if has_body {
                refusals.push(("413", "the body is larger than SWITCHBOARD_MAX_BODY_BYTES"));
                refusals.push(("415", "the body is not sent as the content type this operation takes"));
            }
            if !public {
                refusals.push(("503", "the database is unavailable (down, full, read-only); try again shortly"));
            }
            for (code, what) in refusals {
                op.responses.responses.entry(code.to_owned()).or_insert_with(|| error(what));
            }
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(param) = param {
                    match param.name.as_str() {
                        "limit" => set_limit_range(param, path),
                        "org" | "user" => {
                            if let Some(RefOr::T(Schema::Object(o))) = param.schema.as_mut() {
                                o.pattern = Some(switchboard_core::ids::NAME_PATTERN.to_owned());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // Bodies: the org and user fields, and an integration's id, follow the same rules.
    if let Some(components) = doc.components.as_mut() {
        for (name, schema) in &mut components.schemas {
            let RefOr::T(Schema::Object(o)) = schema else { continue };
            for (field, prop) in &mut o.properties {
                let pattern = match (name.as_str(), field.as_str()) {
                    (_, "org" | "user") => switchboard_core::ids::NAME_PATTERN,
                    ("CreateIntegration", "id") | (_, "integration") => switchboard_core::ids::INTEGRATION_ID_PATTERN,
                    _ => continue,
                };
                if let RefOr::T(Schema::Object(p)) = prop {
                    p.pattern = Some(pattern.to_owned());
                }
            }
        }
    }
}

/// The ranges the server enforces for `limit`: 1 to 500 for lists, 1 to the listing maximum
/// (SWITCHBOARD_LISTING_MAX_LIMIT, 100 by default) for resource listings, 1 to 50 for context names.
fn set_limit_range(param: &mut utoipa::openapi::path::Parameter, path: &str) {
    use utoipa::openapi::{RefOr, Schema};
    let max: usize = if path.contains("/resources/") {
        100
    } else if path == "/v1/context" {
        50
    } else {
        500
    };
    if let Some(RefOr::T(Schema::Object(o))) = param.schema.as_mut() {
        o.minimum = Some(1usize.into());
        o.maximum = Some(max.into());
    }
}

/// A constraint the services enforce on a string, number or list.
enum Rule {
    /// One of these values.
    OneOf(&'static [&'static str]),
    /// 1 to this many characters.
    Length(usize),
    /// 1 to this many characters once trimmed: not only spaces.
    Label(usize),
    /// At least this much.
    AtLeast(i64),
    /// 1 to this many items.
    Items(usize),
}

/// Body fields: (component, field, rule).
const BODY_RULES: &[(&str, &str, Rule)] = &[
    ("CreateSession", "role", Rule::OneOf(&switchboard_core::access::Role::NAMES)),
    ("CreateSession", "locale", Rule::OneOf(crate::services::auth::LOCALES)),
    ("CreateSession", "ttl_s", Rule::AtLeast(60)),
    ("CreateSession", "providers", Rule::Items(500)),
    ("CreateConnection", "label", Rule::Label(200)),
    ("CreateConnection", "auth_mode", Rule::OneOf(&switchboard_core::catalog::CredentialMode::NAMES)),
    ("TestCredentials", "auth_mode", Rule::OneOf(&switchboard_core::catalog::CredentialMode::NAMES)),
    ("UpdateConnection", "label", Rule::Label(200)),
    ("StartBody", "label", Rule::Label(200)),
    ("CreateEndpoint", "scheme", Rule::OneOf(&["shared-secret", "hmac-sha256", "standard-webhooks"])),
    ("CreateEndpoint", "secret", Rule::Length(1024)),
    ("RotateBody", "secret", Rule::Length(1024)),
    ("CreateIntegration", "client_secret", Rule::Length(4096)),
    ("UpdateIntegration", "client_secret", Rule::Length(4096)),
    ("CreateIntegration", "client_auth", Rule::OneOf(&["basic", "post"])),
];

/// Query parameters: (path, parameter, rule).
const QUERY_RULES: &[(&str, &str, Rule)] = &[
    ("/v1/connections", "status", Rule::OneOf(&crate::services::credentials::connections::status::ALL)),
    ("/oauth/callback", "state", Rule::Length(4096)),
];

fn apply(rule: &Rule, o: &mut Object) {
    match rule {
        Rule::OneOf(values) => o.enum_values = Some(values.iter().map(|v| (*v).into()).collect()),
        Rule::Length(max) => {
            o.min_length = Some(1);
            o.max_length = Some(*max);
        }
        Rule::Label(max) => {
            o.min_length = Some(1);
            o.max_length = Some(*max);
            o.pattern = Some(r"\S".to_owned());
        }
        Rule::AtLeast(min) => o.minimum = Some((*min).into()),
        // A list's rule applies to the array schema, in `document_constraints`.
        Rule::Items(_) => {}
    }
}

/// Writes [`BODY_RULES`] and [`QUERY_RULES`] into the document. A rule naming a field or parameter
/// the document lacks is a mistake caught by the `contract` unit test below.
pub(super) fn document_constraints(doc: &mut utoipa::openapi::OpenApi) {
    if let Some(components) = doc.components.as_mut() {
        for (component, field, rule) in BODY_RULES {
            let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(*component) else { continue };
            let Some(RefOr::T(prop)) = o.properties.get_mut(*field) else { continue };
            match (prop, rule) {
                (Schema::Array(a), Rule::Items(max)) => {
                    a.min_items = Some(1);
                    a.max_items = Some(*max);
                }
                (Schema::Object(p), rule) => apply(rule, p),
                _ => {}
            }
        }
    }
    for (path, param, rule) in QUERY_RULES {
        let Some(item) = doc.paths.paths.get_mut(*path) else { continue };
        for p in item.get.iter_mut().flat_map(|op| op.parameters.iter_mut().flatten()) {
            if let RefOr::T(p) = p
                && p.name == *param
                && let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut()
            {
                apply(rule, o);
            }
        }
    }
}

/// Answers of an operation that are its own shape or, when the request itself cannot be read (an
/// unknown field, JSON that does not parse), the error body: (operation id, statuses).
const OWN_SHAPE_OR_ERROR: &[(&str, &[&str])] = &[("test_new_credentials", &["400", "422", "429", "502"])];

pub(super) fn document_either_shapes(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::Ref;
    use utoipa::openapi::schema::AnyOfBuilder;
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let Some((_, codes)) = OWN_SHAPE_OR_ERROR.iter().find(|(id, _)| op.operation_id.as_deref() == Some(*id))
            else {
                continue;
            };
            for code in *codes {
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(*code) else { continue };
                for content in response.content.values_mut() {
                    let RefOr::T(content) = content else { continue };
                    if let Some(own) = content.schema.take() {
                        let either = AnyOfBuilder::new().item(own).item(Ref::from_schema_name("ErrorBody")).build();
                        content.schema = Some(RefOr::T(Schema::AnyOf(either)));
                    }
                }
            }
        }
    }
}

/// The proxy relays the provider's answer with its status, headers and body, so any status can carry
/// any content: Switchboard's own refusals are [`ErrorBody`](super::error::ErrorBody) JSON, the
/// provider's are whatever it sent.
pub(super) fn document_proxy(doc: &mut utoipa::openapi::OpenApi, path: &str) {
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};
    let Some(item) = doc.paths.paths.get_mut(path) else { return };
    for op in operations_mut(item) {
        op.responses.responses.entry("default".to_owned()).or_insert_with(|| {
            RefOr::T(ResponseBuilder::new().description("the provider's answer, relayed as it came").build())
        });
        for (code, response) in &mut op.responses.responses {
            let RefOr::T(response) = response else { continue };
            if code != "200" && code != "default" {
                response.description =
                    format!("{} — or the provider's own answer with this status, relayed", response.description);
            }
            response.content.clear();
            response
                .content
                .insert("*/*".to_owned(), RefOr::T(ContentBuilder::new().schema(Some(Schema::default())).build()));
        }
        for p in op.parameters.iter_mut().flatten() {
            if let RefOr::T(p) = p
                && p.name == "Switchboard-Rate-Limit-Retries"
                && let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut()
            {
                o.maximum = Some(crate::services::using::proxy::MAX_RATE_LIMIT_RETRIES.into());
            }
        }
    }
}

/// From each create (operation id, success status, the answer's field holding the new id) to the
/// operations that take that id as their `{id}` (or `{connection_id}`) path parameter.
const LINKS: &[(&str, &str, &str, &[&str])] = &[
    ("create_integration", "201", "id", &["get_integration", "update_integration", "delete_integration"]),
    (
        "create_connection",
        "201",
        "id",
        &[
            "get_connection",
            "update_connection",
            "delete_connection",
            "read_credentials",
            "list_actions",
            "list_kinds",
            "retest_connection",
            "refresh_connection",
            "list_resources",
            "resolve",
            "run_action",
            "proxy_get",
            "proxy_post",
            "proxy_put",
            "proxy_patch",
            "proxy_delete",
        ],
    ),
    ("create_session", "201", "id", &["revoke_session"]),
    ("create_subscription", "201", "id", &["delete_subscription"]),
    ("create_endpoint", "201", "id", &["rotate_endpoint", "delete_endpoint", "webhook_handshake", "receive"]),
    ("start", "200", "handshake_id", &["handshake"]),
    ("list_events", "200", "items/0/id", &["get_event", "replay_event"]),
];

/// Writes [`LINKS`] into the create operations' answers, for clients and stateful testers that
/// follow a new id to what can be done with it.
pub(super) fn document_links(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::link::LinkBuilder;
    let mut targets = std::collections::BTreeMap::new();
    for op in doc.paths.paths.values().flat_map(operations) {
        if let Some(id) = &op.operation_id {
            let param = op
                .parameters
                .iter()
                .flatten()
                .filter_map(|p| if let RefOr::T(p) = p { Some(p) } else { None })
                .find(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path))
                .map(|p| p.name.clone());
            if let Some(param) = param {
                targets.insert(id.clone(), param);
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let Some(id) = op.operation_id.clone() else { continue };
            let Some((_, status, field, to)) = LINKS.iter().find(|(from, ..)| *from == id) else { continue };
            let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else { continue };
            for target in *to {
                let Some(param) = targets.get(*target) else { continue };
                let link = LinkBuilder::new()
                    .operation_id(*target)
                    .parameter(param.clone(), format!("$response.body#/{field}"))
                    .description(format!("The new {field} as `{param}`"))
                    .build();
                response.links.insert((*target).to_owned(), RefOr::T(link));
            }
        }
    }
}

fn operations(item: &utoipa::openapi::PathItem) -> impl Iterator<Item = &utoipa::openapi::path::Operation> {
    [&item.get, &item.post, &item.put, &item.patch, &item.delete, &item.head, &item.options].into_iter().flatten()
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete, &mut item.head, &mut item.options]
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule and link names something the document has, so none is silently dropped.
    #[test]
    fn every_rule_and_link_meets_its_target() {
        let doc = super::super::openapi_document();
        let json: serde_json::Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
        for (component, field, _) in BODY_RULES {
            assert!(
                json["components"]["schemas"][component]["properties"].get(field).is_some(),
                "{component}.{field} is not in the document"
            );
        }
        for (path, param, _) in QUERY_RULES {
            let params = json["paths"][path]["get"]["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == *param), "{path} has no parameter {param}");
        }
        let ids: Vec<&str> = json["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        for (from, _, _, to) in LINKS {
            for id in std::iter::once(from).chain(to.iter()) {
                assert!(ids.contains(id), "no operation {id}");
            }
        }
    }
}
