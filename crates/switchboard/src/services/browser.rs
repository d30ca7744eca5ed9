//! Browser sessions of the consoles. A session's `connect_url` holds a single-use `cl_` link; opening
//! it trades the link for a `bs_` cookie (HttpOnly) and a CSRF token the page carries, so no token is
//! in any later URL. The operator console is entered with a secret key, traded the same way; the key
//! itself is never kept by the browser. A browser session acts as what opened it and ends with it: a
//! revoked session or key refuses its cookie from the next request on.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;
use switchboard_core::access::{Principal, Role};
use switchboard_core::ids::{ApiKeyId, OrgId, UserId};
use switchboard_core::time::Timestamp;
use switchboard_core::token::{NewToken, TokenDigest, TokenKind};

use super::audit::{AuditEvent, Outcome};
use super::{ServiceError, ServiceResult, Services};
use crate::store::{LinkUse, SessionRecord};

/// How long an operator console's browser session lasts.
const CONSOLE_TTL: Duration = Duration::from_secs(8 * 3600);

/// A freshly made connect link.
#[derive(Debug)]
pub struct ConnectLink {
    pub url: url::Url,
    pub expires_at: Timestamp,
}

/// A browser session just opened: the cookie value to set, and until when.
pub struct OpenedBrowserSession {
    pub cookie: SecretString,
    pub expires_at: Timestamp,
}

/// What a console page acts as, read from its cookie.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    pub principal: Principal,
    pub csrf: String,
    /// The providers an integrations page shows (`None`: every connectable one).
    pub providers: Option<Vec<String>>,
    pub locale: Option<String>,
    /// Where a redirect-mode page sends the browser back.
    pub return_url: Option<String>,
    pub expires_at: Timestamp,
}

impl BrowserSession {
    /// Whether `presented` is this session's CSRF token (constant time).
    #[must_use]
    pub fn csrf_matches(&self, presented: &str) -> bool {
        !presented.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

fn csrf_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(switchboard_core::random::bytes::<32>())
}

fn session_principal(s: &SessionRecord) -> ServiceResult<Principal> {
    let role = Role::parse(&s.role).ok_or_else(|| ServiceError::Internal(format!("stored role {:?}", s.role)))?;
    Ok(Principal::Session {
        org: OrgId::from_stored(s.org.clone()),
        user: UserId::from_stored(s.user_id.clone()),
        role,
    })
}

impl Services {
    /// A single-use link into the integrations page as this session, valid for
    /// `ui_connect_link_ttl_s` (never past the session's own end).
    pub(crate) async fn issue_connect_link(
        &self,
        session_id: &str,
        session_ends: Timestamp,
    ) -> ServiceResult<ConnectLink> {
        let token = NewToken::mint(TokenKind::ConnectLink);
        let now = self.clock.now();
        let expires_at =
            Timestamp::from_millis(now.plus(self.settings.ui.connect_link_ttl).millis().min(session_ends.millis()));
        self.store.insert_connect_link(token.digest.as_str(), session_id, expires_at.millis()).await?;
        let mut url = self.settings.public_url.clone();
        url.set_path(&format!("/ui/connect/{}", token.secret.expose_secret()));
        url.set_query(None);
        Ok(ConnectLink { url, expires_at })
    }

    /// A fresh connect link for the session whose token this is, opening on `provider` when given.
    pub async fn connect_link_for_token(&self, token: &str, provider: Option<&str>) -> ServiceResult<ConnectLink> {
        if TokenKind::of(token) != Some(TokenKind::Session) {
            return Err(ServiceError::Forbidden(
                "connect links are made for session tokens (st_…); a secret key makes a session with POST /v1/sessions, whose answer has connect_url".into(),
            ));
        }
        let now = self.clock.now();
        let s = self.store.live_session(TokenDigest::of(token).as_str(), now.millis()).await?.ok_or_else(|| {
            ServiceError::Unauthenticated(
                "this session token is unknown or has expired; ask the host app for a new one".into(),
            )
        })?;
        if let Some(p) = provider
            && self.catalog.get(p).is_none()
        {
            return Err(ServiceError::invalid(
                "provider",
                format!(
                    "{:?} is not a provider of this server's catalog",
                    switchboard_core::ids::truncate_for_message(p)
                ),
            ));
        }
        let mut link = self.issue_connect_link(&s.id, Timestamp::from_millis(s.expires_at)).await?;
        if let Some(p) = provider {
            link.url.query_pairs_mut().append_pair("provider", p);
        }
        Ok(link)
    }

    /// Trades a connect link for a browser session, once.
    pub async fn open_connect_link(&self, link: &str) -> ServiceResult<OpenedBrowserSession> {
        let refused = |m: &str| ServiceError::Unauthenticated(m.to_owned());
        if TokenKind::of(link) != Some(TokenKind::ConnectLink) {
            return Err(refused(
                "this is not a connect link; ask the app you came from to open the integrations page again",
            ));
        }
        let now = self.clock.now();
        let session = match self.store.use_connect_link(TokenDigest::of(link).as_str(), now.millis()).await? {
            LinkUse::Opened(s) => s,
            LinkUse::Spent => {
                return Err(refused(
                    "this connect link was used already or has expired; links work once, for a few minutes — ask the app you came from for a new one",
                ));
            }
            LinkUse::Unknown => {
                return Err(refused(
                    "this connect link is unknown; ask the app you came from to open the integrations page again",
                ));
            }
        };
        let cookie = NewToken::mint(TokenKind::BrowserSession);
        let expires_at = Timestamp::from_millis(session.expires_at);
        self.store
            .insert_browser_session(
                cookie.digest.as_str(),
                Some(&session.id),
                None,
                &csrf_token(),
                now.millis(),
                session.expires_at,
            )
            .await?;
        Ok(OpenedBrowserSession { cookie: cookie.secret, expires_at })
    }

    /// Trades a secret key for an operator console session (8 hours, or until the key is revoked).
    pub async fn open_console(&self, secret_key: &str) -> ServiceResult<OpenedBrowserSession> {
        if TokenKind::of(secret_key) != Some(TokenKind::SecretKey) {
            return Err(ServiceError::Unauthenticated(
                "enter a secret API key (sk_…); session tokens do not open the operator console".into(),
            ));
        }
        let actor = self.authenticate(secret_key).await?;
        let Principal::SecretKey { id, .. } = &actor else {
            return Err(ServiceError::Unauthenticated("enter a secret API key (sk_…)".into()));
        };
        let now = self.clock.now();
        let cookie = NewToken::mint(TokenKind::BrowserSession);
        let expires_at = now.plus(CONSOLE_TTL);
        self.store
            .insert_browser_session(
                cookie.digest.as_str(),
                None,
                Some(id.as_str()),
                &csrf_token(),
                now.millis(),
                expires_at.millis(),
            )
            .await?;
        self.audit(
            &actor,
            AuditEvent {
                org: None,
                action: "console.sign_in",
                target_kind: "api_key",
                target_id: id.as_str(),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "expires_at": expires_at.to_rfc3339() }),
            },
        )
        .await?;
        Ok(OpenedBrowserSession { cookie: cookie.secret, expires_at })
    }

    /// The browser session a cookie names, if it and what opened it are still live.
    pub async fn browser_session(&self, cookie: &str) -> ServiceResult<BrowserSession> {
        let expired = || {
            ServiceError::Unauthenticated(
                "this page's session has ended; open the integrations page again from the app you came from".into(),
            )
        };
        if TokenKind::of(cookie) != Some(TokenKind::BrowserSession) {
            return Err(expired());
        }
        let now = self.clock.now().millis();
        let rec = self.store.live_browser_session(TokenDigest::of(cookie).as_str(), now).await?.ok_or_else(expired)?;
        if let Some(session_id) = &rec.session_id {
            let s = self.store.live_session_by_id(session_id, now).await?.ok_or_else(expired)?;
            let providers = s.providers.as_deref().and_then(|p| serde_json::from_str::<Vec<String>>(p).ok());
            return Ok(BrowserSession {
                principal: session_principal(&s)?,
                csrf: rec.csrf,
                providers,
                locale: s.locale,
                return_url: s.return_url,
                expires_at: Timestamp::from_millis(rec.expires_at.min(s.expires_at)),
            });
        }
        let key_id = rec.api_key_id.ok_or_else(expired)?;
        let key = self.store.live_api_key_by_id(&key_id).await?.ok_or_else(expired)?;
        Ok(BrowserSession {
            principal: Principal::SecretKey { id: ApiKeyId::from_stored(key.id), name: key.name },
            csrf: rec.csrf,
            providers: None,
            locale: None,
            return_url: None,
            expires_at: Timestamp::from_millis(rec.expires_at),
        })
    }

    /// Ends a browser session (signing out).
    pub async fn end_browser_session(&self, cookie: &str) -> ServiceResult<()> {
        Ok(self.store.delete_browser_session(TokenDigest::of(cookie).as_str()).await?)
    }
}
