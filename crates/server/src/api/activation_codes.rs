//! `/activation-codes`.

use super::{non_empty, Page};
use crate::app::AppState;
use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::Json;
use crate::extract::{double_option, Body, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_store::{ActivationCode, ActivationCodeInput, CodeStatus, StoreError};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_codes, create_code)).routes(routes!(get_code, update_code, delete_code))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationCodeView {
    pub id: i64,
    pub code: String,
    /// `UNUSED`, `USED` or `EXPIRED` (an unused code past its expiry reads as EXPIRED).
    #[schema(value_type = String)]
    pub status: CodeStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// The SIM the code is linked to or was used for.
    pub iccid: Option<String>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ActivationCode> for ActivationCodeView {
    fn from(c: ActivationCode) -> Self {
        ActivationCodeView {
            id: c.id,
            code: c.code,
            status: c.status,
            expires_at: c.expires_at,
            iccid: c.iccid,
            used_at: c.used_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CodeQuery {
    /// `UNUSED`, `USED` or `EXPIRED`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// 4–64 letters, digits, `-` or `_`. Required on creation.
    pub code: Option<String>,
    /// Default `UNUSED`.
    pub status: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Links the code to one SIM; `null` unlinks.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub iccid: Option<Option<String>>,
}

pub(crate) async fn build(
    app: &AppState,
    req: CodeRequest,
    current: Option<ActivationCode>,
) -> ApiResult<ActivationCodeInput> {
    let mut v = Validator::default();
    let code = non_empty(req.code).or(current.as_ref().map(|c| c.code.clone()));
    match &code {
        None => v.add("code", "is required"),
        Some(c)
            if !(4..=64).contains(&c.len())
                || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') =>
        {
            v.add("code", "must be 4 to 64 letters, digits, - or _")
        }
        _ => {}
    }
    let status = v
        .check("status", req.status.as_deref(), |s| {
            CodeStatus::parse(&s.to_uppercase()).ok_or("must be UNUSED, USED or EXPIRED")
        })
        .or(current.as_ref().map(|c| c.status))
        .unwrap_or(CodeStatus::Unused);
    let expires_at = req.expires_at.unwrap_or(current.as_ref().and_then(|c| c.expires_at));
    let iccid = req.iccid.unwrap_or(current.as_ref().and_then(|c| c.iccid.clone()));
    let sim_id = match iccid {
        Some(i) => match app.store.get_sim(&i).await {
            Ok(sim) => Some(sim.id),
            Err(StoreError::NotFound(_)) => {
                v.add("iccid", format!("SIM {i} does not exist"));
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    v.finish()?;
    Ok(ActivationCodeInput { code: code.expect("validated"), status, expires_at, sim_id })
}

#[utoipa::path(get, path = "/activation-codes", tag = "activation-codes", params(CodeQuery), responses((status = 200, body = Page<ActivationCodeView>)))]
async fn list_codes(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<CodeQuery>,
) -> ApiResult<Json<Page<ActivationCodeView>>> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            CodeStatus::parse(&s.to_uppercase())
                .ok_or_else(|| ApiError::field("status", "must be UNUSED, USED or EXPIRED"))?,
        ),
    };
    let page = super::PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(
        app.store.list_activation_codes(status, page.request()?).await?,
        ActivationCodeView::from,
    )))
}

#[utoipa::path(get, path = "/activation-codes/{id}", tag = "activation-codes", params(("id" = i64, Path)),
    responses((status = 200, body = ActivationCodeView), (status = 404, body = Problem)))]
async fn get_code(_: Viewer, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<ActivationCodeView>> {
    Ok(Json(app.store.get_activation_code(id).await?.into()))
}

#[utoipa::path(post, path = "/activation-codes", tag = "activation-codes", request_body = CodeRequest,
    responses((status = 201, body = ActivationCodeView), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_code(
    _: Operator,
    State(app): State<AppState>,
    Body(req): Body<CodeRequest>,
) -> ApiResult<(StatusCode, Json<ActivationCodeView>)> {
    let input = build(&app, req, None).await?;
    Ok((StatusCode::CREATED, Json(app.store.create_activation_code(&input).await?.into())))
}

#[utoipa::path(patch, path = "/activation-codes/{id}", tag = "activation-codes", params(("id" = i64, Path)), request_body = CodeRequest,
    responses((status = 200, body = ActivationCodeView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_code(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Body(req): Body<CodeRequest>,
) -> ApiResult<Json<ActivationCodeView>> {
    let current = app.store.get_activation_code(id).await?;
    let input = build(&app, req, Some(current)).await?;
    Ok(Json(app.store.update_activation_code(id, &input).await?.into()))
}

/// Delete a code not linked to any SIM (409 otherwise).
#[utoipa::path(delete, path = "/activation-codes/{id}", tag = "activation-codes", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_code(_: Operator, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.store.delete_activation_code(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
