//! Who is calling, and what they may touch. Pure rules; the HTTP layer
//! authenticates, the services ask these questions.

use std::fmt;

use crate::ids::{ApiKeyId, OrgId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    /// Every role's name.
    pub const NAMES: [&'static str; 2] = [Self::Admin.as_str(), Self::Member.as_str()];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The host app's backend or an operator: may act on any org.
    SecretKey { id: ApiKeyId, name: String },
    /// One end user of one org.
    Session { org: OrgId, user: UserId, role: Role },
    /// The operator at the command line.
    Operator,
    /// Switchboard itself (background jobs).
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Forbidden(String),
    /// Reported as "not found" so a caller cannot learn what other orgs hold.
    #[error("not found")]
    OtherOrg,
}

/// The orgs a request may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgScope {
    All,
    One(OrgId),
}

impl OrgScope {
    /// `None` for all orgs, the org id otherwise: what store filters take.
    #[must_use]
    pub fn filter(&self) -> Option<&str> {
        match self {
            Self::All => None,
            Self::One(org) => Some(org.as_str()),
        }
    }

    #[must_use]
    pub fn allows(&self, org: &str) -> bool {
        match self {
            Self::All => true,
            Self::One(o) => o.as_str() == org,
        }
    }
}

impl Principal {
    /// Secret keys only (operators' routes, credential reads).
    pub fn require_secret_key(&self, what: &str) -> Result<(), AccessError> {
        match self {
            Self::SecretKey { .. } | Self::Operator | Self::System => Ok(()),
            Self::Session { .. } => Err(AccessError::Forbidden(format!(
                "{what} needs a secret API key (sk_…); session tokens may not do it"
            ))),
        }
    }

    /// The orgs visible to this caller, narrowed by an optional `?org=` filter.
    /// A session naming another org gets [`AccessError::OtherOrg`].
    pub fn scope(&self, requested: Option<&OrgId>) -> Result<OrgScope, AccessError> {
        match self {
            Self::Session { org, .. } => match requested {
                Some(r) if r != org => Err(AccessError::OtherOrg),
                _ => Ok(OrgScope::One(org.clone())),
            },
            _ => Ok(requested.map_or(OrgScope::All, |r| OrgScope::One(r.clone()))),
        }
    }

    /// The org a write acts in: a session's own (naming another is `OtherOrg`),
    /// or the one a secret key names (it must name one).
    pub fn acting_org(&self, requested: Option<&OrgId>) -> Result<Option<OrgId>, AccessError> {
        match self {
            Self::Session { org, .. } => match requested {
                Some(r) if r != org => Err(AccessError::OtherOrg),
                _ => Ok(Some(org.clone())),
            },
            _ => Ok(requested.cloned()),
        }
    }

    /// Admin sessions and secret keys.
    pub fn require_admin(&self, what: &str) -> Result<(), AccessError> {
        match self {
            Self::Session { role: Role::Member, .. } => {
                Err(AccessError::Forbidden(format!("{what} needs an admin of the org; this session is a member")))
            }
            _ => Ok(()),
        }
    }

    /// The session's user, if any.
    #[must_use]
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Self::Session { user, .. } => Some(user),
            _ => None,
        }
    }

    #[must_use]
    pub fn is_member(&self) -> bool {
        matches!(self, Self::Session { role: Role::Member, .. })
    }
}

/// How the audit log names a principal: ids and names, never a token.
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretKey { id, name } => write!(f, "key:{id} ({name})"),
            Self::Session { org, user, role } => write!(f, "session:{org}/{user} ({})", role.as_str()),
            Self::Operator => f.write_str("operator (cli)"),
            Self::System => f.write_str("system"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(org: &str, role: Role) -> Principal {
        Principal::Session { org: OrgId::parse(org).unwrap(), user: UserId::parse("u1").unwrap(), role }
    }

    #[test]
    fn sessions_see_only_their_org() {
        let s = session("acme", Role::Admin);
        let acme = OrgId::parse("acme").unwrap();
        let globex = OrgId::parse("globex").unwrap();
        assert_eq!(s.scope(None).unwrap(), OrgScope::One(acme.clone()));
        assert_eq!(s.scope(Some(&acme)).unwrap(), OrgScope::One(acme.clone()));
        assert_eq!(s.scope(Some(&globex)).unwrap_err(), AccessError::OtherOrg);
        assert_eq!(s.acting_org(Some(&globex)).unwrap_err(), AccessError::OtherOrg);
        assert!(s.require_secret_key("reading credentials").is_err());
    }

    #[test]
    fn secret_keys_see_every_org() {
        let k =
            Principal::SecretKey { id: ApiKeyId::generate(crate::time::Timestamp::from_millis(1)), name: "ci".into() };
        assert_eq!(k.scope(None).unwrap(), OrgScope::All);
        assert!(k.require_secret_key("x").is_ok());
        assert!(k.require_admin("x").is_ok());
    }

    #[test]
    fn members_are_not_admins() {
        assert!(session("acme", Role::Member).require_admin("deleting").is_err());
        assert!(session("acme", Role::Admin).require_admin("deleting").is_ok());
    }
}
