//! Records as the store hands them out, and the inputs it takes.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use simfleet_domain::{EventKind, Money, Provider, Role, SimStatus, SimType};

/// A SIM card in the inventory. PIN and PUK stay encrypted here; the HTTP layer decrypts
/// them only for roles allowed to see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Sim {
    pub id: i64,
    pub iccid: String,
    pub imsi: Option<String>,
    pub msisdn: Option<String>,
    pub imei: Option<String>,
    pub sim_type: SimType,
    pub status: SimStatus,
    pub pin_enc: Option<String>,
    pub puk_enc: Option<String>,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub customer_id: Option<i64>,
    pub tariff_plan_id: Option<i64>,
    pub activation_code: Option<String>,
    pub provider: Provider,
    /// Provider-side attributes as the last SIM sync saw them (never edited here).
    pub provider_status: Option<String>,
    pub imei_lock: Option<bool>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewSim {
    pub iccid: String,
    pub imsi: Option<String>,
    pub msisdn: Option<String>,
    pub imei: Option<String>,
    pub sim_type: SimType,
    pub status: SimStatus,
    pub pin_enc: Option<String>,
    pub puk_enc: Option<String>,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub customer_id: Option<i64>,
    pub tariff_plan_id: Option<i64>,
    pub provider: Provider,
    /// Provider-side attributes, for SIMs found at a provider (see `ProviderSim`).
    pub provider_ref: Option<String>,
    pub provider_status: Option<String>,
    pub imei_lock: Option<bool>,
    pub ip_address: Option<String>,
}

impl NewSim {
    pub fn available(iccid: impl Into<String>) -> Self {
        NewSim {
            iccid: iccid.into(),
            imsi: None,
            msisdn: None,
            imei: None,
            sim_type: SimType::DataOnly,
            status: SimStatus::Available,
            pin_enc: None,
            puk_enc: None,
            label: None,
            tags: Vec::new(),
            customer_id: None,
            tariff_plan_id: None,
            provider: Provider::None,
            provider_ref: None,
            provider_status: None,
            imei_lock: None,
            ip_address: None,
        }
    }
}

/// A partial update: `None` leaves a field as it is, `Some(None)` clears it.
/// The status is not here: it changes only through lifecycle actions.
#[derive(Debug, Clone, Default)]
pub struct SimPatch {
    pub imsi: Option<Option<String>>,
    pub msisdn: Option<Option<String>>,
    pub imei: Option<Option<String>>,
    pub sim_type: Option<SimType>,
    pub pin_enc: Option<Option<String>>,
    pub puk_enc: Option<Option<String>>,
    pub label: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub customer_id: Option<Option<i64>>,
    pub tariff_plan_id: Option<Option<i64>>,
}

impl SimPatch {
    pub fn is_empty(&self) -> bool {
        self.imsi.is_none()
            && self.msisdn.is_none()
            && self.imei.is_none()
            && self.sim_type.is_none()
            && self.pin_enc.is_none()
            && self.puk_enc.is_none()
            && self.label.is_none()
            && self.tags.is_none()
            && self.customer_id.is_none()
            && self.tariff_plan_id.is_none()
    }
}

#[derive(Debug, Clone, Default)]
pub struct SimFilter {
    pub statuses: Vec<SimStatus>,
    pub sim_type: Option<SimType>,
    pub customer_id: Option<i64>,
    pub tariff_plan_id: Option<i64>,
    pub tag: Option<String>,
    pub provider: Option<Provider>,
    /// Prefix of the ICCID, MSISDN, IMSI or label (case-insensitive for the label).
    pub q: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimSortField {
    #[default]
    Iccid,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SimSort {
    pub field: SimSortField,
    pub descending: bool,
}

impl SimSort {
    /// Parses `iccid`, `-created_at`, … (a leading `-` sorts descending).
    pub fn parse(s: &str) -> Option<SimSort> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let field = match name {
            "iccid" => SimSortField::Iccid,
            "created_at" => SimSortField::CreatedAt,
            "updated_at" => SimSortField::UpdatedAt,
            _ => return None,
        };
        Some(SimSort { field, descending })
    }
}

/// One page of a list and where the next one starts.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub limit: u32,
    pub cursor: Option<&'a str>,
    pub with_total: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimEvent {
    pub id: i64,
    pub iccid: String,
    pub kind: String,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub note: Option<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// An event to record with a change, in the same transaction.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub kind: EventKind,
    pub old_status: Option<SimStatus>,
    pub new_status: Option<SimStatus>,
    pub note: Option<String>,
    pub actor: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub sim_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TariffPlan {
    pub id: i64,
    pub name: String,
    pub monthly_price: Money,
    pub currency: String,
    pub plan_type: SimType,
    pub description: Option<String>,
    pub sim_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TariffPlanInput {
    pub name: String,
    pub monthly_price: Money,
    pub currency: String,
    pub plan_type: SimType,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CodeStatus {
    Unused,
    Used,
    Expired,
}

impl CodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Unused => "UNUSED",
            CodeStatus::Used => "USED",
            CodeStatus::Expired => "EXPIRED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "UNUSED" => Some(CodeStatus::Unused),
            "USED" => Some(CodeStatus::Used),
            "EXPIRED" => Some(CodeStatus::Expired),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivationCode {
    pub id: i64,
    pub code: String,
    /// The effective status: an unused code past its expiry reads as `EXPIRED`.
    pub status: CodeStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub iccid: Option<String>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ActivationCodeInput {
    pub code: String,
    pub status: CodeStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// Pre-links the code to a SIM: it can then only activate that SIM.
    pub sim_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a bearer credential belongs to, as resolved from its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// Set when the credential is an API key: its id and name.
    pub api_key: Option<(i64, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub method: String,
    pub path: String,
    pub route: Option<String>,
    pub status: i32,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub actor: Option<String>,
    pub role: Option<String>,
    pub method: String,
    pub path: String,
    pub route: Option<String>,
    pub status: i32,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketCount {
    /// First day of the bucket (weeks start on Monday).
    pub period: NaiveDate,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TariffCount {
    pub tariff_plan_id: Option<i64>,
    pub name: Option<String>,
    pub count: i64,
}
