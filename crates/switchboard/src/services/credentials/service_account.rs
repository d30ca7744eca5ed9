//! Google service accounts: the JSON key is the credential; access tokens are
//! minted from it with the JWT-bearer grant (RFC 7523, RS256) at its `token_uri`.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};
use switchboard_core::time::Timestamp;

use crate::outbound::{Outbound, OutboundRequest};
use crate::services::ServiceError;

/// The fields of a key file that minting needs. Never printed.
#[derive(Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    pub token_uri: String,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey").field("client_email", &self.client_email).finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("credentials.service_account_json", message)
}

/// Parses and checks a key file: its type, email, token endpoint and RSA private key.
pub fn parse_key(json: &str, allow_plain_http: bool) -> Result<ServiceAccountKey, ServiceError> {
    let doc: serde_json::Value =
        serde_json::from_str(json).map_err(|_| invalid("this is not JSON; paste the whole key file"))?;
    match doc.get("type").and_then(|t| t.as_str()) {
        Some("service_account") => {}
        Some(other) => {
            return Err(invalid(format!(
                "the key file's \"type\" is {other:?}; a service-account key file has \"service_account\""
            )));
        }
        None => {
            return Err(invalid(
                "the key file has no \"type\"; a service-account key file has \"type\": \"service_account\"",
            ));
        }
    }
    for field in ["client_email", "private_key", "token_uri"] {
        if doc.get(field).and_then(|v| v.as_str()).is_none_or(str::is_empty) {
            return Err(invalid(format!(
                "the key file lacks {field}; download a new JSON key under IAM & Admin → Service accounts → Keys → Add key"
            )));
        }
    }
    let key: ServiceAccountKey =
        serde_json::from_value(doc).map_err(|e| invalid(format!("the key file is malformed: {e}")))?;
    if !key.client_email.contains('@') {
        return Err(invalid("the key file's client_email is not an email address"));
    }
    let uri = url::Url::parse(&key.token_uri).map_err(|_| invalid("the key file's token_uri is not a URL"))?;
    if uri.scheme() != "https" && !(allow_plain_http && uri.scheme() == "http") {
        return Err(invalid("the key file's token_uri must be an https URL"));
    }
    jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
        .map_err(|_| invalid("the key file's private_key is not an RSA private key in PEM form"))?;
    Ok(key)
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: String,
    aud: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

/// A minted access token.
pub struct Minted {
    pub access_token: secrecy::SecretString,
    pub token_type: String,
    pub expires_at: Timestamp,
}

/// Signs an assertion and trades it for an access token.
pub async fn mint(
    outbound: &Outbound,
    key: &ServiceAccountKey,
    scopes: &[String],
    subject: Option<&str>,
    now: Timestamp,
) -> Result<Minted, ServiceError> {
    let iat = now.millis() / 1000;
    let claims = Claims {
        iss: &key.client_email,
        scope: scopes.join(" "),
        aud: &key.token_uri,
        iat,
        exp: iat + 3600,
        sub: subject,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid.clone_from(&key.private_key_id);
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
        .map_err(|_| invalid("the private_key is not an RSA key"))?;
    let assertion = jsonwebtoken::encode(&header, &claims, &signing)
        .map_err(|e| ServiceError::Internal(format!("signing the assertion: {e}")))?;
    let url = url::Url::parse(&key.token_uri).map_err(|_| invalid("token_uri is not a URL"))?;
    let mut req = OutboundRequest::new(Method::POST, url);
    req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &assertion)
        .finish();
    req.body = Some(body.into());
    let host = req.url.host_str().unwrap_or("the token endpoint").to_owned();
    let res = outbound.send(req).await.map_err(|e| match e {
        crate::outbound::OutboundError::Refused(m) => invalid(m),
        other => ServiceError::Provider(format!("Google's token endpoint could not be reached: {other}")),
    })?;
    let doc = res.json().unwrap_or_default();
    let reason = || {
        doc.get("error_description")
            .or_else(|| doc.get("error"))
            .and_then(|v| v.as_str())
            .map_or_else(|| format!("HTTP {}", res.status), str::to_owned)
    };
    match res.status.as_u16() {
        200 => {}
        400 | 401 | 403 => {
            return Err(ServiceError::InvalidCredentials(format!("{host} refused the service account: {}", reason())));
        }
        429 => {
            return Err(ServiceError::RateLimited {
                message: format!("{host} is rate-limiting token requests"),
                retry_after_s: res.retry_after(),
            });
        }
        s => return Err(ServiceError::Provider(format!("{host} failed with HTTP {s}: {}", reason()))),
    }
    let token = doc
        .get("access_token")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ServiceError::Provider(format!("{host} answered without an access_token")))?;
    let expires_in = doc.get("expires_in").and_then(serde_json::Value::as_u64).unwrap_or(3600);
    Ok(Minted {
        access_token: secrecy::SecretString::from(token.to_owned()),
        token_type: doc.get("token_type").and_then(|v| v.as_str()).unwrap_or("Bearer").to_owned(),
        expires_at: now.plus(Duration::from_secs(expires_in)),
    })
}
