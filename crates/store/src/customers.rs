//! Customers: the companies or people SIMs are assigned to.

use crate::db::{with_db, Store};
use crate::error::{StoreError, StoreResult};
use crate::model::{Customer, CustomerInput, Page, PageRequest};
use crate::paging::{like_contains, HasId};
use crate::sql::Sql;

const COLUMNS: &str = "c.id, c.name, c.email, c.phone, \
    (SELECT COUNT(*) FROM sims s WHERE s.customer_id = c.id) AS sim_count, c.created_at, c.updated_at";

impl HasId for Customer {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Store {
    /// Customers in creation order; `q` matches anywhere in the name or e-mail, ignoring case.
    pub async fn list_customers(&self, q: Option<&str>, page: PageRequest<'_>) -> StoreResult<Page<Customer>> {
        let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM customers c WHERE 1=1"));
        if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
            let p = sql.arg(like_contains(q));
            sql.push(&format!(" AND (lower(c.name) LIKE {p} ESCAPE '\\' OR lower(c.email) LIKE {p} ESCAPE '\\')"));
        }
        self.id_page(sql, "c", false, page).await
    }

    pub async fn get_customer(&self, id: i64) -> StoreResult<Customer> {
        let sql = format!("SELECT {COLUMNS} FROM customers c WHERE c.id = $1");
        with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?
            .ok_or(StoreError::NotFound("customer"))
    }

    pub async fn create_customer(&self, input: &CustomerInput) -> StoreResult<Customer> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let id: i64 = crate::db::with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO customers (name, email, phone, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(&input.name)
        .bind(&input.email)
        .bind(&input.phone)
        .bind(now)
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        self.get_customer(id).await
    }

    pub async fn update_customer(&self, id: i64, input: &CustomerInput) -> StoreResult<Customer> {
        let sql = Sql::with(
            "UPDATE customers SET name = $1, email = $2, phone = $3, updated_at = $4 WHERE id = $5",
            vec![
                input.name.clone().into(),
                input.email.clone().into(),
                input.phone.clone().into(),
                crate::now().into(),
                id.into(),
            ],
        );
        if self.write(sql).await? == 0 {
            return Err(StoreError::NotFound("customer"));
        }
        self.get_customer(id).await
    }

    /// Deletes a customer that no SIM refers to any more.
    pub async fn delete_customer(&self, id: i64) -> StoreResult<()> {
        let customer = self.get_customer(id).await?;
        if customer.sim_count > 0 {
            return Err(StoreError::Conflict {
                field: None,
                message: format!("customer {id} still has {} SIM(s); reassign them first", customer.sim_count),
            });
        }
        // A rule scoped to the customer would lose its scope (the key is ON DELETE SET NULL)
        // and alert for the whole fleet: the statement itself refuses while one names it.
        let sql = Sql::with(
            "DELETE FROM customers WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM alert_rules WHERE scope_customer_id = $1)",
            vec![id.into()],
        );
        if self.write(sql).await? == 0 {
            self.refuse_if_scoping_rules("scope_customer_id", id, &format!("customer {id}")).await?;
        }
        Ok(())
    }
}
