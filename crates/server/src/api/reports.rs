//! `/reports/monthly`: the monthly fleet report of one customer or of the whole fleet, as JSON
//! or as a workbook (the dashboard shows it as a printable page).

use super::exports::{attachment, XLSX_TYPE};
use crate::app::AppState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Query};
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use simfleet_store::{MonthlyReport, ReportScope};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(monthly_report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `YYYY-MM`; default: the last complete month.
    pub month: Option<String>,
    /// One customer's SIMs; default: the whole fleet.
    pub customer_id: Option<i64>,
    /// `json` (default) or `xlsx`.
    pub format: Option<String>,
}

/// A report request checked: the month to cover and a name for what it covers.
pub struct ReportRequest {
    pub scope: ReportScope,
    pub scope_name: String,
}

/// The first day of `month` (`YYYY-MM`), or of the last complete month; never a future month.
pub fn parse_month(month: Option<&str>, today: NaiveDate) -> ApiResult<NaiveDate> {
    let this_month = today.with_day(1).expect("day 1 exists");
    let Some(text) = month.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(this_month.checked_sub_months(chrono::Months::new(1)).expect("date in range"));
    };
    let first = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .map_err(|_| ApiError::field("month", format!("must be YYYY-MM, e.g. 2026-11 (got {text:?})")))?;
    if first > this_month {
        return Err(ApiError::field("month", format!("{text} has not begun yet")));
    }
    Ok(first)
}

/// Resolves the scope (404 for an unknown customer).
pub async fn report_request(app: &AppState, month: Option<&str>, customer_id: Option<i64>) -> ApiResult<ReportRequest> {
    let month = parse_month(month, Utc::now().date_naive())?;
    let scope_name = match customer_id {
        Some(id) => app.store.get_customer(id).await?.name,
        None => "Whole fleet".to_owned(),
    };
    Ok(ReportRequest { scope: ReportScope { month, customer_id }, scope_name })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportTotals {
    pub data_rx: i64,
    pub data_tx: i64,
    /// Bytes.
    pub data_total: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
    pub sims_with_usage: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSimUsageView {
    pub iccid: String,
    pub label: Option<String>,
    pub status: String,
    pub customer: Option<String>,
    pub data_rx: i64,
    pub data_tx: i64,
    pub data_total: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportRiskView {
    pub iccid: String,
    pub label: Option<String>,
    /// Data left, in bytes.
    pub remaining: i64,
    /// Average use per day over the forecast window, in bytes.
    pub daily_use: i64,
    /// `remaining / daily_use`.
    pub days_left: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAlertView {
    pub severity: String,
    pub kind: String,
    pub state: String,
    pub iccid: Option<String>,
    pub message: String,
    pub first_seen: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyReportView {
    /// `YYYY-MM`.
    pub month: String,
    pub customer_id: Option<i64>,
    /// The customer's name, or `Whole fleet`.
    pub scope: String,
    /// SIMs in scope by status when the report is made.
    pub sims_by_status: Vec<StatusCount>,
    /// Activations and terminations dated in the month.
    pub activations: i64,
    pub terminations: i64,
    pub totals: ReportTotals,
    /// Every SIM that used data or SMS in the month, heaviest first.
    pub usage: Vec<ReportSimUsageView>,
    /// SIMs forecast to run out of data within 30 days.
    pub at_risk: Vec<ReportRiskView>,
    /// Alerts not resolved when the report is made, most severe first.
    pub open_alerts: Vec<ReportAlertView>,
}

impl MonthlyReportView {
    pub fn new(r: MonthlyReport, scope: String) -> Self {
        let t = &r.totals;
        MonthlyReportView {
            month: r.month.format("%Y-%m").to_string(),
            customer_id: r.customer_id,
            scope,
            sims_by_status: r
                .by_status
                .iter()
                .map(|(s, n)| StatusCount { status: s.as_str().to_owned(), count: *n })
                .collect(),
            activations: r.activations,
            terminations: r.terminations,
            totals: ReportTotals {
                data_rx: t.data_rx,
                data_tx: t.data_tx,
                data_total: t.data_total,
                sms_mo: t.sms_mo,
                sms_mt: t.sms_mt,
                sims_with_usage: t.sims_with_usage,
            },
            usage: r
                .usage
                .into_iter()
                .map(|u| ReportSimUsageView {
                    iccid: u.iccid,
                    label: u.label,
                    status: u.status,
                    customer: u.customer,
                    data_rx: u.data_rx,
                    data_tx: u.data_tx,
                    data_total: u.data_total,
                    sms_mo: u.sms_mo,
                    sms_mt: u.sms_mt,
                })
                .collect(),
            at_risk: r
                .at_risk
                .into_iter()
                .map(|a| {
                    let daily = a.window_used / a.window_days.max(1);
                    ReportRiskView {
                        iccid: a.iccid,
                        label: a.label,
                        remaining: a.remaining,
                        daily_use: daily,
                        days_left: a.remaining as f64 / daily.max(1) as f64,
                    }
                })
                .collect(),
            open_alerts: r
                .open_alerts
                .into_iter()
                .map(|a| ReportAlertView {
                    severity: a.severity,
                    kind: a.kind,
                    state: a.state,
                    iccid: a.iccid,
                    message: a.message,
                    first_seen: a.first_seen,
                })
                .collect(),
        }
    }
}

/// The monthly fleet report: SIMs by status, activations and terminations, data and SMS used
/// per SIM and in total, top consumers, SIMs at quota risk and open alerts. `format=xlsx`
/// answers a workbook with one sheet each and charts.
#[utoipa::path(get, path = "/reports/monthly", tag = "stats", params(ReportQuery),
    responses(
        (status = 200, description = "The report, or with `format=xlsx` the workbook as an attachment", content(
            (MonthlyReportView = "application/json"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn monthly_report(_: Viewer, State(app): State<AppState>, Query(q): Query<ReportQuery>) -> ApiResult<Response> {
    let xlsx = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("xlsx") => true,
        Some(_) => return Err(ApiError::field("format", "must be json or xlsx")),
    };
    let req = report_request(&app, q.month.as_deref(), q.customer_id).await?;
    let report = app.store.monthly_report(req.scope, Utc::now().date_naive(), None).await?;
    if xlsx {
        let file_name = report_file_name(&req);
        let bytes = crate::report_xlsx::monthly_report_xlsx(&report, &req.scope_name)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("report workbook: {e}")))?;
        return Ok(attachment(Body::from(bytes), XLSX_TYPE, &file_name));
    }
    Ok(Json(MonthlyReportView::new(report, req.scope_name)).into_response())
}

/// e.g. `fleet-report-2026-11.xlsx` or `fleet-report-2026-11-customer-7.xlsx`.
pub fn report_file_name(req: &ReportRequest) -> String {
    let month = req.scope.month.format("%Y-%m");
    match req.scope.customer_id {
        Some(id) => format!("fleet-report-{month}-customer-{id}.xlsx"),
        None => format!("fleet-report-{month}.xlsx"),
    }
}
