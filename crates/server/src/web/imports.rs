//! `/imports`: upload a SIM list, see the preview with row-level errors, commit it; and the
//! export links. The same pipeline as `POST /api/v1/imports` (parse, validate, seal
//! secrets, preview in the store, commit all-or-nothing).

use super::page::{redirect_with, Ctx, WebError};
use crate::api::imports::{prepare_import, same_secret, MAX_UPLOAD_BYTES};
use crate::app::AppState;
use axum::extract::multipart::Multipart;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};
use simfleet_domain::Role;
use simfleet_store::{Import, PageRequest, RuleViolation, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/imports", get(page).post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024)))
        .route("/imports/{id}", get(preview))
        .route("/imports/{id}/commit", post(commit))
}

#[derive(Serialize)]
struct ImportSummary {
    id: i64,
    file_name: String,
    status: &'static str,
    total_rows: i64,
    to_create: i64,
    to_update: i64,
    unchanged: i64,
    invalid: i64,
    created: Option<i64>,
    updated: Option<i64>,
    warnings: Vec<String>,
    failure: Option<String>,
    created_by: String,
    created_at: chrono::DateTime<chrono::Utc>,
    committed_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&Import> for ImportSummary {
    fn from(i: &Import) -> Self {
        ImportSummary {
            id: i.id,
            file_name: i.file_name.clone(),
            status: i.status.as_str(),
            total_rows: i.total_rows,
            to_create: i.to_create,
            to_update: i.to_update,
            unchanged: i.unchanged,
            invalid: i.invalid,
            created: i.created,
            updated: i.updated,
            warnings: i.warnings.clone(),
            failure: i.failure.clone(),
            created_by: i.created_by.clone(),
            created_at: i.created_at,
            committed_at: i.committed_at,
        }
    }
}

async fn page(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    render_page(&ctx, &app, None).await
}

async fn render_page(ctx: &Ctx, app: &AppState, error: Option<String>) -> Result<Response, WebError> {
    let imports: Vec<ImportSummary> = if ctx.can_operate() {
        let page = PageRequest { limit: 20, cursor: None, with_total: false };
        app.store.list_imports(page).await?.items.iter().map(ImportSummary::from).collect()
    } else {
        Vec::new()
    };
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    ctx.render_status(status, "imports/index.html", context! { nav => "imports", imports, error })
}

async fn upload(
    ctx: Ctx,
    State(app): State<AppState>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let mut form =
        form.map_err(|e| WebError::BadRequest(format!("send the file as a form upload: {}", e.body_text())))?;
    let mut file: Option<(String, axum::body::Bytes)> = None;
    let mut sheet: Option<String> = None;
    while let Some(field) = form.next_field().await.map_err(|e| WebError::BadRequest(e.body_text()))? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().map(str::to_owned).unwrap_or_else(|| "upload.csv".to_owned());
                let bytes = field.bytes().await.map_err(|e| WebError::BadRequest(e.body_text()))?;
                if !bytes.is_empty() {
                    file = Some((name, bytes));
                }
            }
            Some("sheet") => {
                sheet = Some(field.text().await.map_err(|e| WebError::BadRequest(e.body_text()))?)
                    .filter(|s| !s.trim().is_empty())
            }
            _ => {}
        }
    }
    let Some((name, bytes)) = file else {
        return render_page(&ctx, &app, Some("Choose a CSV or XLSX file to upload.".into())).await;
    };
    let name = name.rsplit(['/', '\\']).next().unwrap_or("upload").chars().take(200).collect::<String>();
    let secrets = app.secrets.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare_import(&secrets, &name, &bytes, sheet.as_deref()))
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("import parser stopped: {e}")))?;
    let input = match prepared {
        Ok(i) => i,
        Err(e) => return render_page(&ctx, &app, Some(format!("This file cannot be imported: {e}"))).await,
    };
    let same = same_secret(&app.secrets);
    let import = app.store.preview_import(&input, &same, &ctx.actor()).await?;
    Ok(redirect_with(&format!("/imports/{}", import.id), "File checked: review the preview, then import it."))
}

async fn preview(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let import = app.store.get_import(id).await?;
    let summary = ImportSummary::from(&import);
    let shown: Vec<_> = import
        .errors
        .iter()
        .take(500)
        .map(|e| context! { row => e.row, column => e.column, value => e.value, reason => e.reason })
        .collect();
    ctx.render(
        "imports/preview.html",
        context! { nav => "imports", import => summary, errors => shown, error_count => import.errors.len() },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CommitForm {
    skip_invalid: Option<String>,
}

async fn commit(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Form(f): Form<CommitForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let same = same_secret(&app.secrets);
    let back = format!("/imports/{id}");
    match app.store.commit_import(id, f.skip_invalid.is_some(), &same, &ctx.actor()).await {
        Ok(i) => Ok(redirect_with(
            &back,
            format!("Imported: {} SIM(s) created, {} updated.", i.created.unwrap_or(0), i.updated.unwrap_or(0)),
        )),
        Err(StoreError::Rule(RuleViolation::Precondition { message, .. }))
        | Err(StoreError::Conflict { message, .. }) => Ok(redirect_with(&back, format!("Not imported: {message}"))),
        Err(e) => Err(e.into()),
    }
}
