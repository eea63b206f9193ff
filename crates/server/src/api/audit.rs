//! `/audit-log` (admin).

use super::Page;
use crate::app::AppState;
use crate::auth::Admin;
use crate::error::{ApiResult, Problem};
use crate::extract::Json;
use crate::extract::Query;
use axum::extract::State;
use serde::Deserialize;
use simfleet_store::{AuditEntry, AuditFilter};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// One mutating request: who, what, when, from where, and how it ended.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub method: String,
    pub path: String,
    /// The route template, e.g. `/api/v1/sims/{iccid}/suspend`.
    pub route: Option<String>,
    pub status: i32,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            id: e.id,
            at: e.at,
            actor: e.actor,
            role: e.role,
            method: e.method,
            path: e.path,
            route: e.route,
            status: e.status,
            ip: e.ip,
            request_id: e.request_id,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub method: Option<String>,
    /// Only requests whose path starts with this.
    pub path: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/audit-log", tag = "audit", params(AuditQuery), responses((status = 200, body = Page<AuditView>), (status = 403, body = Problem)))]
async fn list_audit(
    _: Admin,
    State(app): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    let filter = AuditFilter { actor: q.actor.clone(), method: q.method.clone(), path_prefix: q.path.clone() };
    let page = super::PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_audit(&filter, page.request()?).await?, AuditView::from)))
}
