//! Verifying inbound webhooks exactly as each provider documents, on the raw
//! bytes, with constant-time comparisons. Pure: the caller passes the request
//! as received and `now`; nothing here does IO.

use crate::catalog::WebhookScheme;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Requests whose timestamp is further than this from now are refused.
pub const TOLERANCE_S: i64 = 300;

/// Why [`Scheme::choose`] refused the scheme asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeChoiceError {
    /// The generic provider has no scheme by this name.
    NotGeneric(String),
    /// The provider verifies with this scheme only.
    Fixed(Scheme),
}

/// How an endpoint's requests are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Stripe-Signature: t=…,v1=…` — HMAC-SHA256 (hex) of `{t}.{body}`.
    Stripe,
    /// `X-Hub-Signature-256: sha256=…` — HMAC-SHA256 (hex) of the body.
    Github,
    /// `X-Slack-Signature: v0=…` with `X-Slack-Request-Timestamp` — HMAC-SHA256 (hex) of `v0:{ts}:{body}`.
    Slack,
    /// `X-Shopify-Hmac-Sha256` — HMAC-SHA256 (base64) of the body.
    Shopify,
    /// `X-Hub-Signature-256: sha256=…` keyed with the app secret (Facebook, Instagram, WhatsApp).
    Meta,
    /// `X-Twilio-Signature` — HMAC-SHA1 (base64) of the URL followed by the sorted form parameters.
    Twilio,
    /// `X-Signature-Ed25519` over `{X-Signature-Timestamp}{body}`, with the application's public key.
    Discord,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…` — HMAC-SHA256 (base64) of `{id}.{ts}.{body}`.
    StandardWebhooks,
    /// Each notification's `clientState` equals the secret set on the subscription.
    MicrosoftGraph,
    /// `X-Trello-Webhook` — HMAC-SHA1 (base64) of the body followed by the callback URL.
    Trello,
    /// `X-Webhook-Secret` equals the secret.
    SharedSecret,
    /// `X-Webhook-Signature` — HMAC-SHA256 (hex, optionally `sha256=`) of the body.
    HmacSha256,
}

/// Every header some scheme reads its signature, timestamp or id from (for tests and fuzzing).
pub const SIGNATURE_HEADERS: [&str; 16] = [
    "Stripe-Signature",
    "X-Hub-Signature-256",
    "X-Slack-Signature",
    "X-Slack-Request-Timestamp",
    "X-Shopify-Hmac-Sha256",
    "X-Hub-Signature",
    "X-Twilio-Signature",
    "X-Twilio-Webhooks-Signature-Settings",
    "X-Signature-Ed25519",
    "X-Signature-Timestamp",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-Trello-Webhook",
    "X-Webhook-Secret",
    "X-Webhook-Signature",
];

impl Scheme {
    /// Every scheme.
    pub const ALL: [Self; 12] = [
        Self::Stripe,
        Self::Github,
        Self::Slack,
        Self::Shopify,
        Self::Meta,
        Self::Twilio,
        Self::Discord,
        Self::StandardWebhooks,
        Self::MicrosoftGraph,
        Self::Trello,
        Self::SharedSecret,
        Self::HmacSha256,
    ];

    /// Whether the signature covers a timestamp or the event's id, so that a
    /// replay is either refused as stale or carries the same id. Where neither
    /// is signed, only the body identifies an event.
    #[must_use]
    pub fn signs_id_or_timestamp(self) -> bool {
        matches!(self, Self::Stripe | Self::Slack | Self::Discord | Self::StandardWebhooks)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Github => "github",
            Self::Slack => "slack",
            Self::Shopify => "shopify",
            Self::Meta => "meta",
            Self::Twilio => "twilio",
            Self::Discord => "discord",
            Self::StandardWebhooks => "standard-webhooks",
            Self::MicrosoftGraph => "microsoft-graph",
            Self::Trello => "trello",
            Self::SharedSecret => "shared-secret",
            Self::HmacSha256 => "hmac-sha256",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The scheme an endpoint of a provider declaring `declared` verifies with.
    /// Only the generic provider lets the caller pick (`shared-secret` unless
    /// asked otherwise); every other provider has one scheme, which the caller
    /// may name but not change.
    pub fn choose(declared: WebhookScheme, asked: Option<&str>) -> Result<Self, SchemeChoiceError> {
        let fixed = match declared {
            WebhookScheme::Stripe => Self::Stripe,
            WebhookScheme::Github => Self::Github,
            WebhookScheme::Slack => Self::Slack,
            WebhookScheme::Shopify => Self::Shopify,
            WebhookScheme::Meta => Self::Meta,
            WebhookScheme::Twilio => Self::Twilio,
            WebhookScheme::Discord => Self::Discord,
            WebhookScheme::StandardWebhooks => Self::StandardWebhooks,
            WebhookScheme::MicrosoftGraph => Self::MicrosoftGraph,
            WebhookScheme::Trello => Self::Trello,
            WebhookScheme::Generic => {
                return match asked.unwrap_or("shared-secret") {
                    "shared-secret" => Ok(Self::SharedSecret),
                    "hmac-sha256" => Ok(Self::HmacSha256),
                    "standard-webhooks" => Ok(Self::StandardWebhooks),
                    other => Err(SchemeChoiceError::NotGeneric(other.to_owned())),
                };
            }
        };
        match asked {
            Some(a) if a != fixed.as_str() => Err(SchemeChoiceError::Fixed(fixed)),
            _ => Ok(fixed),
        }
    }

    /// Whether Switchboard may choose the secret (the sender is configured with it),
    /// rather than the provider assigning it.
    #[must_use]
    pub fn secret_is_ours(self) -> bool {
        matches!(
            self,
            Self::Github | Self::MicrosoftGraph | Self::StandardWebhooks | Self::SharedSecret | Self::HmacSha256
        )
    }
}

/// Header access, case-insensitive.
pub trait Headers {
    fn get(&self, name: &str) -> Option<&str>;
}

/// One request as the sender made it.
pub struct Request<'a> {
    /// The full URL the sender called, query included (Twilio and Trello sign it).
    pub url: &'a str,
    pub content_type: Option<&'a str>,
    pub headers: &'a (dyn Headers + Sync),
    pub body: &'a [u8],
    pub now_s: i64,
}

/// Why a request was refused. Messages name what is wrong, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the signature does not match")]
    BadSignature,
    #[error("the request's timestamp is {0} s away from now, more than the {TOLERANCE_S} s allowed")]
    Stale(i64),
}

fn header<'a>(r: &Request<'a>, name: &'static str) -> Result<&'a str, Refusal> {
    r.headers.get(name).map(str::trim).filter(|v| !v.is_empty()).ok_or(Refusal::Missing(name))
}

fn fresh(ts: i64, now: i64) -> Result<(), Refusal> {
    // Checked: a timestamp chosen so that the difference overflows must not wrap into the window.
    match now.checked_sub(ts).and_then(i64::checked_abs) {
        Some(skew) if skew <= TOLERANCE_S => Ok(()),
        Some(skew) => Err(Refusal::Stale(skew)),
        None => Err(Refusal::Stale(i64::MAX)),
    }
}

fn timestamp(r: &Request<'_>, name: &'static str) -> Result<i64, Refusal> {
    header(r, name)?.parse::<i64>().map_err(|_| Refusal::Malformed(name))
}

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TwilioAlgorithm {
    Sha1,
    Sha256,
}

/// `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256` (absent: HMAC-SHA1).
fn twilio_algorithm(r: &Request<'_>) -> Result<TwilioAlgorithm, Refusal> {
    const NAME: &str = "X-Twilio-Webhooks-Signature-Settings";
    let Some(settings) = r.headers.get(NAME) else { return Ok(TwilioAlgorithm::Sha1) };
    let algorithm = settings
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("algorithm"))
        .map(|(_, v)| v.trim());
    match algorithm {
        None => Ok(TwilioAlgorithm::Sha1),
        Some(a) if a.eq_ignore_ascii_case("HMAC_SHA1") => Ok(TwilioAlgorithm::Sha1),
        Some(a) if a.eq_ignore_ascii_case("HMAC_SHA256") => Ok(TwilioAlgorithm::Sha256),
        Some(_) => Err(Refusal::Malformed(NAME)),
    }
}

fn hmac1(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha1> {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac
}

/// Tries each secret (two while one is rotated); passes if any matches.
fn any_secret(secrets: &[&[u8]], check: impl Fn(&[u8]) -> bool) -> Result<(), Refusal> {
    // Evaluate every secret so timing does not reveal which one matched.
    let matched = secrets.iter().fold(false, |acc, s| check(s) | acc);
    if matched { Ok(()) } else { Err(Refusal::BadSignature) }
}

/// Checks a request against the endpoint's secrets.
pub fn verify(scheme: Scheme, secrets: &[&[u8]], r: &Request<'_>) -> Result<(), Refusal> {
    match scheme {
        Scheme::Stripe => {
            let h = header(r, "Stripe-Signature")?;
            let mut t = None;
            let mut sigs = Vec::new();
            for part in h.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", v)) => t = v.parse::<i64>().ok(),
                    Some(("v1", v)) => sigs.extend(hex::decode(v).ok()),
                    _ => {}
                }
            }
            let t = t.ok_or(Refusal::Malformed("Stripe-Signature"))?;
            if sigs.is_empty() {
                return Err(Refusal::Malformed("Stripe-Signature"));
            }
            fresh(t, r.now_s)?;
            let ts = t.to_string();
            any_secret(secrets, |s| {
                sigs.iter().any(|sig| hmac256(s, &[ts.as_bytes(), b".", r.body]).verify_slice(sig).is_ok())
            })
        }
        Scheme::Github | Scheme::Meta => {
            let h = header(r, "X-Hub-Signature-256")?;
            let sig = h
                .strip_prefix("sha256=")
                .and_then(|x| hex::decode(x).ok())
                .ok_or(Refusal::Malformed("X-Hub-Signature-256"))?;
            any_secret(secrets, |s| hmac256(s, &[r.body]).verify_slice(&sig).is_ok())
        }
        Scheme::Slack => {
            let ts = timestamp(r, "X-Slack-Request-Timestamp")?;
            let h = header(r, "X-Slack-Signature")?;
            let sig = h
                .strip_prefix("v0=")
                .and_then(|x| hex::decode(x).ok())
                .ok_or(Refusal::Malformed("X-Slack-Signature"))?;
            fresh(ts, r.now_s)?;
            let ts = ts.to_string();
            any_secret(secrets, |s| hmac256(s, &[b"v0:", ts.as_bytes(), b":", r.body]).verify_slice(&sig).is_ok())
        }
        Scheme::Shopify => {
            let sig = STANDARD
                .decode(header(r, "X-Shopify-Hmac-Sha256")?)
                .map_err(|_| Refusal::Malformed("X-Shopify-Hmac-Sha256"))?;
            any_secret(secrets, |s| hmac256(s, &[r.body]).verify_slice(&sig).is_ok())
        }
        Scheme::Twilio => {
            let sig = STANDARD
                .decode(header(r, "X-Twilio-Signature")?)
                .map_err(|_| Refusal::Malformed("X-Twilio-Signature"))?;
            let data = twilio_signed_data(r)?;
            // A Webhooks Rule signs with its shared key and names the algorithm; otherwise HMAC-SHA1.
            match twilio_algorithm(r)? {
                TwilioAlgorithm::Sha1 => {
                    any_secret(secrets, |s| hmac1(s, &[data.as_bytes()]).verify_slice(&sig).is_ok())
                }
                TwilioAlgorithm::Sha256 => {
                    any_secret(secrets, |s| hmac256(s, &[data.as_bytes()]).verify_slice(&sig).is_ok())
                }
            }
        }
        Scheme::Discord => {
            let sig = hex::decode(header(r, "X-Signature-Ed25519")?)
                .map_err(|_| Refusal::Malformed("X-Signature-Ed25519"))?;
            let ts_text = header(r, "X-Signature-Timestamp")?;
            let ts = ts_text.parse::<i64>().map_err(|_| Refusal::Malformed("X-Signature-Timestamp"))?;
            fresh(ts, r.now_s)?;
            let sig = Signature::from_slice(&sig).map_err(|_| Refusal::Malformed("X-Signature-Ed25519"))?;
            let mut message = ts_text.as_bytes().to_vec();
            message.extend_from_slice(r.body);
            any_secret(secrets, |s| {
                let key: Option<[u8; 32]> = hex::decode(s).ok().and_then(|k| k.try_into().ok());
                key.and_then(|k| VerifyingKey::from_bytes(&k).ok())
                    .is_some_and(|k| k.verify_strict(&message, &sig).is_ok())
            })
        }
        Scheme::StandardWebhooks => {
            let id = header(r, "webhook-id")?;
            let ts = timestamp(r, "webhook-timestamp")?;
            let sigs: Vec<Vec<u8>> = header(r, "webhook-signature")?
                .split(' ')
                .filter_map(|p| p.strip_prefix("v1,"))
                .filter_map(|b| STANDARD.decode(b).ok())
                .collect();
            if sigs.is_empty() {
                return Err(Refusal::Malformed("webhook-signature"));
            }
            fresh(ts, r.now_s)?;
            let ts = ts.to_string();
            any_secret(secrets, |s| {
                standard_webhooks_key(s).is_some_and(|k| {
                    sigs.iter().any(|sig| {
                        hmac256(&k, &[id.as_bytes(), b".", ts.as_bytes(), b".", r.body]).verify_slice(sig).is_ok()
                    })
                })
            })
        }
        Scheme::MicrosoftGraph => {
            let doc: serde_json::Value = serde_json::from_slice(r.body).map_err(|_| Refusal::Malformed("body"))?;
            let items = doc
                .get("value")
                .and_then(|v| v.as_array())
                .filter(|a| !a.is_empty())
                .ok_or(Refusal::Malformed("body"))?;
            let states: Vec<&[u8]> = items
                .iter()
                .map(|i| i.get("clientState").and_then(|c| c.as_str()).unwrap_or_default().as_bytes())
                .collect();
            any_secret(secrets, |s| states.iter().all(|st| bool::from(st.ct_eq(s))))
        }
        Scheme::Trello => {
            let sig =
                STANDARD.decode(header(r, "X-Trello-Webhook")?).map_err(|_| Refusal::Malformed("X-Trello-Webhook"))?;
            // The callback URL exactly as registered, query string included.
            any_secret(secrets, |s| hmac1(s, &[r.body, r.url.as_bytes()]).verify_slice(&sig).is_ok())
        }
        Scheme::SharedSecret => {
            let given = header(r, "X-Webhook-Secret")?.as_bytes();
            any_secret(secrets, |s| bool::from(given.ct_eq(s)))
        }
        Scheme::HmacSha256 => {
            let h = header(r, "X-Webhook-Signature")?;
            let sig = hex::decode(h.strip_prefix("sha256=").unwrap_or(h))
                .map_err(|_| Refusal::Malformed("X-Webhook-Signature"))?;
            any_secret(secrets, |s| hmac256(s, &[r.body]).verify_slice(&sig).is_ok())
        }
    }
}

/// Twilio signs the full URL followed by every POST parameter, sorted by name,
/// as `name` + `value`. A JSON body is instead bound by `bodySHA256` in the URL.
fn twilio_signed_data(r: &Request<'_>) -> Result<String, Refusal> {
    let form = r.content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !form {
        let url = url::Url::parse(r.url).map_err(|_| Refusal::Malformed("url"))?;
        let expected = url
            .query_pairs()
            .find(|(k, _)| k == "bodySHA256")
            .map(|(_, v)| v.into_owned())
            .ok_or(Refusal::Missing("bodySHA256"))?;
        let actual = hex::encode(Sha256::digest(r.body));
        if !bool::from(expected.as_bytes().ct_eq(actual.as_bytes())) {
            return Err(Refusal::BadSignature);
        }
        return Ok(r.url.to_owned());
    }
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(r.body).into_owned().collect();
    params.sort();
    let mut data = r.url.to_owned();
    for (k, v) in params {
        data.push_str(&k);
        data.push_str(&v);
    }
    Ok(data)
}

/// A Standard Webhooks secret is `whsec_` followed by base64 of the key.
#[must_use]
pub fn standard_webhooks_key(secret: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(secret).ok()?;
    STANDARD.decode(text.strip_prefix("whsec_").unwrap_or(text)).ok()
}

/// Signs an outgoing message the Standard Webhooks way: the `webhook-signature` value.
#[must_use]
pub fn standard_webhooks_sign(secret: &[u8], id: &str, timestamp_s: i64, body: &[u8]) -> Option<String> {
    let key = standard_webhooks_key(secret)?;
    let mac = hmac256(&key, &[id.as_bytes(), b".", timestamp_s.to_string().as_bytes(), b".", body]);
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// A new secret for schemes whose secret Switchboard chooses.
#[must_use]
pub fn generate_secret(scheme: Scheme) -> String {
    let bytes = crate::random::bytes::<32>();
    match scheme {
        Scheme::StandardWebhooks => format!("whsec_{}", STANDARD.encode(bytes)),
        _ => hex::encode(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_generic_provider_lets_the_caller_pick_a_scheme() {
        assert_eq!(Scheme::choose(WebhookScheme::Stripe, None), Ok(Scheme::Stripe));
        assert_eq!(Scheme::choose(WebhookScheme::Stripe, Some("stripe")), Ok(Scheme::Stripe));
        assert_eq!(
            Scheme::choose(WebhookScheme::Github, Some("stripe")),
            Err(SchemeChoiceError::Fixed(Scheme::Github))
        );
        assert_eq!(Scheme::choose(WebhookScheme::Generic, None), Ok(Scheme::SharedSecret));
        assert_eq!(Scheme::choose(WebhookScheme::Generic, Some("hmac-sha256")), Ok(Scheme::HmacSha256));
        assert_eq!(
            Scheme::choose(WebhookScheme::Generic, Some("basic")),
            Err(SchemeChoiceError::NotGeneric("basic".into()))
        );
    }

    struct H(Vec<(&'static str, String)>);
    impl Headers for H {
        fn get(&self, name: &str) -> Option<&str> {
            self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
    }

    fn req<'a>(h: &'a H, body: &'a [u8], now: i64) -> Request<'a> {
        Request {
            url: "https://hub.example/hooks/whe_1",
            content_type: Some("application/json"),
            headers: h,
            body,
            now_s: now,
        }
    }

    // Vectors produced by the providers' own libraries (tests/peers/signer.mjs).
    #[test]
    fn stripe_matches_its_library_and_checks_the_timestamp() {
        let h = H(vec![(
            "Stripe-Signature",
            "t=1700000000,v1=79f159714a0d01d9505691104b38e71f0dbb0d4bdeef387b113d07b870f50db3".into(),
        )]);
        let body = br#"{"id":"evt_1"}"#;
        assert_eq!(verify(Scheme::Stripe, &[b"whsec_abc"], &req(&h, body, 1_700_000_100)), Ok(()));
        assert_eq!(
            verify(Scheme::Stripe, &[b"whsec_wrong"], &req(&h, body, 1_700_000_100)),
            Err(Refusal::BadSignature)
        );
        assert_eq!(verify(Scheme::Stripe, &[b"whsec_abc"], &req(&h, b"{}", 1_700_000_100)), Err(Refusal::BadSignature));
        assert!(matches!(
            verify(Scheme::Stripe, &[b"whsec_abc"], &req(&h, body, 1_700_000_400)),
            Err(Refusal::Stale(400))
        ));
        assert_eq!(
            verify(Scheme::Stripe, &[b"whsec_wrong", b"whsec_abc"], &req(&h, body, 1_700_000_000)),
            Ok(()),
            "either of two secrets"
        );
    }

    #[test]
    fn github_and_standard_webhooks_match_their_libraries() {
        let h = H(vec![(
            "X-Hub-Signature-256",
            "sha256=cefb105ee22996fb167ed606478d2931b87aa3ab99b4b04b68c4fc16c8b49a30".into(),
        )]);
        assert_eq!(verify(Scheme::Github, &[b"s"], &req(&h, b"x", 0)), Ok(()));
        let h = H(vec![
            ("webhook-id", "msg_test".into()),
            ("webhook-timestamp", "1700000000".into()),
            ("webhook-signature", "v1,EYEzF4fQdYv6ykObUe6Z1ql9DTJbbRtvis1rmRgQqGI=".into()),
        ]);
        let secret = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(verify(Scheme::StandardWebhooks, &[secret], &req(&h, b"x", 1_700_000_000)), Ok(()));
        assert_eq!(
            standard_webhooks_sign(secret, "msg_test", 1_700_000_000, b"x").unwrap(),
            "v1,EYEzF4fQdYv6ykObUe6Z1ql9DTJbbRtvis1rmRgQqGI="
        );
    }

    #[test]
    fn twilio_signs_url_and_sorted_form_parameters() {
        let h = H(vec![("X-Twilio-Signature", "4K5HjbiV8zSqZr/BQ3qLpE5VEok=".into())]);
        let r = Request {
            url: "https://x.example/hooks/a",
            content_type: Some("application/x-www-form-urlencoded"),
            headers: &h,
            body: b"B=2&A=1",
            now_s: 0,
        };
        assert_eq!(verify(Scheme::Twilio, &[b"tok"], &r), Ok(()));
    }

    #[test]
    fn timestamps_that_overflow_the_difference_are_stale() {
        let now = 1_700_000_000;
        // now - ts == i64::MIN: wrapping arithmetic would make its absolute value negative, "fresh".
        let ts = now + i64::MIN;
        assert_eq!(fresh(ts, now), Err(Refusal::Stale(i64::MAX)));
        assert_eq!(fresh(i64::MAX, -2), Err(Refusal::Stale(i64::MAX)));
        assert_eq!(fresh(now - 300, now), Ok(()));
        assert_eq!(fresh(now + 301, now), Err(Refusal::Stale(301)));
    }

    #[test]
    fn missing_headers_are_named() {
        let h = H(vec![]);
        for (scheme, name) in [
            (Scheme::Slack, "X-Slack-Request-Timestamp"),
            (Scheme::Shopify, "X-Shopify-Hmac-Sha256"),
            (Scheme::SharedSecret, "X-Webhook-Secret"),
        ] {
            assert_eq!(verify(scheme, &[b"k"], &req(&h, b"{}", 0)), Err(Refusal::Missing(name)));
        }
    }
}
