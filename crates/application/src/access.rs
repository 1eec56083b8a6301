//! Who may do what. A use case that only admins may run takes an [`Admin`],
//! which exists only for callers that are admins.

use libris_domain::accounts::UserId;
use libris_domain::webhooks::Webhook;

use crate::ports::Caller;

/// A caller known to be an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(Caller);

/// The caller is not an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this action is reserved to admins")]
pub struct NotAnAdmin;

impl Admin {
    pub fn check(caller: Caller) -> Result<Self, NotAnAdmin> {
        if caller.is_admin {
            Ok(Self(caller))
        } else {
            Err(NotAnAdmin)
        }
    }

    pub fn caller(&self) -> &Caller {
        &self.0
    }
}

/// Who manages webhooks: an admin manages every one; a member only their
/// own (drf-hooks' per-user hooks), and anyone else's is "not found".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookManager {
    Admin(Admin),
    Member(Caller),
}

impl WebhookManager {
    pub fn new(caller: Caller) -> Self {
        match Admin::check(caller.clone()) {
            Ok(admin) => Self::Admin(admin),
            Err(NotAnAdmin) => Self::Member(caller),
        }
    }

    pub fn caller(&self) -> &Caller {
        match self {
            Self::Admin(admin) => admin.caller(),
            Self::Member(caller) => caller,
        }
    }

    /// The member whose webhooks this manager sees; `None`: every webhook.
    pub fn owner(&self) -> Option<UserId> {
        match self {
            Self::Admin(_) => None,
            Self::Member(caller) => Some(caller.id),
        }
    }

    pub fn manages(&self, webhook: &Webhook) -> bool {
        self.owner()
            .is_none_or(|owner| webhook.owner == Some(owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, member};

    #[test]
    fn an_admin_manages_every_webhook_and_a_member_only_their_own() {
        let mut hook = crate::testing::webhook("https://a.example/", vec![]);
        let admin = WebhookManager::new(admin());
        let member = WebhookManager::new(member());
        assert!(admin.manages(&hook), "an admin's webhook");
        assert!(!member.manages(&hook), "not the member's");
        hook.owner = Some(member.caller().id);
        assert!(admin.manages(&hook) && member.manages(&hook));
        hook.owner = Some(member.caller().id + 1);
        assert!(!member.manages(&hook), "another member's");
        assert_eq!(
            (admin.owner(), member.owner()),
            (None, Some(member.caller().id))
        );
    }

    #[test]
    fn only_admins_pass() {
        assert!(Admin::check(admin()).is_ok());
        assert_eq!(Admin::check(member()), Err(NotAnAdmin));
    }
}
