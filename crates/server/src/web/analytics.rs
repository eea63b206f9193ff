//! `/analytics`: fleet usage trend with a 7-day moving average, the weekday × week heatmap,
//! the top consumers and the usage anomalies over a chosen range, and CSV exports of exactly
//! what is shown.

use super::overview::trend;
use super::page::{Ctx, WebError};
use super::sims::{csv_line, csv_response};
use super::templates::script_json;
use crate::api::analytics::{anomaly_k, heatmap_cells, AnomalyView, HeatmapCell};
use crate::app::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Datelike, Days, NaiveDate};
use minijinja::context;
use serde::{Deserialize, Serialize};
use simfleet_store::FleetDay;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics", get(page))
        .route("/analytics/trend.csv", get(trend_csv))
        .route("/analytics/top-consumers.csv", get(top_csv))
        .route("/analytics/heatmap.csv", get(heatmap_csv))
        .route("/analytics/anomalies.csv", get(anomalies_csv))
}

const TOP: i64 = 20;
const MAX_DAYS: u64 = 3660;
/// The heatmap shows at most this many weeks (the end of a longer range).
const HEATMAP_WEEKS: u64 = 53;
/// At most this many anomalies are listed (the newest).
const ANOMALIES_SHOWN: i64 = 200;

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

/// Heatmap cells for the range (its last [`HEATMAP_WEEKS`] weeks), from the fleet's daily
/// usage already loaded for it.
fn heatmap(days: &[FleetDay], from: NaiveDate, to: NaiveDate) -> Vec<HeatmapCell> {
    let last_monday = to - Days::new(u64::from(to.weekday().num_days_from_monday()));
    heatmap_cells(days, from.max(last_monday - Days::new(7 * (HEATMAP_WEEKS - 1))), to)
}

/// A weekday's mean data use over the heatmap's days, as a share of the busiest weekday.
#[derive(Serialize)]
struct WeekdayAverage {
    name: &'static str,
    avg: i64,
    percent: i64,
}

fn weekday_averages(cells: &[HeatmapCell]) -> Vec<WeekdayAverage> {
    const NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    let avgs: Vec<(&'static str, i64)> = (1..=7u32)
        .zip(NAMES)
        .filter_map(|(weekday, name)| {
            let days: Vec<i64> = cells.iter().filter(|c| c.weekday == weekday).map(|c| c.data_total).collect();
            (!days.is_empty()).then(|| (name, days.iter().sum::<i64>() / days.len() as i64))
        })
        .collect();
    let max = avgs.iter().map(|(_, a)| *a).max().unwrap_or(0).max(1);
    avgs.into_iter().map(|(name, avg)| WeekdayAverage { name, avg, percent: avg * 100 / max }).collect()
}

/// A usage anomaly as listed: the API's view with the factor over the baseline median.
#[derive(Serialize)]
struct AnomalyRow {
    #[serde(flatten)]
    view: AnomalyView,
    /// Use on the day ÷ baseline median; `None` when the median is 0.
    factor: Option<f64>,
    factor_text: String,
    median_bytes: i64,
    mad_bytes: i64,
}

impl AnomalyRow {
    fn new(a: simfleet_store::Anomaly, k: i64) -> Self {
        let factor = (a.median > 0.0).then(|| a.data_total as f64 / a.median);
        AnomalyRow {
            factor_text: factor.map(|f| format!("×{f:.1}")).unwrap_or_else(|| "new".into()),
            median_bytes: a.median.round() as i64,
            mad_bytes: a.mad.round() as i64,
            factor,
            view: AnomalyView::new(a, k),
        }
    }
}

/// The anomalies listed for a range.
struct Anomalies {
    /// Newest day first.
    rows: Vec<AnomalyRow>,
    /// The range has more than [`ANOMALIES_SHOWN`].
    more: bool,
    k: i64,
}

async fn anomalies(app: &AppState, from: NaiveDate, to: NaiveDate) -> Result<Anomalies, WebError> {
    let k = anomaly_k(app, None).await?;
    let mut found = app.store.usage_anomalies_between(from, to, k, ANOMALIES_SHOWN + 1).await?;
    let more = found.len() as i64 > ANOMALIES_SHOWN;
    found.truncate(ANOMALIES_SHOWN as usize);
    let rows = found.into_iter().map(|a| AnomalyRow::new(a, k)).collect();
    Ok(Anomalies { rows, more, k })
}

async fn page(ctx: Ctx, State(app): State<AppState>, Query(r): Query<Range>) -> Result<Response, WebError> {
    let (from, to, range_error) = r.days();
    let (days, top, found) = tokio::try_join!(
        async { Ok::<_, WebError>(app.store.fleet_usage(from, to).await?) },
        async { Ok(app.store.top_consumers(from, to, TOP).await?) },
        anomalies(&app, from, to),
    )?;
    let cells = heatmap(&days, from, to);
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
            heatmap => script_json(&cells), weekdays => weekday_averages(&cells), heatmap_from => cells.first().map(|c| c.day.to_string()),
            heatmap_weeks => cells.last().zip(cells.first()).map(|(l, f)| (l.week - f.week).num_days() / 7 + 1),
            anomalies => found.rows, anomalies_more => found.more, anomalies_shown => ANOMALIES_SHOWN, anomaly_k => found.k,
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

async fn heatmap_csv(_: Ctx, State(app): State<AppState>, Query(r): Query<Range>) -> Result<Response, WebError> {
    let (from, to, _) = r.days();
    let days = app.store.fleet_usage(from, to).await?;
    let mut out = csv_line(&["week", "weekday", "day", "data_bytes", "active_sims"]);
    for c in heatmap(&days, from, to) {
        out.push_str(&csv_line(&[
            &c.week.to_string(),
            &c.weekday.to_string(),
            &c.day.to_string(),
            &c.data_total.to_string(),
            &c.active_sims.to_string(),
        ]));
    }
    Ok(csv_response(&format!("simfleet-usage-heatmap-{from}-{to}.csv"), out))
}

async fn anomalies_csv(_: Ctx, State(app): State<AppState>, Query(r): Query<Range>) -> Result<Response, WebError> {
    let (from, to, _) = r.days();
    let rows = anomalies(&app, from, to).await?.rows;
    let mut out = csv_line(&[
        "iccid",
        "day",
        "data_bytes",
        "baseline_median_bytes",
        "baseline_mad_bytes",
        "baseline_days",
        "threshold_bytes",
        "k",
        "factor",
    ]);
    for a in rows {
        let v = &a.view;
        out.push_str(&csv_line(&[
            &v.iccid,
            &v.day.to_string(),
            &v.data_total.to_string(),
            &format!("{:.0}", v.median),
            &format!("{:.0}", v.mad),
            &v.baseline_days.to_string(),
            &format!("{:.0}", v.threshold),
            &v.k.to_string(),
            &a.factor.map(|f| format!("{f:.2}")).unwrap_or_default(),
        ]));
    }
    Ok(csv_response(&format!("simfleet-anomalies-{from}-{to}.csv"), out))
}
