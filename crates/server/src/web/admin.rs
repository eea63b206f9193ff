//! `/jobs` (sync runs, run a job now) and `/settings` (provider connection, users, API keys,
//! audit log).

use super::page::{field_errors, redirect_with, Ctx, FieldErrors, WebError};
use crate::api::jobs::JobRunView;
use crate::api::users::{check_password, check_username, hash, ApiKeyView, UserView};
use crate::app::AppState;
use crate::auth::API_KEY_PREFIX;
use crate::crypto::{new_token, token_hash};
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::context;
use serde::Deserialize;
use simfleet_domain::Role;
use simfleet_store::{AuditFilter, PageRequest};
use simfleet_sync::{Job, RunError};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(jobs))
        .route("/jobs/{job}/run", post(run_job))
        .route("/settings", get(settings))
        .route("/settings/users", post(create_user))
        .route("/settings/api-keys", post(create_key))
        .route("/settings/api-keys/{id}/revoke", post(revoke_key))
        .route("/settings/audit", get(audit))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Cursor {
    cursor: String,
    job: String,
}

async fn jobs(ctx: Ctx, State(app): State<AppState>, Query(q): Query<Cursor>) -> Result<Response, WebError> {
    let cursor = (!q.cursor.is_empty()).then_some(q.cursor.as_str());
    let job = Job::parse(&q.job).map(|j| j.as_str());
    let (runs, last) = tokio::try_join!(
        app.store.list_job_runs(job, PageRequest { limit: 50, cursor, with_total: false }),
        app.store.last_job_runs()
    )?;
    let jobs: Vec<_> = Job::ALL
        .into_iter()
        .map(|j| {
            let last = last.iter().find(|r| r.job == j.as_str()).cloned().map(JobRunView::from);
            let interval =
                app.runner.as_ref().map(|r| r.interval(j)).unwrap_or_else(|| simfleet_sync::default_interval(j));
            context! {
                name => j.as_str(), last, interval_minutes => interval.as_secs() / 60,
                running => app.runner.as_ref().is_some_and(|r| r.is_running(j)),
            }
        })
        .collect();
    let runs: Vec<JobRunView> = runs.items.into_iter().map(JobRunView::from).collect();
    let any_running = runs.iter().any(|r| r.status == "running");
    ctx.render(
        "jobs.html",
        context! {
            nav => "jobs", jobs, runs, provider => app.runner.is_some(), any_running,
            next => None::<String>, filter_job => job,
        },
    )
}

async fn run_job(ctx: Ctx, State(app): State<AppState>, Path(name): Path<String>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let job = Job::parse(&name).ok_or_else(|| WebError::NotFound(format!("no job named {name:?}")))?;
    let Some(runner) = app.runner.as_ref() else {
        return Ok(redirect_with("/jobs", "No provider is configured, so there is no job to run."));
    };
    let message = match runner.spawn(job) {
        Ok(()) => format!("The {name} job has started; its run appears below and refreshes until it finishes."),
        Err(RunError::Busy(_)) => format!("A {name} run is already in progress."),
        Err(e @ RunError::Elsewhere(_)) => e.to_string(),
        Err(RunError::Failed(e)) => return Err(WebError::Internal(e)),
    };
    Ok(redirect_with("/jobs", message))
}

struct SettingsForm {
    user_values: BTreeMap<String, String>,
    user_errors: FieldErrors,
    key_values: BTreeMap<String, String>,
    key_errors: FieldErrors,
    new_key: Option<String>,
}

impl Default for SettingsForm {
    fn default() -> Self {
        SettingsForm {
            user_values: BTreeMap::from([("role".into(), "viewer".into())]),
            user_errors: FieldErrors::new(),
            key_values: BTreeMap::new(),
            key_errors: FieldErrors::new(),
            new_key: None,
        }
    }
}

async fn settings(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    render_settings(&ctx, &app, SettingsForm::default()).await
}

/// What the settings page says about the provider connection: the client's circuit state
/// and counters (since this process started), and each job's last successful sync.
async fn provider_status(app: &AppState) -> Result<Option<minijinja::Value>, WebError> {
    let Some(runner) = app.runner.as_ref() else { return Ok(None) };
    let (last, successes) = tokio::try_join!(app.store.last_job_runs(), app.store.last_job_successes())?;
    let jobs: Vec<_> = Job::ALL
        .into_iter()
        .map(|j| {
            let last = last.iter().find(|r| r.job == j.as_str());
            let success = successes.iter().find(|(job, _)| job == j.as_str()).and_then(|(_, at)| *at);
            context! {
                name => j.as_str(), last_success => success, last_status => last.map(|r| r.status.clone()),
                last_started => last.map(|r| r.started_at), running => runner.is_running(j),
            }
        })
        .collect();
    let client = runner.syncer().client();
    let m = client.metrics();
    Ok(Some(context! {
        circuit => crate::metrics::circuit_state_name(client.breaker_state()),
        calls => m.calls, errors => m.errors, retries => m.retries, rate_limited => m.rate_limited,
        breaker_opened => m.breaker_opened, jobs,
    }))
}

async fn render_settings(ctx: &Ctx, app: &AppState, form: SettingsForm) -> Result<Response, WebError> {
    let users: Vec<UserView> =
        if ctx.is_admin() { app.store.list_users().await?.into_iter().map(UserView::from).collect() } else { vec![] };
    let owner = (!ctx.is_admin()).then_some(ctx.user.user_id);
    let keys: Vec<ApiKeyView> = app.store.list_api_keys(owner).await?.into_iter().map(ApiKeyView::from).collect();
    let status = if form.user_errors.is_empty() && form.key_errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let roles: Vec<&str> = [Role::Viewer, Role::Operator, Role::Admin]
        .iter()
        .filter(|r| ctx.user.role.at_least(**r))
        .map(|r| r.as_str())
        .collect();
    ctx.render_status(
        status,
        "settings.html",
        context! {
            nav => "settings", provider => app.runner.is_some(), provider_status => provider_status(app).await?,
            users, keys, roles,
            user_values => form.user_values, user_errors => form.user_errors,
            key_values => form.key_values, key_errors => form.key_errors, new_key => form.new_key,
        },
    )
}

async fn create_user(
    ctx: Ctx,
    State(app): State<AppState>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let username = get("username").trim().to_owned();
    let password = get("password");
    let mut errors = FieldErrors::new();
    if let Err(e) = check_username(&username) {
        errors.insert("username".into(), e.into());
    }
    if let Err(e) = check_password(&password) {
        errors.insert("password".into(), e);
    }
    let role = Role::parse(&get("role"));
    if role.is_none() {
        errors.insert("role".into(), "choose a role".into());
    }
    if errors.is_empty() {
        let created = match hash(password).await {
            Ok(h) => app.store.create_user(&username, &h, role.expect("checked")).await.map_err(ApiError::from),
            Err(e) => Err(e),
        };
        match created {
            Ok(u) => return Ok(redirect_with("/settings", format!("User {} created.", u.username))),
            Err(e) => errors = field_errors(e)?,
        }
    }
    let mut values = f.clone();
    values.remove("password");
    render_settings(&ctx, &app, SettingsForm { user_values: values, user_errors: errors, ..Default::default() }).await
}

async fn create_key(
    ctx: Ctx,
    State(app): State<AppState>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let name = f.get("name").map(|s| s.trim().to_owned()).unwrap_or_default();
    let mut errors = FieldErrors::new();
    if name.is_empty() || name.chars().count() > 100 {
        errors.insert("name".into(), "must be 1 to 100 characters".into());
    }
    let role = f.get("role").and_then(|r| Role::parse(r)).unwrap_or(ctx.user.role);
    if !ctx.user.role.at_least(role) {
        errors.insert("role".into(), format!("cannot exceed your own role ({})", ctx.user.role.as_str()));
    }
    if !errors.is_empty() {
        return render_settings(&ctx, &app, SettingsForm { key_values: f, key_errors: errors, ..Default::default() })
            .await;
    }
    let secret = new_token(API_KEY_PREFIX);
    let prefix: String = secret.chars().take(API_KEY_PREFIX.len() + 6).collect();
    app.store.create_api_key(ctx.user.user_id, &name, &prefix, &token_hash(&secret), role, None).await?;
    // Shown once, in this response only: it is stored hashed.
    render_settings(&ctx, &app, SettingsForm { new_key: Some(secret), ..Default::default() }).await
}

async fn revoke_key(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    let key = app.store.get_api_key(id).await?;
    if key.user_id != ctx.user.user_id && !ctx.is_admin() {
        return Err(WebError::NotFound("API key not found".into()));
    }
    app.store.revoke_api_key(id).await?;
    Ok(redirect_with("/settings", format!("API key “{}” revoked.", key.name)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditQuery {
    cursor: String,
    actor: String,
}

async fn audit(ctx: Ctx, State(app): State<AppState>, Query(q): Query<AuditQuery>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let cursor = (!q.cursor.is_empty()).then_some(q.cursor.as_str());
    let actor = (!q.actor.trim().is_empty()).then(|| q.actor.trim().to_owned());
    let filter = AuditFilter { actor: actor.clone(), method: None, path_prefix: None };
    let page = app.store.list_audit(&filter, PageRequest { limit: 100, cursor, with_total: false }).await?;
    let next = page.next_cursor.map(|c| {
        format!(
            "cursor={}&actor={}",
            super::page::urlencode(&c),
            super::page::urlencode(actor.as_deref().unwrap_or(""))
        )
    });
    ctx.render("audit.html", context! { nav => "audit", entries => page.items, next, actor })
}
