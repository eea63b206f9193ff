//! `/jobs`: the sync jobs, their runs, and running one now.

use super::Page;
use crate::app::AppState;
use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_store::JobRun;
use simfleet_sync::{Job, RunError};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_jobs)).routes(routes!(list_runs)).routes(routes!(run_job))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobRunView {
    pub id: i64,
    pub job: String,
    /// `running`, `success`, `partial` or `failed`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub items_ok: i64,
    pub items_failed: i64,
    /// Per-item errors: `[{ "item", "message" }]`.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<serde_json::Value>,
    pub instance: Option<String>,
}

impl From<JobRun> for JobRunView {
    fn from(r: JobRun) -> Self {
        let errors = r.errors.as_deref().and_then(|e| serde_json::from_str(e).ok()).unwrap_or_default();
        JobRunView {
            id: r.id,
            job: r.job,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            items_ok: r.items_ok,
            items_failed: r.items_failed,
            errors,
            instance: r.instance,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// `sims`, `usage`, `quotas`, `connectivity`, `events`, `outbox`, `sms`, `alerts` or `notify`.
    pub name: String,
    pub interval_seconds: u64,
    /// A run is in progress in this instance.
    pub running: bool,
    pub last_run: Option<JobRunView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobsResponse {
    /// False when no provider is configured (`ONENCE_CLIENT_ID`/`ONENCE_CLIENT_SECRET`): simfleet
    /// is then a pure inventory and no job runs.
    pub provider_configured: bool,
    pub items: Vec<JobView>,
}

/// The sync jobs with their schedule and last run.
#[utoipa::path(get, path = "/jobs", tag = "jobs", responses((status = 200, body = JobsResponse), (status = 401, body = Problem)))]
async fn list_jobs(_: Viewer, State(app): State<AppState>) -> ApiResult<Json<JobsResponse>> {
    let mut last: std::collections::HashMap<String, JobRun> =
        app.store.last_job_runs().await?.into_iter().map(|r| (r.job.clone(), r)).collect();
    let items = Job::ALL
        .into_iter()
        .map(|job| JobView {
            name: job.as_str().into(),
            interval_seconds: app
                .runner
                .as_ref()
                .map(|r| r.interval(job))
                .unwrap_or_else(|| simfleet_sync::default_interval(job))
                .as_secs(),
            running: app.runner.as_ref().is_some_and(|r| r.is_running(job)),
            last_run: last.remove(job.as_str()).map(JobRunView::from),
        })
        .collect();
    Ok(Json(JobsResponse { provider_configured: app.runner.is_some(), items }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only runs of this job.
    pub job: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

/// Job runs, newest first.
#[utoipa::path(get, path = "/jobs/runs", tag = "jobs", params(RunsQuery), responses((status = 200, body = Page<JobRunView>)))]
async fn list_runs(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<Page<JobRunView>>> {
    if let Some(job) = q.job.as_deref() {
        Job::parse(job).ok_or_else(|| {
            ApiError::field("job", "must be sims, usage, quotas, connectivity, events, outbox, sms, alerts or notify")
        })?;
    }
    let page = super::PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_job_runs(q.job.as_deref(), page.request()?).await?, JobRunView::from)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunStarted {
    pub job: String,
    /// Follow the run in `GET /api/v1/jobs/runs?job=…`.
    pub status: String,
}

/// Start a job now. Answers 202 at once; 409 when a run of it is already in progress.
#[utoipa::path(post, path = "/jobs/{job}/run", tag = "jobs", params(("job" = String, Path, description = "sims, usage, quotas, connectivity, events, outbox, sms, alerts or notify")),
    responses((status = 202, body = RunStarted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
async fn run_job(
    _: Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<RunStarted>)> {
    let job = Job::parse(&name).ok_or_else(|| ApiError::NotFound(format!("no job named {name:?}")))?;
    let runner = app.runner.as_ref().ok_or_else(|| {
        ApiError::Unavailable("no provider is configured: set ONENCE_CLIENT_ID and ONENCE_CLIENT_SECRET".into())
    })?;
    match runner.spawn(job) {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(RunStarted { job: name, status: "started".into() }))),
        Err(RunError::Busy(_)) => {
            Err(ApiError::Conflict { detail: format!("a {name} run is already in progress"), field: None })
        }
        Err(e @ RunError::Elsewhere(_)) => Err(ApiError::Conflict { detail: e.to_string(), field: None }),
        Err(RunError::Failed(e)) => Err(ApiError::Internal(e)),
    }
}
