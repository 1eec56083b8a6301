//! Error policy: diesel and pool errors never leave this crate. Constraint
//! violations become the port's typed `StoreError` variants that use cases
//! react to; everything else is `Unexpected`, logged by the caller and
//! answered as a 500 without details.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use libris_application::StoreError;

pub(crate) fn store_error(error: DieselError) -> StoreError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::UniqueViolation(info.constraint_name().unwrap_or(info.message()).to_owned())
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            StoreError::ForeignKeyViolation(
                info.constraint_name().unwrap_or(info.message()).to_owned(),
            )
        }
        other => StoreError::Unexpected(other.to_string()),
    }
}

/// A stored value that no longer parses (a hand-edited row, a bug in an
/// older version): `what` names the table and column.
pub(crate) fn unreadable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(format!("stored {what} is unreadable: {e}"))
}

/// `?` on diesel results inside repositories.
pub(crate) trait IntoStore<T> {
    fn store(self) -> Result<T, StoreError>;
}

impl<T> IntoStore<T> for Result<T, DieselError> {
    fn store(self) -> Result<T, StoreError> {
        self.map_err(store_error)
    }
}
