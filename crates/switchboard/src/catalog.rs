//! Loads the provider catalog: the entries compiled into the binary, then the
//! operator's folder, whose files add entries or replace built-in ones.

use std::path::Path;

use switchboard_core::catalog::{Catalog, CatalogErrors, Source};

include!(concat!(env!("OUT_DIR"), "/builtin_providers.rs"));

#[derive(Debug, thiserror::Error)]
pub enum CatalogLoadError {
    #[error("cannot read the providers folder {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] CatalogErrors),
}

/// The built-in entries as sources.
#[must_use]
pub fn builtin_sources() -> Vec<Source> {
    BUILTIN_PROVIDERS
        .iter()
        .map(|(name, text)| Source { origin: format!("builtin/{name}"), text: (*text).to_owned() })
        .collect()
}

/// Every `*.toml` file in `dir`, sorted by name.
pub fn folder_sources(dir: &Path) -> Result<Vec<Source>, CatalogLoadError> {
    let io = |source| CatalogLoadError::Io { path: dir.display().to_string(), source };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(io)?;
            Ok(Source { origin: p.display().to_string(), text })
        })
        .collect()
}

/// The built-in catalog plus the operator's folder, validated together.
pub fn load(operator_dir: Option<&Path>) -> Result<Catalog, CatalogLoadError> {
    let mut sources = builtin_sources();
    if let Some(dir) = operator_dir {
        sources.extend(folder_sources(dir)?);
    }
    Ok(Catalog::load(&sources)?)
}

#[cfg(test)]
mod tests {
    use switchboard_core::catalog::{CredentialMode, Provider};

    use super::*;

    /// The ids API.md fixes, all of which the catalog must hold.
    const FIXED_IDS: &[&str] = &[
        "google-sheets",
        "google-drive",
        "google-calendar",
        "google-forms",
        "gmail",
        "slack",
        "airtable",
        "notion",
        "trello",
        "github",
        "discord",
        "sendgrid",
        "twilio",
        "openai",
        "shopify",
        "zapier",
        "whatsapp",
        "linkedin",
        "instagram",
        "facebook",
        "microsoft-teams",
        "outlook",
        "outlook-calendar",
        "telegram",
        "smtp",
        "stripe",
        "paypal",
        "webhook",
        "custom-oauth2",
        "custom-api-key",
    ];

    fn field_names(p: &Provider, mode: CredentialMode) -> Vec<&str> {
        p.credentials[&mode].fields.iter().map(|f| f.name.as_str()).collect()
    }

    /// A built-in entry still pinning a version its provider no longer serves fails here, before a
    /// release; `switchboard providers list --expiring DAYS` shows what comes next.
    #[test]
    fn no_builtin_entry_pins_an_api_version_past_its_end() {
        use crate::clock::Clock as _;
        let catalog = load(None).unwrap_or_else(|e| panic!("{e}"));
        let today = crate::clock::SystemClock.now().date();
        let ended = switchboard_core::catalog::versions_ending(catalog.iter().map(AsRef::as_ref), today, 0);
        assert!(
            ended.is_empty(),
            "API versions past their end on {today}: {ended:?}; move these entries to a current version"
        );
        // The versions a review named are current.
        for (id, version) in
            [("shopify", "2026-10"), ("facebook", "v26.0"), ("instagram", "v26.0"), ("whatsapp", "v26.0")]
        {
            assert_eq!(
                catalog.get(id).and_then(|p| p.api_version.as_ref()).map(|v| v.version.as_str()),
                Some(version),
                "{id}"
            );
        }
    }

    #[test]
    fn the_builtin_catalog_is_valid_and_complete() {
        let catalog = load(None).unwrap_or_else(|e| panic!("{e}"));
        assert!(catalog.len() >= 70, "{} providers; the product promises 70 or more", catalog.len());
        for id in FIXED_IDS {
            assert!(catalog.get(id).is_some(), "{id} is missing");
        }
        let get = |id: &str| catalog.get(id).unwrap();
        assert_eq!(field_names(get("telegram"), CredentialMode::BotToken), ["bot_token"]);
        assert_eq!(field_names(get("openai"), CredentialMode::ApiKey), ["api_key"]);
        // SendGrid also takes an optional region (api_host) for EU-pinned subusers.
        let sendgrid = &get("sendgrid").credentials[&CredentialMode::ApiKey];
        let required: Vec<&str> = sendgrid.fields.iter().filter(|f| f.required).map(|f| f.name.as_str()).collect();
        assert_eq!(required, ["api_key"]);
        assert_eq!(field_names(get("twilio"), CredentialMode::Basic), ["account_sid", "auth_token"]);
        assert_eq!(field_names(get("trello"), CredentialMode::ApiKey), ["api_key", "token"]);
        assert_eq!(field_names(get("discord"), CredentialMode::Webhook), ["webhook_url"]);
        let mut smtp = field_names(get("smtp"), CredentialMode::Smtp);
        smtp.sort_unstable();
        assert_eq!(smtp, ["from", "host", "password", "port", "security", "username"]);
        let mut custom = field_names(get("custom-api-key"), CredentialMode::ApiKey);
        custom.sort_unstable();
        assert!(custom.contains(&"base_url") && custom.contains(&"header_name") && custom.contains(&"api_key"));
        assert!(get("custom-oauth2").oauth2.is_some());
        // Every OAuth provider the users named has an OAuth flow.
        for id in [
            "google-sheets",
            "gmail",
            "slack",
            "notion",
            "github",
            "shopify",
            "linkedin",
            "facebook",
            "instagram",
            "microsoft-teams",
            "outlook",
        ] {
            assert!(get(id).oauth2.is_some(), "{id} has no [oauth2]");
        }
        // One Google app serves several scope sets.
        for id in ["google-sheets", "google-drive", "google-calendar", "google-forms", "gmail"] {
            assert_eq!(get(id).app_group.as_deref(), Some("google"), "{id}");
        }
    }

    #[test]
    fn operator_files_add_and_override_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let github = BUILTIN_PROVIDERS.iter().find(|(n, _)| *n == "github.toml").unwrap().1;
        std::fs::write(
            dir.path().join("github.toml"),
            github.replace("name = \"GitHub\"", "name = \"GitHub Enterprise\""),
        )
        .unwrap();
        let catalog = load(Some(dir.path())).unwrap();
        assert_eq!(catalog.get("github").unwrap().name, "GitHub Enterprise");
        std::fs::write(dir.path().join("acme.toml"), "id = \"acme\"\nname = \"Acme\"\n").unwrap();
        let err = load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("acme.toml") && err.contains("missing field"), "{err}");
    }
}
