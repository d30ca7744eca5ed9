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
authorization_url = "https://{region}.acme.example/authorize"
token_url = "https://{region}.acme.example/token"
default_scopes = ["read"]

[oauth2.identity]
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
    let no_test = GOOD.replace("[credentials.api_key.test]\npath = \"/me\"\nid = \"id\"\n", "");
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
