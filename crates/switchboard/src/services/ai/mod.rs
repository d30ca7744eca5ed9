//! For AI workflow builders and agents: what one user's connections can do, in a form a model can
//! read within a byte budget (`context`), and a generated workflow checked against the live accounts
//! before anything runs (`validate`).

pub mod context;
pub mod mcp;
pub mod validate;

use switchboard_core::access::{Principal, Role};
use switchboard_core::ids::{OrgId, UserId};

use super::{ServiceError, ServiceResult, access};

/// The user whose view is asked for: a session's own, or — for a secret key — the org and user it
/// names, seen as a member of that org sees (the shared connections and their own).
pub(crate) fn user_view(actor: &Principal, org: Option<&str>, user: Option<&str>) -> ServiceResult<Principal> {
    match actor {
        Principal::Session { org: own, .. } => {
            if let Some(o) = org
                && o != own.as_str()
            {
                return Err(access(switchboard_core::access::AccessError::OtherOrg, "org"));
            }
            Ok(actor.clone())
        }
        Principal::SecretKey { .. } | Principal::Operator => {
            let (Some(org), Some(user)) = (org, user) else {
                return Err(ServiceError::invalid(
                    if org.is_none() { "org" } else { "user" },
                    "a secret key asks for one user's view: give both org and user",
                ));
            };
            Ok(Principal::Session {
                org: OrgId::parse(org).map_err(|e| ServiceError::invalid("org", e.0))?,
                user: UserId::parse(user).map_err(|e| ServiceError::invalid("user", e.0))?,
                role: Role::Member,
            })
        }
        Principal::System => Err(ServiceError::Forbidden("the system has no user view".into())),
    }
}
