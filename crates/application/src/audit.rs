//! The audit log of book changes, as admins read it.

use libris_domain::audit::AuditEntry;

use crate::access::Admin;
use crate::pagination::{Page, Paged};
use crate::ports::{AuditFilter, Store, StoreError, StoreExt};

pub fn list_book_logs(
    store: &dyn Store,
    _admin: &Admin,
    filter: &AuditFilter,
    page: Page,
) -> Result<Paged<AuditEntry>, StoreError> {
    store.read_tx(|tx| tx.audit().list_audit_entries(filter, page))
}
