//! `/imports`: bulk import of SIM lists (CSV or XLSX) in two steps, preview then commit.
//!
//! The upload is parsed and validated by `simfleet-io`, PIN/PUK are sealed here before the
//! store sees them, and the store checks the rows against the inventory and keeps them so that
//! the commit applies exactly what was previewed.

use super::{Page, PageParams};
use crate::app::AppState;
use crate::auth::Operator;
use crate::crypto::SecretBox;
use crate::error::{ApiError, FieldError, Problem, PROBLEM_JSON};
use crate::extract::{Json, OptionalBody, Query};
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_io::{FileError, Format};
use simfleet_store::{Import, ImportIssue, ImportRow, NewImport, RuleViolation, StoreError};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Largest upload accepted by `POST /imports`.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_import, list_imports))
        // The only route with a body limit above the default.
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024))
        .routes(routes!(get_import))
        .routes(routes!(commit_import))
}

/// A problem with one cell of the file. `row` is the row a spreadsheet shows (header = 1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowErrorView {
    pub row: u32,
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl From<ImportIssue> for RowErrorView {
    fn from(e: ImportIssue) -> Self {
        RowErrorView { row: e.row, column: e.column, value: e.value, reason: e.reason }
    }
}

/// An import and what it found or did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    pub id: i64,
    pub file_name: String,
    /// SHA-256 of the file, hex.
    pub file_hash: String,
    /// `csv` or `xlsx`.
    pub format: String,
    /// `previewed`, `committed` or `failed`.
    pub status: String,
    /// Non-empty data rows in the file.
    pub total_rows: i64,
    pub to_create: i64,
    pub to_update: i64,
    pub unchanged: i64,
    /// Rows with at least one error.
    pub invalid: i64,
    /// Set once committed: SIMs created and updated.
    pub created: Option<i64>,
    pub updated: Option<i64>,
    /// Row errors (at most 10,000); left out of lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<RowErrorView>>,
    pub warnings: Vec<String>,
    pub failure: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub committed_at: Option<DateTime<Utc>>,
    pub committed_by: Option<String>,
}

impl ImportView {
    fn new(i: Import, with_errors: bool) -> Self {
        ImportView {
            id: i.id,
            file_name: i.file_name,
            file_hash: i.file_hash,
            format: i.format,
            status: i.status.as_str().to_owned(),
            total_rows: i.total_rows,
            to_create: i.to_create,
            to_update: i.to_update,
            unchanged: i.unchanged,
            invalid: i.invalid,
            created: i.created,
            updated: i.updated,
            errors: with_errors.then(|| i.errors.into_iter().map(RowErrorView::from).collect()),
            warnings: i.warnings,
            failure: i.failure,
            created_by: i.created_by,
            created_at: i.created_at,
            committed_at: i.committed_at,
            committed_by: i.committed_by,
        }
    }
}

/// A problem response that also lists row errors (`row_errors`), for imports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub row_errors: Vec<RowErrorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_id: Option<i64>,
}

/// Why an import request failed.
#[derive(Debug)]
pub enum ImportFailure {
    Api(ApiError),
    /// The file as a whole cannot be used.
    File(FileError),
    /// Commit refused because rows are invalid.
    InvalidRows {
        import_id: i64,
        detail: String,
        rows: Vec<ImportIssue>,
    },
}

impl From<ApiError> for ImportFailure {
    fn from(e: ApiError) -> Self {
        ImportFailure::Api(e)
    }
}

impl From<StoreError> for ImportFailure {
    fn from(e: StoreError) -> Self {
        ImportFailure::Api(e.into())
    }
}

impl IntoResponse for ImportFailure {
    fn into_response(self) -> Response {
        let (slug, title, detail, field, rows, import_id) = match self {
            ImportFailure::Api(e) => return e.into_response(),
            ImportFailure::File(e) => {
                let status =
                    if matches!(e, FileError::TooManyRows { .. }) { "import-too-large" } else { "import-file" };
                (status, "The file cannot be imported", e.to_string(), "file", Vec::new(), None)
            }
            ImportFailure::InvalidRows { import_id, detail, rows } => {
                ("import-invalid-rows", "The import has invalid rows", detail, "skip_invalid", rows, Some(import_id))
            }
        };
        let status =
            if slug == "import-too-large" { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::UNPROCESSABLE_ENTITY };
        let problem = ImportProblem {
            kind: format!("https://simfleet.dev/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            errors: vec![FieldError { field: field.into(), message: detail.clone() }],
            detail,
            row_errors: rows.into_iter().map(RowErrorView::from).collect(),
            import_id,
        };
        let mut res = (status, serde_json::to_string(&problem).unwrap_or_default()).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

/// Parses and validates a file and seals its secrets: the store input for a preview.
/// CPU-bound; call it off the async runtime for big files.
pub fn prepare_import(
    secrets: &SecretBox,
    file_name: &str,
    bytes: &[u8],
    sheet: Option<&str>,
) -> Result<NewImport, FileError> {
    let format = Format::detect(file_name, bytes);
    let parsed = simfleet_io::parse(bytes, format, sheet)?;
    let rows = parsed
        .rows
        .into_iter()
        .map(|r| ImportRow {
            row: r.row,
            iccid: r.iccid,
            msisdn: r.msisdn,
            imsi: r.imsi,
            imei: r.imei,
            pin_enc: r.pin.map(|p| secrets.seal(&p)),
            puk_enc: r.puk.map(|p| secrets.seal(&p)),
            sim_type: r.sim_type,
            label: r.label,
            tags: r.tags,
            customer_email: r.customer_email,
            tariff_plan: r.tariff_plan,
        })
        .collect();
    Ok(NewImport {
        file_name: file_name.to_owned(),
        file_hash: simfleet_io::sha256_hex(bytes),
        format: parsed.format.as_str().to_owned(),
        total_rows: parsed.total_rows as i64,
        rows,
        errors: parsed
            .errors
            .into_iter()
            .map(|e| ImportIssue { row: e.row, column: e.column, value: e.value, reason: e.reason })
            .collect(),
        invalid_rows: parsed.invalid_rows as i64,
        warnings: parsed.warnings,
    })
}

/// Compares two sealed secrets by their plaintext.
pub fn same_secret(secrets: &SecretBox) -> impl Fn(&str, &str) -> bool + Send + Sync + '_ {
    move |a, b| matches!((secrets.open(a), secrets.open(b)), (Ok(x), Ok(y)) if x == y)
}

/// The multipart form of `POST /imports`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// The CSV (`,` `;` or TAB separated, UTF-8) or XLSX file, at most 64 MB and 250,000 rows.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// XLSX only: the sheet to read (default: the first).
    sheet: Option<String>,
}

/// Upload a SIM list and preview its import: nothing changes in the inventory until it is
/// committed. The answer lists what would be created, updated or left unchanged, and every
/// invalid cell.
#[utoipa::path(post, path = "/imports", tag = "imports",
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = ImportView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 413, body = ImportProblem), (status = 422, body = ImportProblem)))]
async fn upload_import(
    op: Operator,
    State(app): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<ImportView>), ImportFailure> {
    let mut form =
        form.map_err(|e| ApiError::BadRequest(format!("send the file as multipart/form-data: {}", e.body_text())))?;
    let mut file: Option<(String, axum::body::Bytes)> = None;
    let mut sheet: Option<String> = None;
    let part_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
        }
    };
    while let Some(field) = form.next_field().await.map_err(part_error)? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().map(str::to_owned).unwrap_or_else(|| "upload.csv".to_owned());
                let bytes = field.bytes().await.map_err(part_error)?;
                file = Some((name, bytes));
            }
            Some("sheet") => sheet = Some(field.text().await.map_err(part_error)?),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown form field {:?}: send `file` and optionally `sheet`",
                    other.unwrap_or("")
                ))
                .into())
            }
        }
    }
    let Some((name, bytes)) = file else {
        return Err(ApiError::field("file", "is required: attach the CSV or XLSX file as the form field `file`").into());
    };
    let name = name.rsplit(['/', '\\']).next().unwrap_or("upload").chars().take(200).collect::<String>();
    let secrets = app.secrets.clone();
    let input = tokio::task::spawn_blocking(move || prepare_import(&secrets, &name, &bytes, sheet.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("import parser stopped: {e}")))?
        .map_err(ImportFailure::File)?;
    let same = same_secret(&app.secrets);
    let import = app.store.preview_import(&input, &same, &op.actor()).await?;
    Ok((StatusCode::CREATED, Json(ImportView::new(import, true))))
}

/// Imports, newest first: who uploaded what, when, and the outcome (without row errors).
#[utoipa::path(get, path = "/imports", tag = "imports", params(PageParams),
    responses((status = 200, body = Page<ImportView>), (status = 403, body = Problem)))]
async fn list_imports(
    _: Operator,
    State(app): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<ImportView>>, ApiError> {
    let imports = app.store.list_imports(page.request()?).await?;
    Ok(Json(Page::from_store(imports, |i| ImportView::new(i, false))))
}

/// One import with its row errors.
#[utoipa::path(get, path = "/imports/{id}", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, body = ImportView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_import(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ImportView>, ApiError> {
    Ok(Json(ImportView::new(app.store.get_import(id).await?, true)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitImport {
    /// Apply the valid rows and leave the invalid ones out (default: refuse when any row is invalid).
    #[serde(default)]
    pub skip_invalid: bool,
}

/// Apply a previewed import in one transaction: all rows or none, unless `skip_invalid`.
/// Created SIMs get an `IMPORTED` event and updated ones an `UPDATED` event naming the import.
/// A file already committed once is refused (409).
#[utoipa::path(post, path = "/imports/{id}/commit", tag = "imports", params(("id" = i64, Path)), request_body = CommitImport,
    responses((status = 200, body = ImportView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = ImportProblem)))]
async fn commit_import(
    op: Operator,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    OptionalBody(req): OptionalBody<CommitImport>,
) -> Result<Json<ImportView>, ImportFailure> {
    let same = same_secret(&app.secrets);
    match app.store.commit_import(id, req.skip_invalid, &same, &op.actor()).await {
        Ok(import) => Ok(Json(ImportView::new(import, true))),
        Err(StoreError::Rule(RuleViolation::Precondition { field: Some("skip_invalid"), message })) => {
            let rows = app.store.get_import(id).await?.errors;
            Err(ImportFailure::InvalidRows { import_id: id, detail: message, rows })
        }
        Err(e) => Err(e.into()),
    }
}
