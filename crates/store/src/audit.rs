//! The audit log: one row per mutating request.

use crate::db::Store;
use crate::error::StoreResult;
use crate::model::{AuditEntry, NewAuditEntry, Page, PageRequest};
use crate::paging::HasId;
use crate::sql::Sql;

impl HasId for AuditEntry {
    fn id(&self) -> i64 {
        self.id
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub method: Option<String>,
    pub path_prefix: Option<String>,
}

impl Store {
    pub async fn append_audit(&self, e: &NewAuditEntry) -> StoreResult<()> {
        let sql = Sql::with(
            "INSERT INTO audit_log (at, actor, role, method, path, route, status, ip, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                crate::now().into(),
                e.actor.clone().into(),
                e.role.clone().into(),
                e.method.clone().into(),
                e.path.clone().into(),
                e.route.clone().into(),
                i64::from(e.status).into(),
                e.ip.clone().into(),
                e.request_id.clone().into(),
            ],
        );
        self.write(sql).await?;
        Ok(())
    }

    /// Audit entries, newest first.
    pub async fn list_audit(&self, filter: &AuditFilter, page: PageRequest<'_>) -> StoreResult<Page<AuditEntry>> {
        let mut sql =
            Sql::new("SELECT l.id, l.at, l.actor, l.role, l.method, l.path, l.route, l.status, l.ip, l.request_id FROM audit_log l WHERE 1=1");
        if let Some(actor) = &filter.actor {
            let p = sql.arg(actor.as_str());
            sql.push(&format!(" AND l.actor = {p}"));
        }
        if let Some(method) = &filter.method {
            let p = sql.arg(method.to_uppercase());
            sql.push(&format!(" AND l.method = {p}"));
        }
        if let Some(prefix) = &filter.path_prefix {
            let p = sql.arg(prefix.as_str());
            sql.push(&format!(" AND substr(l.path, 1, length({p})) = {p}"));
        }
        self.id_page(sql, "l", true, page).await
    }
}
