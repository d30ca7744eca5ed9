use super::*;

fn src(name: &str, text: &str) -> Source {
    Source { origin: format!("providers/{name}.toml"), text: text.to_owned() }
}

const GOOD: &str = r#"
id = "acme"
name = "Acme"
description = "Widgets."
categories = ["crm"]
docs_url = "https://acme.example/docs"
api_base_url = "https://api.acme.example/v1"

[placeholders.region]
label = "Region"
pattern = "^(eu|us)$"
default = "eu"

[oauth2]
docs_url = "https://acme.example/docs/oauth"
authorization_url = "https://{region}.acme.example/authorize"
token_url = "https://{region}.acme.example/token"
default_scopes = ["read"]

[oauth2.identity]
docs_url = "https://acme.example/docs/me"
path = "/me"
id = "id"

[credentials.api_key]
label = "API key"
[[credentials.api_key.fields]]
name = "api_key"
label = "API key"
secret = true
prefixes = ["ak_"]
[credentials.api_key.auth]
header = { Authorization = "Bearer {api_key}" }
[credentials.api_key.test]
docs_url = "https://acme.example/docs/me"
path = "/me"
id = "id"
"#;

fn problems(text: &str) -> Vec<String> {
    match Catalog::load(&[src("acme", text)]) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_sound_entry_loads() {
    let cat = Catalog::load(&[src("acme", GOOD)]).unwrap();
    let p = cat.get("acme").unwrap();
    assert_eq!(p.oauth2.as_ref().unwrap().client_auth, ClientAuth::Basic);
    assert_eq!(p.credentials[&CredentialMode::ApiKey].fields[0].name, "api_key");
}

#[test]
fn an_undeclared_placeholder_is_refused() {
    let bad = GOOD.replace("https://{region}.acme.example/token", "https://{tenant}.acme.example/token");
    let p = problems(&bad);
    assert!(p.iter().any(|m| m.contains("oauth2.token_url") && m.contains("{tenant}")), "{p:?}");
}

#[test]
fn a_template_naming_a_missing_field_is_refused() {
    let bad = GOOD.replace("Bearer {api_key}", "Bearer {apikey}");
    let p = problems(&bad);
    assert!(p.iter().any(|m| m.contains("credentials.api_key.auth.header.Authorization")), "{p:?}");
}

#[test]
fn unknown_keys_bad_urls_and_categories_are_refused() {
    assert!(!problems(&GOOD.replace("docs_url", "doc_url")).is_empty(), "unknown key");
    let p = problems(&GOOD.replace("https://acme.example/docs", "not a url"));
    assert!(p.iter().any(|m| m.contains("docs_url")), "{p:?}");
    let p = problems(&GOOD.replace("[\"crm\"]", "[\"widgets\"]"));
    assert!(p.iter().any(|m| m.contains("categories")), "{p:?}");
    let p = problems(&GOOD.replace("^(eu|us)$", "(eu|us"));
    assert!(p.iter().any(|m| m.contains("placeholders.region.pattern")), "{p:?}");
}

#[test]
fn an_incomplete_mode_is_refused() {
    let no_test = GOOD.replace(
        "[credentials.api_key.test]\ndocs_url = \"https://acme.example/docs/me\"\npath = \"/me\"\nid = \"id\"\n",
        "",
    );
    let p = problems(&no_test);
    assert!(p.iter().any(|m| m.contains("credentials.api_key.test")), "{p:?}");
    let smtp = format!(
        "{GOOD}\n[credentials.smtp]\nlabel = \"SMTP\"\n[[credentials.smtp.fields]]\nname = \"host\"\nlabel = \"Host\"\nsecret = false\n"
    );
    let p = problems(&smtp);
    assert!(p.iter().any(|m| m.contains("credentials.smtp.test")), "{p:?}");
}

#[test]
fn the_id_must_match_the_file_and_be_unique_within_a_folder() {
    let e = Catalog::load(&[src("other", GOOD)]).unwrap_err();
    assert!(e.to_string().contains("file name"), "{e}");
    let e = Catalog::load(&[
        Source { origin: "a/acme.toml".into(), text: GOOD.into() },
        Source { origin: "a/acme.toml".into(), text: GOOD.into() },
    ])
    .unwrap_err();
    assert!(e.to_string().contains("also used"), "{e}");
}

#[test]
fn an_operator_file_overrides_a_builtin() {
    let over = GOOD.replace("name = \"Acme\"", "name = \"Acme (EU mirror)\"");
    let cat = Catalog::load(&[
        Source { origin: "builtin/acme.toml".into(), text: GOOD.into() },
        Source { origin: "/etc/switchboard/providers/acme.toml".into(), text: over },
    ])
    .unwrap();
    assert_eq!(cat.get("acme").unwrap().name, "Acme (EU mirror)");
}

#[test]
fn every_endpoint_names_its_documentation() {
    let bare = GOOD.replace("docs_url = \"https://acme.example/docs/me\"\n", "");
    let p = problems(&bare);
    assert!(p.iter().any(|m| m.contains("oauth2.identity.docs_url")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("credentials.api_key.test.docs_url")), "{p:?}");
    let http = GOOD.replace("https://acme.example/docs/oauth", "http://acme.example/docs/oauth");
    assert!(problems(&http).iter().any(|m| m.contains("oauth2.docs_url")), "docs must be https");
}

#[test]
fn a_pinned_version_must_be_carried_and_dated_correctly() {
    let with = |table: &str| GOOD.replace("\n[placeholders.region]", &format!("\n{table}\n[placeholders.region]"));
    assert!(
        problems(&with(
            "[api_version]\nversion = \"v1\"\ndocs_url = \"https://acme.example/versions\"\nends = \"2027-01-21\"\n"
        ))
        .is_empty()
    );
    let p = problems(&with("[api_version]\nversion = \"v9\"\ndocs_url = \"https://acme.example/versions\"\n"));
    assert!(p.iter().any(|m| m.contains("api_version.version")), "the version is not in any URL or header: {p:?}");
    let p = problems(&with(
        "[api_version]\nversion = \"v1\"\ndocs_url = \"https://acme.example/versions\"\nends = \"2027-02-30\"\n",
    ));
    assert!(p.iter().any(|m| m.contains("api_version.ends")), "not a calendar day: {p:?}");
}

#[test]
fn versions_ending_within_a_window_are_listed_by_date() {
    let entry = |id: &str, ends: &str| {
        let text = GOOD.replace("id = \"acme\"", &format!("id = \"{id}\"")).replace(
            "\n[placeholders.region]",
            &format!("\n[api_version]\nversion = \"v1\"\ndocs_url = \"https://acme.example/v\"\nends = \"{ends}\"\n\n[placeholders.region]"),
        );
        src(id, &text)
    };
    let cat = Catalog::load(&[entry("late", "2027-06-01"), entry("soon", "2027-01-21"), entry("gone", "2026-11-30")])
        .unwrap();
    let day = time::Date::from_calendar_date(2026, time::Month::December, 1).unwrap();
    let ids = |within| -> Vec<String> {
        versions_ending(cat.iter().map(AsRef::as_ref), day, within).into_iter().map(|(id, _, _)| id).collect()
    };
    assert_eq!(ids(0), ["gone"], "already past its end");
    assert_eq!(ids(90), ["gone", "soon"]);
    assert_eq!(ids(365), ["gone", "soon", "late"]);
}

#[test]
fn token_params_and_callback_placeholders_are_checked() {
    let with_oauth =
        |extra: &str| GOOD.replace("default_scopes = [\"read\"]", &format!("default_scopes = [\"read\"]\n{extra}"));
    assert!(problems(&with_oauth("token_params = { expiring = \"{region}\" }")).is_empty());
    assert!(!problems(&with_oauth("token_params = { expiring = \"{nope}\" }")).is_empty(), "undeclared name");
    assert!(!problems(&with_oauth("token_params = { code = \"x\" }")).is_empty(), "the flow's own parameter");
    let per_account = GOOD.replace("label = \"Region\"", "label = \"Region\"\nper_account = true");
    let cp = |text: &str, pattern: &str| {
        problems(&text.replace(
            "default_scopes = [\"read\"]",
            &format!("default_scopes = [\"read\"]\ncallback_placeholders = {{ region = {{ param = \"location\", pattern = '{pattern}' }} }}"),
        ))
    };
    assert!(cp(&per_account, "^(eu|us)$").is_empty());
    assert!(!cp(GOOD, "^(eu|us)$").is_empty(), "only a per-account value may come from the callback");
    assert!(!cp(&per_account, "^eu$").is_empty(), "needs a capture group");
}

#[test]
fn a_url_placeholder_cannot_be_per_account() {
    let bad = GOOD.replace("label = \"Region\"", "label = \"Region\"\nper_account = true\nformat = \"url\"");
    assert!(problems(&bad).iter().any(|m| m.contains("per_account")), "{:?}", problems(&bad));
}

const ACTIONS: &str = r#"
[resources.board]
label = "Board"
docs_url = "https://acme.example/docs/boards"
items = "boards"
id = "id"
name = "name"
[resources.board.request]
path = "/boards"

[resources.list]
label = "List"
docs_url = "https://acme.example/docs/lists"
parents = ["board"]
items = "lists"
id = "id"
name = "name"
[resources.list.request]
path = "/boards/{board}/lists"

[actions.create_card]
title = "Create a card"
description = "Creates a card at the end of a list; `list` takes the list's id or its name."
docs_url = "https://acme.example/docs/cards"
scopes = ["read"]
output = { id = "id" }
[actions.create_card.input]
type = "object"
required = ["board", "list", "name"]
properties = { board = { type = "string", x-resource = "board" }, list = { type = "string", x-resource = "list" }, name = { type = "string" }, due = { type = "string", format = "date-time" } }
[actions.create_card.request]
method = "POST"
path = "/lists/{input.list}/cards"
body = "json"
params = { name = "{input.name}", due = "{input.due}", board_name = "{resolved.board.name}" }
"#;

#[test]
fn a_sound_action_loads() {
    assert_eq!(problems(&format!("{GOOD}{ACTIONS}")), Vec::<String>::new());
}

#[test]
fn actions_are_checked_against_their_schema_kinds_and_templates() {
    let cases = [
        // A schema that is not JSON Schema.
        (r#"required = ["board", "list", "name"]"#, r#"required = "board""#, "JSON Schema 2020-12"),
        // A binding to a kind the provider lacks, and a child bound without its parent.
        (
            r#"board = { type = "string", x-resource = "board" }"#,
            r#"board = { type = "string", x-resource = "boards" }"#,
            "not a resource kind",
        ),
        (r#"board = { type = "string", x-resource = "board" }, "#, "", "needs its board"),
        // A template naming an input the schema does not declare, and an optional one in the path.
        (r#"due = "{input.due}""#, r#"due = "{input.when}""#, "{input.when}"),
        (r#"path = "/lists/{input.list}/cards""#, r#"path = "/lists/{input.due}/cards""#, "must be a required input"),
        // A scope the provider does not grant, a missing request, a poor description.
        (r#"scopes = ["read"]"#, r#"scopes = ["write"]"#, "not among [oauth2]"),
        ("[actions.create_card.request]", "[actions.create_card.unused]", "unknown field"),
        (
            "Creates a card at the end of a list; `list` takes the list's id or its name.",
            "Makes a card.",
            "40 characters",
        ),
    ];
    for (from, to, expected) in cases {
        let text = format!("{GOOD}{}", ACTIONS.replacen(from, to, 1));
        let found = problems(&text);
        assert!(found.iter().any(|p| p.contains(expected)), "{to:?}: expected {expected:?} in {found:?}");
    }
}
