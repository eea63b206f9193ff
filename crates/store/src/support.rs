//! Support tickets with the provider, mirrored locally with the SIMs they are about.

use crate::db::{with_db, with_tx, Store};
use crate::error::{StoreError, StoreResult};
use crate::paging::HasId;
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A ticket as the provider reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderTicket {
    pub case_id: String,
    pub subject: String,
    pub text: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub solved_at: Option<DateTime<Utc>>,
    /// JSON array: the communication thread.
    pub communications: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TicketRow {
    pub id: i64,
    pub case_id: Option<String>,
    pub subject: String,
    pub text: String,
    pub reply_to: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub solved_at: Option<DateTime<Utc>>,
    pub communications: String,
    pub created_by: Option<String>,
    pub synced_at: DateTime<Utc>,
}

impl HasId for TicketRow {
    fn id(&self) -> i64 {
        self.id
    }
}

const TICKET_COLUMNS: &str = "t.id, t.case_id, t.subject, t.text, t.reply_to, t.status, t.created_at, t.solved_at, \
    t.communications, t.created_by, t.synced_at";

impl Store {
    /// Stores tickets read from the provider (by case id), in one transaction.
    pub async fn upsert_tickets(&self, tickets: &[ProviderTicket]) -> StoreResult<()> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        for t in tickets {
            // A ticket opened here whose case id the provider had not listed yet takes it now.
            with_tx!(&mut tx, c => sqlx::query(
                "UPDATE support_tickets SET case_id = $1 WHERE case_id IS NULL AND subject = $2 AND text = $3 \
                 AND NOT EXISTS (SELECT 1 FROM support_tickets WHERE case_id = $1)",
            )
            .bind(t.case_id.as_str())
            .bind(t.subject.as_str())
            .bind(t.text.as_str())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
            with_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO support_tickets (case_id, subject, text, status, created_at, solved_at, communications, synced_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, \
                 solved_at = excluded.solved_at, communications = excluded.communications, synced_at = excluded.synced_at",
            )
            .bind(t.case_id.as_str())
            .bind(t.subject.as_str())
            .bind(t.text.as_str())
            .bind(t.status.as_str())
            .bind(t.created_at)
            .bind(t.solved_at)
            .bind(t.communications.as_str())
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }

    /// Records a ticket just opened with the provider, with the SIMs it is about, in one
    /// transaction. `ticket.case_id` is the provider's case when it could be identified.
    pub async fn create_ticket(
        &self,
        ticket: &ProviderTicket,
        reply_to: Option<&str>,
        case_known: bool,
        sim_ids: &[i64],
        actor: &str,
    ) -> StoreResult<TicketRow> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let case_id = case_known.then_some(ticket.case_id.as_str());
        let id: i64 = with_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO support_tickets (case_id, subject, text, reply_to, status, created_at, communications, created_by, synced_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (case_id) DO UPDATE SET reply_to = excluded.reply_to, \
             created_by = excluded.created_by RETURNING id",
        )
        .bind(case_id)
        .bind(ticket.subject.as_str())
        .bind(ticket.text.as_str())
        .bind(reply_to)
        .bind(ticket.status.as_str())
        .bind(ticket.created_at)
        .bind(ticket.communications.as_str())
        .bind(actor)
        .bind(now)
        .fetch_one(&mut *c)
        .await)?;
        for chunk in sim_ids.chunks(1000) {
            let mut sql = Sql::new("INSERT INTO support_ticket_sims (ticket_id, sim_id) SELECT ");
            let p = sql.arg(id);
            sql.push(&format!("{p}, id FROM sims WHERE id IN ("));
            let ph: Vec<String> = chunk.iter().map(|s| sql.arg(*s)).collect();
            sql.push(&ph.join(", ")).push(") ON CONFLICT DO NOTHING");
            let text = sql.text_for(tx.dialect());
            with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        if !sim_ids.is_empty() {
            let note = format!("support ticket {id} opened: {}", ticket.subject);
            crate::events::insert_events_for(
                &mut tx,
                sim_ids,
                simfleet_domain::EventKind::SupportTicketOpened,
                Some(&note),
                actor,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(self.get_ticket(id).await?.0)
    }

    /// Tickets, newest first; optionally only those about one SIM or in one status.
    pub async fn list_tickets(
        &self,
        status: Option<&str>,
        sim_id: Option<i64>,
        page: crate::PageRequest<'_>,
    ) -> StoreResult<crate::Page<TicketRow>> {
        let mut sql = Sql::new(format!("SELECT {TICKET_COLUMNS} FROM support_tickets t WHERE 1=1"));
        if let Some(s) = status {
            let p = sql.arg(s);
            sql.push(&format!(" AND t.status = {p}"));
        }
        if let Some(sim) = sim_id {
            let p = sql.arg(sim);
            sql.push(&format!(" AND t.id IN (SELECT ticket_id FROM support_ticket_sims WHERE sim_id = {p})"));
        }
        self.id_page(sql, "t", true, page).await
    }

    /// One ticket and the ICCIDs of its SIMs.
    pub async fn get_ticket(&self, id: i64) -> StoreResult<(TicketRow, Vec<String>)> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM support_tickets t WHERE t.id = $1");
        let row: Option<TicketRow> = with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        let row = row.ok_or(StoreError::NotFound("support ticket"))?;
        let sims: Vec<String> = with_db!(self, c => sqlx::query_scalar(
            "SELECT s.iccid FROM support_ticket_sims ts JOIN sims s ON s.id = ts.sim_id WHERE ts.ticket_id = $1 ORDER BY s.iccid",
        )
        .bind(id)
        .fetch_all(c)
        .await)?;
        Ok((row, sims))
    }

    /// Case ids already stored, to tell a newly opened case from older ones.
    pub async fn ticket_case_ids(&self) -> StoreResult<Vec<String>> {
        Ok(with_db!(self, c => sqlx::query_scalar("SELECT case_id FROM support_tickets WHERE case_id IS NOT NULL")
            .fetch_all(c)
            .await)?)
    }
}
