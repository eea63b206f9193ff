//! `/reports`: the monthly fleet report as a printable page, and its workbook.

use super::page::{Ctx, WebError};
use crate::api::reports::{report_file_name, report_request, MonthlyReportView};
use crate::app::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use simfleet_store::PageRequest;

pub fn router() -> Router<AppState> {
    Router::new().route("/reports", get(page)).route("/reports/monthly.xlsx", get(workbook))
}

/// The page lists this many rows of each table; the workbook has them all.
const SHOWN: usize = 25;

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReportForm {
    month: String,
    customer_id: String,
}

impl ReportForm {
    fn customer_id(&self) -> Result<Option<i64>, WebError> {
        match self.customer_id.trim() {
            "" => Ok(None),
            id => id.parse().map(Some).map_err(|_| WebError::BadRequest(format!("no customer {id:?}"))),
        }
    }
}

async fn page(ctx: Ctx, State(app): State<AppState>, Query(q): Query<ReportForm>) -> Result<Response, WebError> {
    let customer_id = q.customer_id()?;
    // The picker lists the first thousand customers by name; a larger book links by id.
    let customers =
        app.store.list_customers(None, PageRequest { limit: 1000, cursor: None, with_total: false }).await?.items;
    let req = match report_request(&app, Some(&q.month), customer_id).await {
        Ok(req) => req,
        Err(e @ crate::error::ApiError::Validation(_)) => {
            let problem = e.problem();
            let error =
                problem.errors.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
            return ctx.render(
                "reports.html",
                context! { nav => "reports", customers, error, month => q.month, customer_id },
            );
        }
        Err(e) => return Err(e.into()),
    };
    let report = app.store.monthly_report(req.scope, Utc::now().date_naive(), Some(SHOWN as i64)).await?;
    let view = MonthlyReportView::new(report, req.scope_name);
    let total_sims: i64 = view.sims_by_status.iter().map(|s| s.count).sum();
    let query = match customer_id {
        Some(id) => format!("month={}&customer_id={id}", view.month),
        None => format!("month={}", view.month),
    };
    ctx.render(
        "reports.html",
        context! {
            nav => "reports", customers, customer_id, month => view.month.clone(), total_sims, shown => SHOWN,
            month_label => req.scope.month.format("%B %Y").to_string(),
            top => view.usage.iter().take(10).collect::<Vec<_>>(),
            risk_shown => view.at_risk.iter().take(SHOWN).collect::<Vec<_>>(),
            alerts_shown => view.open_alerts.iter().take(SHOWN).collect::<Vec<_>>(),
            report => view, query,
        },
    )
}

async fn workbook(_ctx: Ctx, State(app): State<AppState>, Query(q): Query<ReportForm>) -> Result<Response, WebError> {
    let req = report_request(&app, Some(&q.month), q.customer_id()?).await?;
    let report = app.store.monthly_report(req.scope, Utc::now().date_naive(), None).await?;
    let bytes = crate::report_xlsx::monthly_report_xlsx(&report, &req.scope_name)
        .map_err(|e| WebError::from(crate::error::ApiError::Internal(anyhow::anyhow!("report workbook: {e}"))))?;
    Ok(crate::api::exports::attachment(Body::from(bytes), crate::api::exports::XLSX_TYPE, &report_file_name(&req)))
}
