//! Authentication of bearer tokens, and session tokens for end users.

use std::time::Duration;

use switchboard_core::access::{Principal, Role};
use switchboard_core::ids::{ApiKeyId, OrgId, SessionId, UserId};
use switchboard_core::time::Timestamp;
use switchboard_core::token::{NewToken, TokenDigest, TokenKind};

use super::audit::{AuditEvent, Outcome};
use super::{ServiceError, ServiceResult, Services};
use crate::store::{Page, SessionRecord};

/// How often a key's `last_used_at` is refreshed: bounded writes on the hot path.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// What a caller asks for when making a session.
#[derive(Debug)]
pub struct SessionRequest {
    pub org: String,
    pub user: String,
    pub role: String,
    pub ttl_s: Option<u64>,
    /// The providers its integrations page shows (default: every connectable one).
    pub providers: Option<Vec<String>>,
    /// Its pages' language, `en` or `de` (default: the browser's).
    pub locale: Option<String>,
    /// Where a redirect-mode page sends the browser back (under SWITCHBOARD_ALLOWED_REDIRECTS).
    pub return_url: Option<String>,
}

#[derive(Debug)]
pub struct IssuedSession {
    pub id: SessionId,
    pub token: NewToken,
    pub org: OrgId,
    pub user: UserId,
    pub role: Role,
    pub expires_at: Timestamp,
    pub connect_link: super::browser::ConnectLink,
}

/// The languages the consoles ship messages in.
pub const LOCALES: &[&str] = &["en", "de"];

impl Services {
    /// Resolves a presented bearer token to a principal.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Principal> {
        let unauth = |m: &str| ServiceError::Unauthenticated(m.to_owned());
        let now = self.clock.now();
        let Some(kind) = TokenKind::of(token) else {
            return Err(unauth("the bearer token must be a secret API key (sk_…) or a session token (st_…)"));
        };
        let digest = TokenDigest::of(token);
        // Secret keys checked within the access cache time are taken as checked.
        if kind == TokenKind::SecretKey
            && let Some(p) = self.checked_tokens.get(digest.as_str(), now.millis())
        {
            return Ok(p);
        }
        match kind {
            TokenKind::ConnectLink | TokenKind::BrowserSession => {
                Err(unauth("the bearer token must be a secret API key (sk_…) or a session token (st_…)"))
            }
            TokenKind::SecretKey => {
                let key = self
                    .store
                    .api_key_by_digest(digest.as_str())
                    .await?
                    .ok_or_else(|| unauth("this secret API key is unknown or revoked"))?;
                if key.last_used_at.is_none_or(|t| now.millis() - t > TOUCH_INTERVAL_MS) {
                    self.store.touch_api_key(&key.id, now.millis()).await?;
                }
                let p = Principal::SecretKey { id: ApiKeyId::from_stored(key.id), name: key.name };
                self.checked_tokens.put(digest.as_str(), p.clone(), now.millis(), None);
                Ok(p)
            }
            TokenKind::Session => {
                let s = self.store.live_session(digest.as_str(), now.millis()).await?.ok_or_else(|| {
                    unauth("this session token is unknown or has expired; ask the host app for a new one")
                })?;
                let role =
                    Role::parse(&s.role).ok_or_else(|| ServiceError::Internal(format!("stored role {:?}", s.role)))?;
                // Not remembered: a revoked session is refused from the next request on, everywhere.
                Ok(Principal::Session { org: OrgId::from_stored(s.org), user: UserId::from_stored(s.user_id), role })
            }
        }
    }

    /// Makes a session token for one end user of one org. Secret keys only.
    pub async fn create_session(&self, actor: &Principal, req: SessionRequest) -> ServiceResult<IssuedSession> {
        actor.require_secret_key("creating sessions").map_err(|e| super::access(e, "session"))?;
        let org = OrgId::parse(&req.org).map_err(|e| ServiceError::invalid("org", e.0))?;
        let user = UserId::parse(&req.user).map_err(|e| ServiceError::invalid("user", e.0))?;
        let role = Role::parse(&req.role).ok_or_else(|| {
            ServiceError::invalid("role", format!("role must be \"admin\" or \"member\" (got {:?})", req.role))
        })?;
        let max = self.settings.session_max_ttl.as_secs();
        let ttl = req.ttl_s.unwrap_or(3600);
        if ttl < 60 || ttl > max {
            return Err(ServiceError::invalid("ttl_s", format!("ttl_s must be from 60 to {max} seconds (got {ttl})")));
        }
        if let Some(ps) = &req.providers {
            if ps.is_empty() || ps.len() > 500 {
                return Err(ServiceError::invalid(
                    "providers",
                    "providers must list 1 to 500 provider ids, or be left out for all",
                ));
            }
            if let Some(unknown) = ps.iter().find(|p| self.catalog.get(p).is_none()) {
                return Err(ServiceError::invalid(
                    "providers",
                    format!(
                        "{:?} is not a provider of this server's catalog; GET /v1/providers lists them",
                        switchboard_core::ids::truncate_for_message(unknown)
                    ),
                ));
            }
        }
        if let Some(l) = &req.locale
            && !LOCALES.contains(&l.as_str())
        {
            return Err(ServiceError::invalid(
                "locale",
                format!(
                    "locale must be one of {} (got {:?})",
                    LOCALES.join(", "),
                    switchboard_core::ids::truncate_for_message(l)
                ),
            ));
        }
        let return_url = match &req.return_url {
            None => None,
            Some(r) => {
                let u = url::Url::parse(r)
                    .map_err(|e| ServiceError::invalid("return_url", format!("return_url is not a URL: {e}")))?;
                if !super::oauth::connect::redirect_allowed(&u, &self.settings.allowed_redirects) {
                    return Err(ServiceError::invalid(
                        "return_url",
                        "return_url must be under one of SWITCHBOARD_ALLOWED_REDIRECTS; the operator lists the app's URLs there",
                    ));
                }
                Some(u.to_string())
            }
        };
        let now = self.clock.now();
        let expires_at = now.plus(Duration::from_secs(ttl));
        let token = NewToken::mint(TokenKind::Session);
        let id = SessionId::generate(now);
        let rec = SessionRecord {
            id: id.to_string(),
            org: org.to_string(),
            user_id: user.to_string(),
            role: role.as_str().to_owned(),
            created_by: actor.to_string(),
            created_at: now.millis(),
            expires_at: expires_at.millis(),
            providers: req.providers.as_ref().map(|p| serde_json::Value::from(p.clone()).to_string()),
            locale: req.locale.clone(),
            return_url,
        };
        self.store.insert_session(token.digest.as_str(), &rec).await?;
        let connect_link = self.issue_connect_link(id.as_str(), expires_at).await?;
        self.audit(
            actor,
            AuditEvent {
                org: Some(org.as_str()),
                action: "session.create",
                target_kind: "user",
                target_id: user.as_str(),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "session": id.as_str(), "role": role.as_str(), "expires_at": expires_at.to_rfc3339() }),
            },
        )
        .await?;
        Ok(IssuedSession { id, token, org, user, role, expires_at, connect_link })
    }

    /// Who may see and end which sessions: a secret key any (of one org when
    /// given), an admin session those of its org, a member session its own.
    fn session_scope(actor: &Principal, org: Option<&OrgId>) -> ServiceResult<(Option<String>, Option<String>)> {
        let scope = actor.scope(org).map_err(|e| super::access(e, "session"))?;
        let user = if actor.is_member() { actor.user().map(|u| u.as_str().to_owned()) } else { None };
        Ok((scope.filter().map(str::to_owned), user))
    }

    /// Live sessions (never their tokens).
    pub async fn list_sessions(
        &self,
        actor: &Principal,
        org: Option<&OrgId>,
        page: Page,
    ) -> ServiceResult<Vec<SessionRecord>> {
        let (org, user) = Self::session_scope(actor, org)?;
        Ok(self.store.live_sessions(org.as_deref(), user.as_deref(), self.clock.now().millis(), &page).await?)
    }

    /// Ends a session: its token is refused from the next request on, on every instance.
    pub async fn revoke_session(&self, actor: &Principal, id: &str) -> ServiceResult<()> {
        let not_found = || {
            ServiceError::not_found(format!("session {:?} not found", switchboard_core::ids::truncate_for_message(id)))
        };
        if SessionId::parse(id).is_none() {
            return Err(not_found());
        }
        let (org, user) = Self::session_scope(actor, None)?;
        let rec = self.store.delete_session(id, org.as_deref(), user.as_deref()).await?.ok_or_else(not_found)?;
        self.audit(
            actor,
            AuditEvent {
                org: Some(&rec.org),
                action: "session.revoke",
                target_kind: "session",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "user": rec.user_id, "role": rec.role }),
            },
        )
        .await
    }
}
