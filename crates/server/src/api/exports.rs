//! `/exports`: the SIM list as CSV or XLSX, streamed page by page.
//!
//! Keyset pages of 1,000 SIMs are read one after the other, so memory stays flat whatever the
//! fleet size. CSV goes out as it is written; XLSX is written in constant-memory mode to a
//! temporary file and then streamed.

use super::sims::{parse_filter, SimListQuery};
use crate::app::AppState;
use crate::auth::Viewer;
use crate::crypto::SecretBox;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Query;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures::SinkExt;
use serde::Deserialize;
use simfleet_domain::Role;
use simfleet_io::{CsvExport, ExportRow, XlsxExport, XLSX_MAX_ROWS};
use simfleet_store::{NewAuditEntry, PageRequest, Sim, SimFilter, SimSort, Store};
use std::collections::HashMap;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

/// SIMs read per page.
pub const EXPORT_PAGE: u32 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_sims))
}

/// Reads the SIMs of a filter page by page and turns them into export rows, with customer
/// e-mails and tariff plan names (looked up once each) and, when asked, opened PIN/PUK.
pub struct ExportSource {
    store: Store,
    filter: SimFilter,
    sort: SimSort,
    secrets: Option<SecretBox>,
    cursor: Option<String>,
    done: bool,
    customers: HashMap<i64, Option<String>>,
    tariffs: HashMap<i64, String>,
}

impl ExportSource {
    /// `secrets`: given only when PIN/PUK are to be exported.
    pub fn new(store: Store, filter: SimFilter, sort: SimSort, secrets: Option<SecretBox>) -> Self {
        ExportSource {
            store,
            filter,
            sort,
            secrets,
            cursor: None,
            done: false,
            customers: HashMap::new(),
            tariffs: HashMap::new(),
        }
    }

    /// The next page of rows; `None` once every SIM has been read.
    pub async fn next_page(&mut self) -> anyhow::Result<Option<Vec<ExportRow>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .list_sims(
                &self.filter,
                self.sort,
                PageRequest { limit: EXPORT_PAGE, cursor: self.cursor.as_deref(), with_total: false },
            )
            .await?;
        self.cursor = page.next_cursor;
        self.done = self.cursor.is_none();
        let mut customers: Vec<i64> =
            page.items.iter().filter_map(|s| s.customer_id).filter(|id| !self.customers.contains_key(id)).collect();
        let mut tariffs: Vec<i64> =
            page.items.iter().filter_map(|s| s.tariff_plan_id).filter(|id| !self.tariffs.contains_key(id)).collect();
        customers.sort_unstable();
        customers.dedup();
        tariffs.sort_unstable();
        tariffs.dedup();
        if !customers.is_empty() || !tariffs.is_empty() {
            let (c, t) = self.store.reference_names(&customers, &tariffs).await?;
            self.customers.extend(c);
            self.tariffs.extend(t);
        }
        let rows = page.items.into_iter().map(|s| self.row(s)).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(rows))
    }

    fn row(&self, s: Sim) -> anyhow::Result<ExportRow> {
        let (pin, puk) = match &self.secrets {
            Some(b) => (
                s.pin_enc.as_deref().map(|p| b.open(p)).transpose()?,
                s.puk_enc.as_deref().map(|p| b.open(p)).transpose()?,
            ),
            None => (None, None),
        };
        Ok(ExportRow {
            customer_email: s.customer_id.and_then(|id| self.customers.get(&id).cloned().flatten()),
            tariff_plan: s.tariff_plan_id.and_then(|id| self.tariffs.get(&id).cloned()),
            iccid: s.iccid,
            msisdn: s.msisdn,
            imsi: s.imsi,
            imei: s.imei,
            sim_type: s.sim_type.as_str(),
            status: s.status.as_str(),
            label: s.label,
            tags: s.tags,
            provider: s.provider.as_str(),
            activation_code: s.activation_code,
            created_at: s.created_at,
            updated_at: s.updated_at,
            pin,
            puk,
        })
    }
}

/// Writes every row of `source` as an XLSX workbook into `out`. Blocking: run it on a
/// blocking thread (it drives the store's futures with `handle`).
pub fn write_xlsx(
    handle: &tokio::runtime::Handle,
    mut source: ExportSource,
    include_secrets: bool,
    out: impl std::io::Write + Send,
) -> anyhow::Result<u64> {
    let mut book = XlsxExport::new(include_secrets)?;
    while let Some(rows) = handle.block_on(source.next_page())? {
        for r in &rows {
            book.push(r)?;
        }
    }
    let n = u64::from(book.rows());
    book.finish(out)?;
    Ok(n)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// Add PIN and PUK columns (admin only; recorded in the audit log).
    #[serde(default)]
    pub include_secrets: bool,
}

pub(crate) const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Export the SIM list (the same filters and sort as `GET /sims`; `limit` and `cursor` are
/// ignored: every matching SIM is exported). CSV cells that a spreadsheet would run as a formula
/// are prefixed with `'`. PIN and PUK only with `include_secrets=true`, for admins.
#[utoipa::path(get, path = "/exports", tag = "exports", params(ExportParams, SimListQuery),
    responses(
        (status = 200, description = "The file, as an attachment", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn export_sims(
    viewer: Viewer,
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ExportParams>,
    Query(q): Query<SimListQuery>,
) -> ApiResult<Response> {
    let xlsx = match params.format.as_deref().map(str::trim) {
        None | Some("") | Some("csv") => false,
        Some("xlsx") => true,
        Some(_) => return Err(ApiError::field("format", "must be csv or xlsx")),
    };
    let (filter, sort) = parse_filter(&q)?;
    if params.include_secrets && viewer.0.role != Role::Admin {
        return Err(ApiError::Forbidden(format!(
            "exporting PIN and PUK needs the admin role; you are {}",
            viewer.0.role.as_str()
        )));
    }
    if xlsx {
        let count = app.store.count_sims(&filter).await?;
        if count as u64 > XLSX_MAX_ROWS {
            return Err(ApiError::Unprocessable {
                detail: format!("{count} SIMs match, more than an XLSX sheet holds ({XLSX_MAX_ROWS}): export as CSV"),
                field: Some("format".into()),
            });
        }
    }
    let secrets = params.include_secrets.then(|| app.secrets.clone());
    let mut source = ExportSource::new(app.store.clone(), filter, sort, secrets);
    if params.include_secrets {
        // GET requests are not audited by the middleware: revealing secrets must be.
        let entry = NewAuditEntry {
            actor: Some(viewer.actor()),
            role: Some(viewer.0.role.as_str().to_owned()),
            method: "GET".into(),
            path: format!("/api/v1/exports?include_secrets=true&format={}", if xlsx { "xlsx" } else { "csv" }),
            route: Some("/api/v1/exports (SECRETS_REVEALED)".into()),
            status: 200,
            ip: None,
            request_id: headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
        };
        app.store.append_audit(&entry).await?;
    }
    let stamp = simfleet_store::now().format("%Y%m%d-%H%M%S");
    if xlsx {
        let handle = tokio::runtime::Handle::current();
        let include = params.include_secrets;
        let file = tokio::task::spawn_blocking(move || -> anyhow::Result<std::fs::File> {
            let mut file = tempfile::tempfile()?;
            write_xlsx(&handle, source, include, std::io::BufWriter::new(&mut file))?;
            use std::io::Seek;
            file.rewind()?;
            Ok(file)
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("export stopped: {e}")))??;
        let file = tokio::fs::File::from_std(file);
        let stream = futures::stream::unfold(file, |mut f| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 256 * 1024];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), f))
                }
                Err(e) => Some((Err(e), f)),
            }
        });
        return Ok(attachment(Body::from_stream(stream), XLSX_TYPE, &format!("sims-{stamp}.xlsx")));
    }

    // CSV: the first page is read before answering, so that early failures are proper errors.
    let mut csv = CsvExport::new(params.include_secrets);
    let first = source.next_page().await?;
    for r in first.iter().flatten() {
        csv.push(r);
    }
    let head = Bytes::from(csv.take());
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if tx.send(Ok(head)).await.is_err() {
            return;
        }
        loop {
            match source.next_page().await {
                Ok(Some(rows)) => {
                    for r in &rows {
                        csv.push(r);
                    }
                    if tx.send(Ok(Bytes::from(csv.take()))).await.is_err() {
                        return; // the client went away
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    // Headers are out: aborting the body is the only way to say the file is incomplete.
                    tracing::error!(error = format!("{e:#}"), "CSV export failed midway");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
        }
    });
    Ok(attachment(Body::from_stream(rx), "text/csv; charset=utf-8", &format!("sims-{stamp}.csv")))
}

pub(crate) fn attachment(body: Body, content_type: &'static str, file_name: &str) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
