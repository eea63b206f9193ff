//! `/exports/usage`: daily usage of one SIM, or of the whole fleet, for a date range, as CSV
//! or XLSX. Days without traffic are included as zeros so that a spreadsheet sums and charts
//! the range as it is.

use super::exports::{attachment, XLSX_TYPE};
use crate::app::AppState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::Query;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use chrono::{Days, NaiveDate, Utc};
use rust_xlsxwriter::{Format, Workbook};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_usage))
}

/// The longest range one export covers.
const MAX_DAYS: u64 = 3660;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageExportQuery {
    /// First day (UTC), default 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (UTC), default today.
    pub to: Option<NaiveDate>,
    /// One SIM; without it, the fleet's daily totals.
    pub iccid: Option<String>,
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
}

/// One day of usage: bytes and SMS counts, and for the fleet the SIMs that used anything.
struct Day {
    data_rx: i64,
    data_tx: i64,
    data_total: i64,
    sms_mo: i64,
    sms_mt: i64,
    active_sims: Option<i64>,
}

/// Daily usage as CSV or XLSX: `day, data_rx, data_tx, data_total, sms_mo, sms_mt` in bytes
/// and messages, plus `active_sims` for the fleet.
#[utoipa::path(get, path = "/exports/usage", tag = "exports", params(UsageExportQuery),
    responses(
        (status = 200, description = "The file, as an attachment", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn export_usage(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<UsageExportQuery>,
) -> ApiResult<Response> {
    let mut v = Validator::default();
    let xlsx = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("csv") => false,
        Some("xlsx") => true,
        Some(_) => {
            v.add("format", "must be csv or xlsx");
            false
        }
    };
    let to = q.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = q.from.unwrap_or(to - Days::new(29));
    if from > to {
        v.add("from", "must not be after to");
    } else if to - from > chrono::TimeDelta::days(MAX_DAYS as i64) {
        v.add("to", format!("the range is limited to {MAX_DAYS} days"));
    }
    v.finish()?;

    let (subject, mut days) = match q.iccid.as_deref() {
        Some(iccid) => {
            let sim = app.store.get_sim(iccid).await?;
            let rows = app.store.sim_usage(sim.id, from, to).await?;
            let days: BTreeMap<NaiveDate, Day> = rows
                .into_iter()
                .map(|u| {
                    let day = Day {
                        data_rx: u.data_rx,
                        data_tx: u.data_tx,
                        data_total: u.data_total,
                        sms_mo: u.sms_mo,
                        sms_mt: u.sms_mt,
                        active_sims: None,
                    };
                    (u.day, day)
                })
                .collect();
            (sim.iccid, days)
        }
        None => {
            let rows = app.store.fleet_usage(from, to).await?;
            let days = rows
                .into_iter()
                .map(|f| {
                    let day = Day {
                        data_rx: f.data_rx,
                        data_tx: f.data_tx,
                        data_total: f.data_total,
                        sms_mo: f.sms_mo,
                        sms_mt: f.sms_mt,
                        active_sims: Some(f.active_sims),
                    };
                    (f.day, day)
                })
                .collect();
            ("fleet".to_owned(), days)
        }
    };
    let fleet = q.iccid.is_none();
    let mut d = from;
    while d <= to {
        days.entry(d).or_insert(Day {
            data_rx: 0,
            data_tx: 0,
            data_total: 0,
            sms_mo: 0,
            sms_mt: 0,
            active_sims: fleet.then_some(0),
        });
        d = d + Days::new(1);
    }
    let name = format!("usage-{subject}-{from}-{to}");
    if xlsx {
        let bytes = workbook(&days, fleet).map_err(|e| ApiError::Internal(anyhow::anyhow!("usage workbook: {e}")))?;
        return Ok(attachment(Body::from(bytes), XLSX_TYPE, &format!("{name}.xlsx")));
    }
    Ok(attachment(Body::from(csv(&days, fleet)), "text/csv; charset=utf-8", &format!("{name}.csv")))
}

const COLUMNS: [&str; 6] = ["day", "data_rx", "data_tx", "data_total", "sms_mo", "sms_mt"];

fn csv(days: &BTreeMap<NaiveDate, Day>, fleet: bool) -> String {
    let mut out = COLUMNS.join(",");
    if fleet {
        out.push_str(",active_sims");
    }
    out.push_str("\r\n");
    for (day, u) in days {
        let _ = write!(out, "{day},{},{},{},{},{}", u.data_rx, u.data_tx, u.data_total, u.sms_mo, u.sms_mt);
        if let Some(n) = u.active_sims {
            let _ = write!(out, ",{n}");
        }
        out.push_str("\r\n");
    }
    out
}

fn workbook(days: &BTreeMap<NaiveDate, Day>, fleet: bool) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Usage")?;
    let (bold, date, int) =
        (Format::new().set_bold(), Format::new().set_num_format("yyyy-mm-dd"), Format::new().set_num_format("#,##0"));
    let columns = COLUMNS.iter().copied().chain(fleet.then_some("active_sims"));
    for (i, name) in columns.enumerate() {
        sheet.write_string_with_format(0, i as u16, name, &bold)?;
        sheet.set_column_width(i as u16, if i == 0 { 12 } else { 15 })?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (row, (day, u)) in (1u32..).zip(days) {
        sheet.write_date_with_format(row, 0, *day, &date)?;
        let figures = [u.data_rx, u.data_tx, u.data_total, u.sms_mo, u.sms_mt].into_iter().chain(u.active_sims);
        for (col, n) in (1u16..).zip(figures) {
            sheet.write_number_with_format(row, col, n as f64, &int)?;
        }
    }
    book.save_to_buffer()
}
