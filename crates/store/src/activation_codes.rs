//! Activation codes: single-use codes that an activation can consume.

use crate::db::{with_db, with_tx, Store};
use crate::error::{StoreError, StoreResult};
use crate::model::{ActivationCode, ActivationCodeInput, CodeStatus, Page, PageRequest};
use crate::paging::HasId;
use crate::sql::Sql;
use chrono::{DateTime, Utc};

const COLUMNS: &str = "a.id, a.code, a.status, a.expires_at, s.iccid, a.used_at, a.created_at, a.updated_at \
    FROM activation_codes a LEFT JOIN sims s ON s.id = a.sim_id";

#[derive(sqlx::FromRow)]
struct CodeRow {
    id: i64,
    code: String,
    status: String,
    expires_at: Option<DateTime<Utc>>,
    iccid: Option<String>,
    used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl HasId for CodeRow {
    fn id(&self) -> i64 {
        self.id
    }
}

impl CodeRow {
    fn into_code(self, now: DateTime<Utc>) -> ActivationCode {
        let stored = CodeStatus::parse(&self.status).unwrap_or(CodeStatus::Expired);
        let status = match stored {
            CodeStatus::Unused if self.expires_at.is_some_and(|t| t <= now) => CodeStatus::Expired,
            s => s,
        };
        ActivationCode {
            id: self.id,
            code: self.code,
            status,
            expires_at: self.expires_at,
            iccid: self.iccid,
            used_at: self.used_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl Store {
    /// Codes in creation order, optionally only those with the given effective status.
    pub async fn list_activation_codes(
        &self,
        status: Option<CodeStatus>,
        page: PageRequest<'_>,
    ) -> StoreResult<Page<ActivationCode>> {
        let now = crate::now();
        let mut sql = Sql::new(format!("SELECT {COLUMNS} WHERE 1=1"));
        match status {
            Some(CodeStatus::Used) => {
                sql.push(" AND a.status = 'USED'");
            }
            Some(CodeStatus::Unused) => {
                let p = sql.arg(now);
                sql.push(&format!(" AND a.status = 'UNUSED' AND (a.expires_at IS NULL OR a.expires_at > {p})"));
            }
            Some(CodeStatus::Expired) => {
                let p = sql.arg(now);
                sql.push(&format!(" AND (a.status = 'EXPIRED' OR (a.status = 'UNUSED' AND a.expires_at <= {p}))"));
            }
            None => {}
        }
        let rows: Page<CodeRow> = self.id_page(sql, "a", false, page).await?;
        Ok(Page {
            items: rows.items.into_iter().map(|r| r.into_code(now)).collect(),
            next_cursor: rows.next_cursor,
            total: rows.total,
        })
    }

    pub async fn get_activation_code(&self, id: i64) -> StoreResult<ActivationCode> {
        let sql = format!("SELECT {COLUMNS} WHERE a.id = $1");
        let row: Option<CodeRow> = with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        row.map(|r| r.into_code(crate::now())).ok_or(StoreError::NotFound("activation code"))
    }

    pub async fn create_activation_code(&self, input: &ActivationCodeInput) -> StoreResult<ActivationCode> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO activation_codes (code, status, expires_at, sim_id, used_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(&input.code)
        .bind(input.status.as_str())
        .bind(input.expires_at)
        .bind(input.sim_id)
        .bind((input.status == CodeStatus::Used).then_some(now))
        .bind(now)
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        self.get_activation_code(id).await
    }

    pub async fn update_activation_code(&self, id: i64, input: &ActivationCodeInput) -> StoreResult<ActivationCode> {
        let sql = Sql::with(
            "UPDATE activation_codes SET code = $1, status = $2, expires_at = $3, sim_id = $4, updated_at = $5 WHERE id = $6",
            vec![
                input.code.clone().into(),
                input.status.as_str().into(),
                input.expires_at.into(),
                input.sim_id.into(),
                crate::now().into(),
                id.into(),
            ],
        );
        if self.write(sql).await? == 0 {
            return Err(StoreError::NotFound("activation code"));
        }
        self.get_activation_code(id).await
    }

    /// Deletes a code that is not linked to a SIM.
    pub async fn delete_activation_code(&self, id: i64) -> StoreResult<()> {
        let code = self.get_activation_code(id).await?;
        if let Some(iccid) = code.iccid {
            return Err(StoreError::Conflict {
                field: None,
                message: format!("activation code {id} is linked to SIM {iccid}"),
            });
        }
        self.write(Sql::with("DELETE FROM activation_codes WHERE id = $1", vec![id.into()])).await?;
        Ok(())
    }
}
