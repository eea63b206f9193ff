//! `/analytics`: fleet usage trend with a 7-day moving average and the top consumers over a
//! chosen range, and CSV exports of exactly what is shown.

use super::overview::trend;
use super::page::{Ctx, WebError};
use super::sims::{csv_line, csv_response};
use super::templates::script_json;
use crate::app::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Days, NaiveDate};
use minijinja::context;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics", get(page))
        .route("/analytics/trend.csv", get(trend_csv))
        .route("/analytics/top-consumers.csv", get(top_csv))
}

const TOP: i64 = 20;
const MAX_DAYS: u64 = 3660;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Range {
    from: String,
    to: String,
}

impl Range {
    /// The chosen days, default the last 30; an error message for a bad range.
    fn days(&self) -> (NaiveDate, NaiveDate, Option<String>) {
        let today = chrono::Utc::now().date_naive();
        let parse = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        let to = parse(&self.to).unwrap_or(today);
        let from = parse(&self.from).unwrap_or(to - Days::new(29));
        if from > to {
            return (
                to - Days::new(29),
                to,
                Some("The start date is after the end date; showing the last 30 days.".into()),
            );
        }
        if (to - from).num_days() as u64 > MAX_DAYS {
            return (to - Days::new(MAX_DAYS), to, Some("Ranges are limited to ten years.".into()));
        }
        (from, to, None)
    }
}

async fn page(ctx: Ctx, State(app): State<AppState>, Query(r): Query<Range>) -> Result<Response, WebError> {
    let (from, to, range_error) = r.days();
    let (days, top) = tokio::try_join!(app.store.fleet_usage(from, to), app.store.top_consumers(from, to, TOP))?;
    let points = trend(&days);
    let total: i64 = days.iter().map(|d| d.data_total).sum();
    let sms: i64 = days.iter().map(|d| d.sms_mo + d.sms_mt).sum();
    let peak = days.iter().max_by_key(|d| d.data_total).map(|d| (d.day.to_string(), d.data_total));
    let avg_active =
        if days.is_empty() { 0 } else { days.iter().map(|d| d.active_sims).sum::<i64>() / days.len() as i64 };
    let today = chrono::Utc::now().date_naive();
    let presets: Vec<_> = [(7u64, "7 days"), (30, "30 days"), (90, "90 days"), (180, "180 days")]
        .iter()
        .map(|(n, label)| context! { label, from => (today - Days::new(n - 1)).to_string(), to => today.to_string() })
        .collect();
    ctx.render(
        "analytics.html",
        context! {
            nav => "analytics",
            from => from.to_string(), to => to.to_string(), range_error, presets,
            total, sms, peak, avg_active, days_count => days.len(),
            top, has_data => !days.is_empty(),
            query => format!("from={from}&to={to}"),
            trend => script_json(&points),
        },
    )
}

async fn trend_csv(_: Ctx, State(app): State<AppState>, Query(r): Query<Range>) -> Result<Response, WebError> {
    let (from, to, _) = r.days();
    let days = app.store.fleet_usage(from, to).await?;
    let mut out =
        csv_line(&["day", "data_bytes", "data_bytes_7d_avg", "data_rx_bytes", "data_tx_bytes", "sms", "active_sims"]);
    for (d, p) in days.iter().zip(trend(&days)) {
        out.push_str(&csv_line(&[
            &d.day.to_string(),
            &d.data_total.to_string(),
            &p.avg7.to_string(),
            &d.data_rx.to_string(),
            &d.data_tx.to_string(),
            &(d.sms_mo + d.sms_mt).to_string(),
            &d.active_sims.to_string(),
        ]));
    }
    Ok(csv_response(&format!("simfleet-usage-{from}-{to}.csv"), out))
}

async fn top_csv(_: Ctx, State(app): State<AppState>, Query(r): Query<Range>) -> Result<Response, WebError> {
    let (from, to, _) = r.days();
    let top = app.store.top_consumers(from, to, TOP).await?;
    let mut out = csv_line(&["rank", "iccid", "label", "data_bytes", "sms"]);
    for (i, t) in top.iter().enumerate() {
        out.push_str(&csv_line(&[
            &(i + 1).to_string(),
            &t.iccid,
            t.label.as_deref().unwrap_or(""),
            &t.data_total.to_string(),
            &t.sms_total.to_string(),
        ]));
    }
    Ok(csv_response(&format!("simfleet-top-consumers-{from}-{to}.csv"), out))
}
