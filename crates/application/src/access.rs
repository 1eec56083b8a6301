//! Who may do what. A use case that only admins may run takes an [`Admin`],
//! which exists only for callers that are admins.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, member};

    #[test]
    fn only_admins_pass() {
        assert!(Admin::check(admin()).is_ok());
        assert_eq!(Admin::check(member()), Err(NotAnAdmin));
    }
}
