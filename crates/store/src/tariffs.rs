//! Tariff plans: what a SIM costs per month.

use crate::db::{with_db, with_tx, Store};
use crate::error::{StoreError, StoreResult};
use crate::model::{Page, PageRequest, TariffPlan, TariffPlanInput};
use crate::paging::HasId;
use crate::sql::Sql;
use chrono::{DateTime, Utc};
use simfleet_domain::{Money, SimType};

const COLUMNS: &str = "t.id, t.name, t.monthly_price_e4, t.currency, t.type, t.description, \
    (SELECT COUNT(*) FROM sims s WHERE s.tariff_plan_id = t.id) AS sim_count, t.created_at, t.updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct TariffRow {
    id: i64,
    name: String,
    monthly_price_e4: i64,
    currency: String,
    #[sqlx(rename = "type")]
    plan_type: String,
    description: Option<String>,
    sim_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl HasId for TariffRow {
    fn id(&self) -> i64 {
        self.id
    }
}

impl From<TariffRow> for TariffPlan {
    fn from(r: TariffRow) -> Self {
        TariffPlan {
            id: r.id,
            name: r.name,
            monthly_price: Money::from_scaled(r.monthly_price_e4),
            currency: r.currency,
            plan_type: SimType::parse(&r.plan_type).unwrap_or(SimType::DataOnly),
            description: r.description,
            sim_count: r.sim_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Store {
    pub async fn list_tariff_plans(&self, page: PageRequest<'_>) -> StoreResult<Page<TariffPlan>> {
        let sql = Sql::new(format!("SELECT {COLUMNS} FROM tariff_plans t WHERE 1=1"));
        let rows: Page<TariffRow> = self.id_page(sql, "t", false, page).await?;
        Ok(Page {
            items: rows.items.into_iter().map(Into::into).collect(),
            next_cursor: rows.next_cursor,
            total: rows.total,
        })
    }

    pub async fn get_tariff_plan(&self, id: i64) -> StoreResult<TariffPlan> {
        let sql = format!("SELECT {COLUMNS} FROM tariff_plans t WHERE t.id = $1");
        let row: Option<TariffRow> = with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        row.map(Into::into).ok_or(StoreError::NotFound("tariff plan"))
    }

    pub async fn create_tariff_plan(&self, p: &TariffPlanInput) -> StoreResult<TariffPlan> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO tariff_plans (name, monthly_price_e4, currency, type, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(&p.name)
        .bind(p.monthly_price.to_scaled())
        .bind(&p.currency)
        .bind(p.plan_type.as_str())
        .bind(&p.description)
        .bind(now)
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        self.get_tariff_plan(id).await
    }

    pub async fn update_tariff_plan(&self, id: i64, p: &TariffPlanInput) -> StoreResult<TariffPlan> {
        let sql = Sql::with(
            "UPDATE tariff_plans SET name = $1, monthly_price_e4 = $2, currency = $3, type = $4, description = $5, updated_at = $6 WHERE id = $7",
            vec![
                p.name.clone().into(),
                p.monthly_price.to_scaled().into(),
                p.currency.clone().into(),
                p.plan_type.as_str().into(),
                p.description.clone().into(),
                crate::now().into(),
                id.into(),
            ],
        );
        if self.write(sql).await? == 0 {
            return Err(StoreError::NotFound("tariff plan"));
        }
        self.get_tariff_plan(id).await
    }

    pub async fn delete_tariff_plan(&self, id: i64) -> StoreResult<()> {
        let plan = self.get_tariff_plan(id).await?;
        if plan.sim_count > 0 {
            return Err(StoreError::Conflict {
                field: None,
                message: format!("tariff plan {id} is still used by {} SIM(s)", plan.sim_count),
            });
        }
        // As for customers: never delete the plan from under a rule scoped to it.
        let sql = Sql::with(
            "DELETE FROM tariff_plans WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM alert_rules WHERE scope_tariff_plan_id = $1)",
            vec![id.into()],
        );
        if self.write(sql).await? == 0 {
            self.refuse_if_scoping_rules("scope_tariff_plan_id", id, &format!("tariff plan {id}")).await?;
        }
        Ok(())
    }
}
