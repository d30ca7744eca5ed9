//! OAuth 2.0 as the catalog describes each provider: the authorization URL,
//! the code exchange, refresh, the long-lived exchange, revocation, and the
//! classification of token-endpoint errors. Written against the catalog rather
//! than a generic client because providers differ in exactly these places:
//! errors inside 200 answers (Slack), JSON request bodies and Basic client
//! authentication (Notion), nested token paths, form-encoded answers, per-shop
//! or per-tenant URLs, and secondary exchanges (Meta).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use switchboard_core::catalog::{BodyKind, ClientAuth, OAuth2, Provider, RequestAuth, RequestSpec, path};
use zeroize::Zeroize;

use crate::outbound::{Outbound, OutboundError, OutboundRequest, OutboundResponse};
use crate::services::ServiceError;
use crate::services::credentials::connector::{self, Vars};

/// Tokens as stored (sealed) for an OAuth connection. Never printed.
#[derive(Clone, Serialize, Deserialize, Default)]
pub struct OAuthTokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default = "bearer")]
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Further secrets the provider returned with the tokens (Slack's user token).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

impl std::fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("token_type", &self.token_type)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for OAuthTokens {
    fn drop(&mut self) {
        self.access_token.zeroize();
        if let Some(r) = &mut self.refresh_token {
            r.zeroize();
        }
        if let Some(i) = &mut self.id_token {
            i.zeroize();
        }
        for v in self.extra.values_mut() {
            v.zeroize();
        }
    }
}

/// What a token endpoint answered.
#[derive(Debug)]
pub struct TokenAnswer {
    pub tokens: OAuthTokens,
    pub expires_in: Option<u64>,
    /// Scopes granted, when the provider says.
    pub scopes: Option<Vec<String>>,
    /// Account metadata found in the answer.
    pub metadata: BTreeMap<String, Value>,
}

/// Why a token request failed, in the terms the lifecycle acts on.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The grant is gone (revoked, expired or rotated away): only the user can fix it.
    #[error("{provider} refused the grant ({code}): {description}")]
    Grant { provider: String, code: String, description: String },
    /// The client id or secret was refused: the operator must fix the integration.
    #[error("{provider} refused the client ({code}): {description}; check the integration's client id and secret")]
    Client { provider: String, code: String, description: String },
    #[error("{provider} is rate-limiting token requests")]
    RateLimited { provider: String, retry_after_s: Option<u64> },
    /// Worth retrying later: timeouts, 5xx, unreachable, malformed answers.
    #[error("{0}")]
    Transient(String),
}

impl TokenError {
    /// A short, bounded label for metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Grant { .. } => "invalid_grant",
            Self::Client { .. } => "invalid_client",
            Self::RateLimited { .. } => "rate_limited",
            Self::Transient(_) => "transient",
        }
    }
}

/// A new PKCE verifier (43 characters, 256 bits) and its S256 challenge.
#[must_use]
pub fn pkce_pair() -> (SecretString, String) {
    let verifier = URL_SAFE_NO_PAD.encode(switchboard_core::random::bytes::<32>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (SecretString::from(verifier), challenge)
}

/// The state parameter: 256 random bits.
#[must_use]
pub fn new_state() -> SecretString {
    SecretString::from(URL_SAFE_NO_PAD.encode(switchboard_core::random::bytes::<32>()))
}

/// Everything about one provider's OAuth as a connection uses it: the catalog
/// entry with the integration's overrides (custom-oauth2 endpoints, fixed placeholders).
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub provider: std::sync::Arc<Provider>,
    pub spec: OAuth2,
    pub integration: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub redirect_uri: String,
    /// Placeholder values (shop, tenant, custom endpoints).
    pub placeholders: BTreeMap<String, String>,
}

impl OAuthApp {
    fn vars(&self) -> Vars<'_> {
        let mut v =
            Vars { fields: None, extra: BTreeMap::new(), placeholders: self.placeholders.clone(), metadata: None };
        v.extra.insert("client_id", self.client_id.clone());
        if let Some(s) = &self.client_secret {
            v.extra.insert("client_secret", s.expose_secret().to_owned());
        }
        v
    }

    /// The authorization URL the user's browser is sent to (before origin overrides).
    pub fn authorize_url(
        &self,
        scopes: &[String],
        state: &str,
        pkce_challenge: Option<&str>,
    ) -> Result<url::Url, ServiceError> {
        let base = self.vars().render_url(&self.spec.authorization_url)?;
        let mut url = url::Url::parse(&base).map_err(|e| {
            ServiceError::invalid("params", format!("the authorization URL made from these values is not valid: {e}"))
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", &self.client_id);
            q.append_pair("redirect_uri", &self.redirect_uri);
            if !scopes.is_empty() {
                q.append_pair(&self.spec.scope_param, &scopes.join(&self.spec.scope_separator));
            }
            q.append_pair("state", state);
            if let Some(c) = pkce_challenge {
                q.append_pair("code_challenge", c);
                q.append_pair("code_challenge_method", "S256");
            }
            for (k, v) in &self.spec.authorize_params {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// The expected `iss` of the callback, when the provider declares one.
    pub fn issuer(&self) -> Result<Option<String>, ServiceError> {
        self.spec.issuer.as_deref().map(|i| self.vars().render_url(i)).transpose()
    }

    /// Trades an authorization code for tokens.
    pub async fn exchange_code(
        &self,
        outbound: &Outbound,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<TokenAnswer, TokenError> {
        let mut params = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", self.redirect_uri.clone()),
        ];
        if let Some(v) = verifier {
            params.push(("code_verifier", v.to_owned()));
        }
        let vars = self.vars();
        for (name, template) in &self.spec.token_params {
            let value = vars.render(template).map_err(|e| TokenError::Transient(e.to_string()))?;
            // An empty value (a setting turned off) leaves the parameter out.
            if !value.is_empty() {
                params.push((name.as_str(), value));
            }
        }
        let url = vars.render_url(&self.spec.token_url).map_err(|e| TokenError::Transient(e.to_string()))?;
        let res = self.token_request(outbound, &url, params).await?;
        self.read_token_answer(&res)
    }

    /// Trades a refresh token for new tokens.
    pub async fn refresh(&self, outbound: &Outbound, refresh_token: &str) -> Result<TokenAnswer, TokenError> {
        let params = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh_token.to_owned())];
        let template = self.spec.refresh_url.as_deref().unwrap_or(&self.spec.token_url);
        let url = self.vars().render_url(template).map_err(|e| TokenError::Transient(e.to_string()))?;
        let res = self.token_request(outbound, &url, params).await?;
        self.read_token_answer(&res)
    }

    async fn token_request(
        &self,
        outbound: &Outbound,
        url: &str,
        mut params: Vec<(&str, String)>,
    ) -> Result<OutboundResponse, TokenError> {
        let url = url::Url::parse(url).map_err(|e| TokenError::Transient(format!("token URL: {e}")))?;
        let mut req = OutboundRequest::new(Method::POST, url);
        req.headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        match self.spec.client_auth {
            ClientAuth::Basic => {
                // RFC 6749 2.3.1: form-encode both parts before joining them.
                let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let secret = self.client_secret.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
                let value = format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(&self.client_id), enc(&secret))));
                let mut hv = HeaderValue::from_str(&value)
                    .map_err(|_| TokenError::Transient("client credentials are not header-safe".into()))?;
                hv.set_sensitive(true);
                req.headers.insert(AUTHORIZATION, hv);
                if self.client_secret.is_none() {
                    req.headers.remove(AUTHORIZATION);
                    params.push(("client_id", self.client_id.clone()));
                }
            }
            ClientAuth::Post => {
                params.push(("client_id", self.client_id.clone()));
                if let Some(s) = &self.client_secret {
                    params.push(("client_secret", s.expose_secret().to_owned()));
                }
            }
        }
        let body = match self.spec.token_request_body {
            BodyKind::Json => {
                req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Value::Object(params.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect())
                    .to_string()
            }
            _ => {
                req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish()
            }
        };
        for (_, v) in &mut params {
            v.zeroize();
        }
        req.body = Some(body.into());
        outbound.send(req).await.map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: OutboundError) -> TokenError {
        TokenError::Transient(format!("{}'s token endpoint could not be reached: {e}", self.provider.name))
    }

    /// Reads a token answer: JSON (or form-encoded), errors in any status, tokens at the catalog's paths.
    pub fn read_token_answer(&self, res: &OutboundResponse) -> Result<TokenAnswer, TokenError> {
        let name = self.provider.name.clone();
        let doc = res.json().or_else(|| {
            let text = String::from_utf8_lossy(&res.body);
            text.contains('=').then(|| {
                Value::Object(
                    url::form_urlencoded::parse(text.as_bytes())
                        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                        .collect(),
                )
            })
        });
        let status = res.status.as_u16();
        if status == 429 {
            return Err(TokenError::RateLimited { provider: name, retry_after_s: res.retry_after() });
        }
        let Some(doc) = doc else {
            return Err(TokenError::Transient(format!(
                "{name}'s token endpoint answered HTTP {status} without a readable body"
            )));
        };
        let error_code = doc.get("error").and_then(Value::as_str).filter(|e| !e.is_empty());
        let failed_ok = self.spec.error_in_ok_false && doc.get("ok") == Some(&Value::Bool(false));
        if error_code.is_some() || failed_ok || !(200..300).contains(&status) {
            if status >= 500 {
                return Err(TokenError::Transient(format!("{name}'s token endpoint failed with HTTP {status}")));
            }
            let code = error_code.unwrap_or("unknown_error").to_owned();
            let description = doc
                .get("error_description")
                .and_then(Value::as_str)
                .map_or_else(|| describe(&code), |d| connector::scrub(d, &[]));
            return Err(classify_error(&name, code, description));
        }
        let tf = &self.spec.token_fields;
        let text = |p: &str| path::get_text(&doc, p);
        let access_token = text(&tf.access_token).ok_or_else(|| {
            TokenError::Transient(format!("{name}'s token answer has no access token at {:?}", tf.access_token))
        })?;
        let expires_in = path::get(&doc, &tf.expires_in)
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
        let scopes = path::get(&doc, &tf.scope).and_then(|v| match v {
            Value::String(s) => Some(s.split([' ', ',']).filter(|x| !x.is_empty()).map(str::to_owned).collect()),
            Value::Array(a) => Some(a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()),
            _ => None,
        });
        let metadata = self
            .spec
            .token_metadata
            .iter()
            .filter_map(|(k, p)| path::get(&doc, p).filter(|v| !v.is_null()).map(|v| (k.clone(), v.clone())))
            .collect();
        let extra = self.spec.token_extra.iter().filter_map(|(k, p)| text(p).map(|v| (k.clone(), v))).collect();
        Ok(TokenAnswer {
            tokens: OAuthTokens {
                access_token,
                refresh_token: text(&tf.refresh_token),
                token_type: text(&tf.token_type).unwrap_or_else(bearer),
                id_token: text("id_token"),
                extra,
            },
            expires_in,
            scopes,
            metadata,
        })
    }

    /// Meta-style second step: trade a short-lived token for a long-lived one.
    pub async fn long_lived(&self, outbound: &Outbound, answer: TokenAnswer) -> Result<TokenAnswer, TokenError> {
        let Some(spec) = &self.spec.exchange else { return Ok(answer) };
        let mut vars = self.vars();
        vars.extra.insert("access_token", answer.tokens.access_token.clone());
        let req = connector::build_request(
            &self.provider,
            spec,
            self.provider.api_base_url.as_deref(),
            &vars,
            &connector::Credentials { apply: None, bearer: Some(&answer.tokens.access_token), client: None },
        )
        .map_err(|e| TokenError::Transient(e.to_string()))?;
        let res = outbound.send(req).await.map_err(|e| self.unreachable(e))?;
        let mut long = self.read_token_answer(&res)?;
        if long.tokens.refresh_token.is_none() {
            long.tokens.refresh_token.clone_from(&answer.tokens.refresh_token);
        }
        long.metadata.extend(answer.metadata);
        if long.scopes.is_none() {
            long.scopes = answer.scopes;
        }
        Ok(long)
    }

    /// The account behind a token, by the catalog's identity request.
    pub async fn identity(
        &self,
        outbound: &Outbound,
        tokens: &OAuthTokens,
        metadata: &BTreeMap<String, Value>,
    ) -> Result<connector::Account, ServiceError> {
        let Some(spec) = &self.spec.identity else { return Ok(connector::Account::default()) };
        let mut vars = self.vars();
        vars.extra.insert("access_token", tokens.access_token.clone());
        vars.metadata = Some(metadata);
        let apply = self.spec.auth.as_ref();
        let req = connector::build_request(
            &self.provider,
            spec,
            self.provider.api_base_url.as_deref(),
            &vars,
            &connector::Credentials { apply, bearer: Some(&tokens.access_token), client: None },
        )?;
        let res = outbound.send(req).await.map_err(|e| connector::unreachable(&self.provider, e))?;
        connector::interpret(&self.provider, spec, &res, std::slice::from_ref(&tokens.access_token))
    }

    /// Revokes the token at the provider, when the catalog says how.
    pub async fn revoke(
        &self,
        outbound: &Outbound,
        tokens: &OAuthTokens,
        metadata: &BTreeMap<String, Value>,
    ) -> Result<(), String> {
        let Some(spec) = &self.spec.revoke else { return Ok(()) };
        let mut vars = self.vars();
        vars.metadata = Some(metadata);
        vars.extra.insert("access_token", tokens.access_token.clone());
        vars.extra.insert("refresh_token", tokens.refresh_token.clone().unwrap_or_else(|| tokens.access_token.clone()));
        let secret = self.client_secret.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        let creds = connector::Credentials {
            apply: None,
            bearer: Some(&tokens.access_token),
            client: Some((&self.client_id, &secret)),
        };
        let req = connector::build_request(&self.provider, spec, self.provider.api_base_url.as_deref(), &vars, &creds)
            .map_err(|e| e.to_string())?;
        let res = outbound.send(req).await.map_err(|e| e.to_string())?;
        let ok_in_body = spec
            .ok_field
            .as_deref()
            .is_none_or(|f| res.json().and_then(|d| path::get(&d, f).cloned()) == Some(Value::Bool(true)));
        if res.status.is_success() && ok_in_body {
            Ok(())
        } else {
            Err(format!("{} answered HTTP {} to the revocation", self.provider.name, res.status.as_u16()))
        }
    }
}

fn classify_error(provider: &str, code: String, description: String) -> TokenError {
    let provider = provider.to_owned();
    match code.as_str() {
        // RFC 6749 5.2, plus Slack's names for the same situations.
        "invalid_grant"
        | "invalid_refresh_token"
        | "token_revoked"
        | "token_expired"
        | "invalid_code"
        | "bad_verification_code"
        | "expired_token" => TokenError::Grant { provider, code, description },
        "invalid_client"
        | "unauthorized_client"
        | "invalid_client_id"
        | "bad_client_secret"
        | "incorrect_client_credentials" => TokenError::Client { provider, code, description },
        "rate_limited" | "ratelimited" | "slow_down" => TokenError::RateLimited { provider, retry_after_s: None },
        _ => TokenError::Transient(format!("{provider}'s token endpoint refused the request ({code}): {description}")),
    }
}

fn describe(code: &str) -> String {
    match code {
        "invalid_grant" => {
            "the authorization grant or refresh token is invalid, expired, revoked or was issued to another client"
                .into()
        }
        "invalid_client" => "client authentication failed".into(),
        "access_denied" => "the user or the provider denied the request".into(),
        other => other.replace('_', " "),
    }
}

/// The effective OAuth spec for a provider and its integration: custom-oauth2
/// takes its endpoints, client authentication, PKCE, issuer, userinfo and
/// revocation from the integration's settings.
pub fn effective_spec(provider: &Provider, settings: &Map<String, Value>) -> Result<OAuth2, ServiceError> {
    let mut spec = provider
        .oauth2
        .clone()
        .ok_or_else(|| ServiceError::invalid("provider", format!("{} has no OAuth 2.0 flow", provider.name)))?;
    if provider.id != crate::services::integrations::CUSTOM_OAUTH2 {
        return Ok(spec);
    }
    let s = |k: &str| settings.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(a) = settings.get("client_auth").and_then(Value::as_str) {
        spec.client_auth = if a == "post" { ClientAuth::Post } else { ClientAuth::Basic };
    }
    if let Some(p) = settings.get("pkce").and_then(Value::as_bool) {
        spec.pkce = p;
    }
    spec.issuer = s("issuer");
    spec.authorization_response_iss_parameter_supported =
        settings.get("authorization_response_iss_parameter_supported").and_then(Value::as_bool).unwrap_or(false);
    if let Some(u) = s("userinfo_url") {
        spec.identity =
            Some(request(&u, Method::GET, RequestAuth::Bearer, BodyKind::None, &[], Some(("sub", "name", "email"))));
    }
    if let Some(u) = s("revocation_url") {
        spec.revoke = Some(request(
            &u,
            Method::POST,
            RequestAuth::ClientBasic,
            BodyKind::Form,
            &[("token", "{refresh_token}"), ("token_type_hint", "refresh_token")],
            None,
        ));
    }
    Ok(spec)
}

fn request(
    url: &str,
    method: Method,
    auth: RequestAuth,
    body: BodyKind,
    params: &[(&str, &str)],
    identity: Option<(&str, &str, &str)>,
) -> RequestSpec {
    RequestSpec {
        kind: None,
        docs_url: None,
        only_if: None,
        method: method.to_string(),
        path: None,
        // A literal URL from the integration: braces in it are not template names.
        url: Some(url.replace('{', "{{").replace('}', "}}")),
        headers: BTreeMap::new(),
        query: BTreeMap::new(),
        body,
        params: params.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect(),
        document: None,
        auth,
        ok_field: None,
        invalid_statuses: None,
        id: identity.map(|i| i.0.to_owned()),
        name: identity.map(|i| i.1.to_owned()),
        email: identity.map(|i| i.2.to_owned()),
        metadata: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        let (verifier, challenge) = pkce_pair();
        assert_eq!(verifier.expose_secret().len(), 43);
        assert_eq!(challenge, URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes())));
        // RFC 7636 appendix B.
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn grant_and_client_errors_are_told_apart() {
        assert_eq!(classify_error("X", "invalid_grant".into(), String::new()).reason(), "invalid_grant");
        assert_eq!(classify_error("X", "invalid_client".into(), String::new()).reason(), "invalid_client");
        assert_eq!(classify_error("X", "server_error".into(), String::new()).reason(), "transient");
    }

    #[test]
    fn tokens_never_print() {
        let mut t = OAuthTokens::default();
        t.access_token = "at-secret".into();
        t.refresh_token = Some("rt-secret".into());
        let d = format!("{t:?}");
        assert!(!d.contains("at-secret") && !d.contains("rt-secret"), "{d}");
    }
}
