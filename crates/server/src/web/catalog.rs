//! Customers, tariff plans and activation codes: list, detail, create, edit. One generic
//! list template and one generic form template; validation is the API's own, so the rules
//! and messages are the same, shown next to each field.

use super::page::{field_errors, redirect_with, Ctx, FieldErrors, WebError};
use crate::api::activation_codes::CodeRequest;
use crate::api::tariffs::TariffPlanRequest;
use crate::app::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use chrono::{NaiveDate, TimeZone, Utc};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use simfleet_domain::{Role, SimType};
use simfleet_store::{CustomerInput, PageRequest};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", get(customers).post(create_customer))
        .route("/customers/new", get(new_customer))
        .route("/customers/{id}", get(customer).post(update_customer))
        .route("/tariff-plans", get(plans).post(create_plan))
        .route("/tariff-plans/new", get(new_plan))
        .route("/tariff-plans/{id}", get(plan).post(update_plan))
        .route("/activation-codes", get(codes).post(create_code))
        .route("/activation-codes/new", get(new_code))
        .route("/activation-codes/{id}", get(code).post(update_code))
}

type Fields = BTreeMap<String, String>;

#[derive(Serialize)]
struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    value: String,
    error: Option<String>,
    options: Vec<(String, String)>,
    help: &'static str,
    required: bool,
}

fn field(name: &'static str, label: &'static str, kind: &'static str, values: &Fields, errors: &FieldErrors) -> Field {
    Field {
        name,
        label,
        kind,
        value: values.get(name).cloned().unwrap_or_default(),
        error: errors.get(name).cloned(),
        options: Vec::new(),
        help: "",
        required: false,
    }
}

impl Field {
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }
    fn options(mut self, options: Vec<(String, String)>) -> Self {
        self.options = options;
        self
    }
}

struct FormPage<'a> {
    nav: &'static str,
    section: &'static str,
    section_href: &'static str,
    title: String,
    action: String,
    fields: Vec<Field>,
    facts: Vec<(&'static str, String)>,
    links: Vec<(String, String)>,
    editable: bool,
    errors: &'a FieldErrors,
}

fn render_form(ctx: &Ctx, p: FormPage<'_>) -> Result<Response, WebError> {
    let status = if p.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let general: Vec<&String> =
        p.errors.iter().filter(|(k, _)| !p.fields.iter().any(|f| f.name == k.as_str())).map(|(_, v)| v).collect();
    ctx.render_status(
        status,
        "catalog/form.html",
        context! {
            nav => p.nav, section => p.section, section_href => p.section_href, title => p.title,
            action => p.action, fields => p.fields, facts => p.facts, links => p.links,
            editable => p.editable, general_errors => general, has_errors => !p.errors.is_empty(),
        },
    )
}

struct ListPage {
    nav: &'static str,
    title: &'static str,
    intro: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Value>,
    new_href: Option<&'static str>,
    new_label: &'static str,
    empty: &'static str,
    next: Option<String>,
    search: Option<String>,
}

fn render_list(ctx: &Ctx, p: ListPage) -> Result<Response, WebError> {
    ctx.render(
        "catalog/list.html",
        context! {
            nav => p.nav, title => p.title, intro => p.intro, columns => p.columns, rows => p.rows,
            new_href => p.new_href, new_label => p.new_label, empty => p.empty, next => p.next,
            search => p.search, searchable => p.nav == "customers",
        },
    )
}

fn row(href: String, cells: Vec<Value>) -> Value {
    context! { href, cells }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    q: String,
    cursor: String,
}

fn next_link(cursor: Option<String>, q: &str) -> Option<String> {
    cursor.map(|c| format!("?cursor={}&q={}", super::page::urlencode(&c), super::page::urlencode(q)))
}

// ---- customers -------------------------------------------------------------------------

async fn customers(ctx: Ctx, State(app): State<AppState>, Query(q): Query<ListQuery>) -> Result<Response, WebError> {
    let search = (!q.q.trim().is_empty()).then(|| q.q.trim().to_owned());
    let cursor = (!q.cursor.is_empty()).then_some(q.cursor.as_str());
    let page =
        app.store.list_customers(search.as_deref(), PageRequest { limit: 50, cursor, with_total: false }).await?;
    let rows = page
        .items
        .iter()
        .map(|c| {
            row(
                format!("/customers/{}", c.id),
                vec![
                    Value::from(c.name.clone()),
                    Value::from(c.email.clone().unwrap_or_default()),
                    Value::from(c.phone.clone().unwrap_or_default()),
                    Value::from(super::templates::thousands(c.sim_count)),
                ],
            )
        })
        .collect();
    render_list(
        &ctx,
        ListPage {
            nav: "customers",
            title: "Customers",
            intro: "The organisations your SIMs are assigned to.",
            columns: vec!["Name", "E-mail", "Phone", "SIMs"],
            rows,
            new_href: ctx.can_operate().then_some("/customers/new"),
            new_label: "New customer",
            empty: "No customers yet. Create one, then reserve SIMs for it from a SIM's page.",
            next: next_link(page.next_cursor, &q.q),
            search,
        },
    )
}

fn customer_fields(values: &Fields, errors: &FieldErrors) -> Vec<Field> {
    vec![
        field("name", "Name", "text", values, errors).required(),
        field("email", "E-mail", "email", values, errors),
        field("phone", "Phone", "tel", values, errors).help("Digits, spaces and + - ( ) /"),
    ]
}

fn customer_input(f: &Fields) -> CustomerInput {
    let get = |k: &str| f.get(k).cloned();
    CustomerInput { name: get("name").unwrap_or_default(), email: get("email"), phone: get("phone") }
}

async fn new_customer(ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    customer_form(&ctx, None, &Fields::new(), &FieldErrors::new())
}

fn customer_form(
    ctx: &Ctx,
    c: Option<&simfleet_store::Customer>,
    values: &Fields,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let (title, action, facts, links) = match c {
        Some(c) => (
            c.name.clone(),
            format!("/customers/{}", c.id),
            vec![
                ("SIMs", super::templates::thousands(c.sim_count)),
                ("Created", c.created_at.format("%Y-%m-%d").to_string()),
            ],
            vec![(format!("/sims?customer_id={}", c.id), "Show this customer's SIMs".to_owned())],
        ),
        None => ("New customer".to_owned(), "/customers".to_owned(), vec![], vec![]),
    };
    render_form(
        ctx,
        FormPage {
            nav: "customers",
            section: "Customers",
            section_href: "/customers",
            title,
            action,
            fields: customer_fields(values, errors),
            facts,
            links,
            editable: ctx.can_operate(),
            errors,
        },
    )
}

async fn customer(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    let c = app.store.get_customer(id).await?;
    let values = Fields::from([
        ("name".into(), c.name.clone()),
        ("email".into(), c.email.clone().unwrap_or_default()),
        ("phone".into(), c.phone.clone().unwrap_or_default()),
    ]);
    customer_form(&ctx, Some(&c), &values, &FieldErrors::new())
}

async fn create_customer(ctx: Ctx, State(app): State<AppState>, Form(f): Form<Fields>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let result = match crate::api::customers::validate(customer_input(&f)) {
        Ok(input) => app.store.create_customer(&input).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Ok(redirect_with(&format!("/customers/{}", c.id), format!("Customer “{}” created.", c.name))),
        Err(e) => customer_form(&ctx, None, &f, &field_errors(e)?),
    }
}

async fn update_customer(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let current = app.store.get_customer(id).await?;
    let result = match crate::api::customers::validate(customer_input(&f)) {
        Ok(input) => app.store.update_customer(id, &input).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Ok(redirect_with(&format!("/customers/{}", c.id), "Saved.")),
        Err(e) => customer_form(&ctx, Some(&current), &f, &field_errors(e)?),
    }
}

// ---- tariff plans ----------------------------------------------------------------------

async fn plans(ctx: Ctx, State(app): State<AppState>, Query(q): Query<ListQuery>) -> Result<Response, WebError> {
    let cursor = (!q.cursor.is_empty()).then_some(q.cursor.as_str());
    let page = app.store.list_tariff_plans(PageRequest { limit: 50, cursor, with_total: false }).await?;
    let rows = page
        .items
        .iter()
        .map(|t| {
            row(
                format!("/tariff-plans/{}", t.id),
                vec![
                    Value::from(t.name.clone()),
                    Value::from(format!("{} {}", t.monthly_price.decimal(), t.currency)),
                    Value::from(super::templates::label(t.plan_type.as_str())),
                    Value::from(super::templates::thousands(t.sim_count)),
                ],
            )
        })
        .collect();
    render_list(
        &ctx,
        ListPage {
            nav: "tariffs",
            title: "Tariff plans",
            intro: "What each SIM is billed: a monthly price per plan.",
            columns: vec!["Name", "Monthly price", "Type", "SIMs"],
            rows,
            new_href: ctx.is_admin().then_some("/tariff-plans/new"),
            new_label: "New tariff plan",
            empty: "No tariff plans yet. An admin can create one; SIMs then get a plan on import or when edited.",
            next: next_link(page.next_cursor, ""),
            search: None,
        },
    )
}

fn type_options() -> Vec<(String, String)> {
    SimType::ALL.iter().map(|t| (t.as_str().to_owned(), super::templates::label(t.as_str()))).collect()
}

fn plan_form(
    ctx: &Ctx,
    t: Option<&simfleet_store::TariffPlan>,
    values: &Fields,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let (title, action, facts) = match t {
        Some(t) => (
            t.name.clone(),
            format!("/tariff-plans/{}", t.id),
            vec![("SIMs", super::templates::thousands(t.sim_count))],
        ),
        None => ("New tariff plan".to_owned(), "/tariff-plans".to_owned(), vec![]),
    };
    let links = t
        .map(|t| vec![(format!("/sims?tariff_plan_id={}", t.id), "Show SIMs on this plan".to_owned())])
        .unwrap_or_default();
    render_form(
        ctx,
        FormPage {
            nav: "tariffs",
            section: "Tariff plans",
            section_href: "/tariff-plans",
            title,
            action,
            fields: vec![
                field("name", "Name", "text", values, errors).required(),
                field("monthly_price", "Monthly price", "text", values, errors)
                    .required()
                    .help("A decimal number, e.g. 4.99"),
                field("currency", "Currency", "text", values, errors).help("Three-letter ISO 4217 code; default EUR"),
                field("type", "Type", "select", values, errors).options(type_options()),
                field("description", "Description", "textarea", values, errors),
            ],
            facts,
            links,
            editable: ctx.is_admin(),
            errors,
        },
    )
}

fn plan_request(f: &Fields) -> TariffPlanRequest {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    TariffPlanRequest {
        name: get("name"),
        monthly_price: get("monthly_price"),
        currency: get("currency"),
        plan_type: get("type"),
        description: Some(get("description")),
    }
}

async fn new_plan(ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    plan_form(
        &ctx,
        None,
        &Fields::from([("currency".into(), "EUR".into()), ("type".into(), "data_only".into())]),
        &FieldErrors::new(),
    )
}

async fn plan(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    let t = app.store.get_tariff_plan(id).await?;
    let values = Fields::from([
        ("name".into(), t.name.clone()),
        ("monthly_price".into(), t.monthly_price.decimal().to_string()),
        ("currency".into(), t.currency.clone()),
        ("type".into(), t.plan_type.as_str().to_owned()),
        ("description".into(), t.description.clone().unwrap_or_default()),
    ]);
    plan_form(&ctx, Some(&t), &values, &FieldErrors::new())
}

async fn create_plan(ctx: Ctx, State(app): State<AppState>, Form(f): Form<Fields>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let result = match crate::api::tariffs::build(plan_request(&f), None) {
        Ok(input) => app.store.create_tariff_plan(&input).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => Ok(redirect_with(&format!("/tariff-plans/{}", t.id), format!("Tariff plan “{}” created.", t.name))),
        Err(e) => plan_form(&ctx, None, &f, &field_errors(e)?),
    }
}

async fn update_plan(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let current = app.store.get_tariff_plan(id).await?;
    let result = match crate::api::tariffs::build(plan_request(&f), Some(current.clone())) {
        Ok(input) => app.store.update_tariff_plan(id, &input).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => Ok(redirect_with(&format!("/tariff-plans/{}", t.id), "Saved.")),
        Err(e) => plan_form(&ctx, Some(&current), &f, &field_errors(e)?),
    }
}

// ---- activation codes ------------------------------------------------------------------

async fn codes(ctx: Ctx, State(app): State<AppState>, Query(q): Query<ListQuery>) -> Result<Response, WebError> {
    let cursor = (!q.cursor.is_empty()).then_some(q.cursor.as_str());
    let page = app.store.list_activation_codes(None, PageRequest { limit: 50, cursor, with_total: false }).await?;
    let rows = page
        .items
        .iter()
        .map(|c| {
            row(
                format!("/activation-codes/{}", c.id),
                vec![
                    Value::from(c.code.clone()),
                    Value::from(super::templates::label(c.status.as_str())),
                    Value::from(c.iccid.clone().unwrap_or_default()),
                    Value::from(c.expires_at.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()),
                ],
            )
        })
        .collect();
    render_list(
        &ctx,
        ListPage {
            nav: "codes",
            title: "Activation codes",
            intro: "One-time codes consumed when a SIM is activated.",
            columns: vec!["Code", "Status", "SIM", "Expires"],
            rows,
            new_href: ctx.can_operate().then_some("/activation-codes/new"),
            new_label: "New activation code",
            empty: "No activation codes yet. Create codes to hand to customers; activating a SIM with one consumes it.",
            next: next_link(page.next_cursor, ""),
            search: None,
        },
    )
}

fn code_form(
    ctx: &Ctx,
    c: Option<&simfleet_store::ActivationCode>,
    values: &Fields,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let (title, action, facts) = match c {
        Some(c) => (
            c.code.clone(),
            format!("/activation-codes/{}", c.id),
            vec![(
                "Used",
                c.used_at.map(|d| d.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "not yet".into()),
            )],
        ),
        None => ("New activation code".to_owned(), "/activation-codes".to_owned(), vec![]),
    };
    let statuses =
        ["UNUSED", "USED", "EXPIRED"].iter().map(|s| ((*s).to_owned(), super::templates::label(s))).collect();
    render_form(
        ctx,
        FormPage {
            nav: "codes",
            section: "Activation codes",
            section_href: "/activation-codes",
            title,
            action,
            fields: vec![
                field("code", "Code", "text", values, errors).required().help("4 to 64 letters, digits, - or _"),
                field("status", "Status", "select", values, errors).options(statuses),
                field("expires_at", "Expires on", "date", values, errors).help("Leave empty for no expiry"),
                field("iccid", "Only for SIM (ICCID)", "text", values, errors)
                    .help("Optional: the code then activates only this SIM"),
            ],
            facts,
            links: vec![],
            editable: ctx.can_operate(),
            errors,
        },
    )
}

fn code_request(f: &Fields) -> Result<CodeRequest, FieldErrors> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let expires_at = match get("expires_at") {
        None => None,
        Some(d) => match NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
            Ok(d) => Some(Utc.from_utc_datetime(&d.and_hms_opt(23, 59, 59).expect("valid time"))),
            Err(_) => return Err(FieldErrors::from([("expires_at".into(), "must be a date (YYYY-MM-DD)".into())])),
        },
    };
    Ok(CodeRequest {
        code: get("code"),
        status: get("status"),
        expires_at: Some(expires_at),
        iccid: Some(get("iccid")),
    })
}

async fn new_code(ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    code_form(&ctx, None, &Fields::from([("status".into(), "UNUSED".into())]), &FieldErrors::new())
}

async fn code(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    let c = app.store.get_activation_code(id).await?;
    let values = Fields::from([
        ("code".into(), c.code.clone()),
        ("status".into(), c.status.as_str().to_owned()),
        ("expires_at".into(), c.expires_at.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()),
        ("iccid".into(), c.iccid.clone().unwrap_or_default()),
    ]);
    code_form(&ctx, Some(&c), &values, &FieldErrors::new())
}

async fn create_code(ctx: Ctx, State(app): State<AppState>, Form(f): Form<Fields>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let req = match code_request(&f) {
        Ok(r) => r,
        Err(errors) => return code_form(&ctx, None, &f, &errors),
    };
    let result = match crate::api::activation_codes::build(&app, req, None).await {
        Ok(input) => app.store.create_activation_code(&input).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => {
            Ok(redirect_with(&format!("/activation-codes/{}", c.id), format!("Activation code {} created.", c.code)))
        }
        Err(e) => code_form(&ctx, None, &f, &field_errors(e)?),
    }
}

async fn update_code(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let current = app.store.get_activation_code(id).await?;
    let req = match code_request(&f) {
        Ok(r) => r,
        Err(errors) => return code_form(&ctx, Some(&current), &f, &errors),
    };
    let result = match crate::api::activation_codes::build(&app, req, Some(current.clone())).await {
        Ok(input) => app.store.update_activation_code(id, &input).await.map_err(Into::into),
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Ok(redirect_with(&format!("/activation-codes/{}", c.id), "Saved.")),
        Err(e) => code_form(&ctx, Some(&current), &f, &field_errors(e)?),
    }
}
