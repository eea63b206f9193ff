//! sim-management.yml (v1) schemas.

use serde::{Deserialize, Serialize};

use super::common::lenient;
use crate::volume::{mb_number_to_bytes, mb_to_bytes, VolumeError};

/// Administrative SIM status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SimStatus {
    Enabled,
    Disabled,
    /// Any status this client does not know (never sent by the client).
    #[serde(other)]
    Unknown,
}

/// `Quota_Status` (v1) / `SimsSimQuotaStatus` (v2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaStatus {
    /// 0: more than 20 % left, 1: less than 20 %, 2: nothing left.
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub description: Option<String>,
    pub threshold_reached_date: Option<String>,
    pub quota_exceeded_date: Option<String>,
}

/// `SIM_card` (v1); v2's `SimsSim` has the same fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sim {
    pub iccid: Option<String>,
    pub iccid_with_luhn: Option<String>,
    pub imsi: Option<String>,
    pub imsi_2: Option<String>,
    pub current_imsi: Option<String>,
    pub msisdn: Option<String>,
    pub imei: Option<String>,
    pub imei_lock: Option<bool>,
    pub status: Option<SimStatus>,
    pub activation_date: Option<String>,
    pub ip_address: Option<String>,
    /// Overall data quota in MB.
    pub current_quota: Option<f64>,
    pub quota_status: Option<QuotaStatus>,
    #[serde(rename = "current_quota_SMS")]
    pub current_quota_sms: Option<f64>,
    #[serde(rename = "quota_status_SMS")]
    pub quota_status_sms: Option<QuotaStatus>,
    pub label: Option<String>,
}

impl Sim {
    /// `current_quota` in bytes.
    pub fn current_quota_bytes(&self) -> Option<Result<i64, VolumeError>> {
        self.current_quota.map(mb_number_to_bytes)
    }
}

/// `Values_for_a_SIM_update` (`iccid` and `status` required by the schema).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUpdate {
    pub iccid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imei_lock: Option<bool>,
    pub status: SimStatus,
}

/// `IccidRange`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IccidRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// `SimTransfer`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimTransfer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_organisation: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iccid_ranges: Option<Vec<IccidRange>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iccids: Option<Vec<String>>,
}

/// `Connectivity` (GET /v1/sims/{iccid}/status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Connectivity {
    /// `OFFLINE`, `ONLINE` or `ATTACHED`.
    pub status: Option<String>,
    pub location: Option<Location>,
    pub pdp_context: Option<PdpContext>,
    pub services: Option<Vec<String>>,
}

/// `Location.operator.country`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorCountry {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "iso-code")]
    pub iso_code: Option<String>,
}

/// `Location.operator`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationOperator {
    pub id: Option<String>,
    pub name: Option<String>,
    pub country: Option<OperatorCountry>,
}

/// `Location.country`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationCountry {
    pub country_id: Option<String>,
    pub name: Option<String>,
    pub country_code: Option<String>,
    pub mcc: Option<String>,
    #[serde(rename = "iso-code")]
    pub iso_code: Option<String>,
    pub latitude: Option<String>,
    pub longitude: Option<String>,
}

/// `Location`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub last_updated: Option<String>,
    pub last_updated_gprs: Option<String>,
    pub sgsn_number: Option<String>,
    pub vlr_number: Option<String>,
    pub vlr_number_np: Option<String>,
    pub msc_number_np: Option<String>,
    pub sgsn_number_np: Option<String>,
    pub operator_id: Option<String>,
    pub msc: Option<String>,
    pub sgsn_ip_address: Option<String>,
    pub operator: Option<LocationOperator>,
    pub country: Option<LocationCountry>,
}

/// `PdpContext.rat_type`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatType {
    pub rat_type_id: Option<String>,
    /// `2G`, `3G`, `4G`, `5G`, `NB-IoT`.
    pub description: Option<String>,
}

/// `PdpContext`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdpContext {
    pub pdp_context_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub tariff_profile_id: Option<String>,
    pub tariff_id: Option<String>,
    pub ratezone_id: Option<String>,
    pub organisation_id: Option<String>,
    pub imsi_id: Option<String>,
    pub imsi: Option<String>,
    pub sim_id: Option<String>,
    pub teid_data_plane: Option<String>,
    pub teid_control_plane: Option<String>,
    pub gtp_version: Option<String>,
    pub nsapi: Option<String>,
    pub sgsn_control_plane_ip_address: Option<String>,
    pub sgsn_data_plane_ip_address: Option<String>,
    pub ggsn_control_plane_ip_address: Option<String>,
    pub ggsn_data_plane_ip_address: Option<String>,
    pub created: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub operator_id: Option<String>,
    pub lac: Option<String>,
    pub ci: Option<String>,
    pub ue_ip_address: Option<String>,
    pub imeisv: Option<String>,
    pub duration: Option<String>,
    pub rat_type: Option<RatType>,
}

/// `CellGlobalId`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellGlobalId {
    pub cid: Option<i64>,
    pub lac: Option<i64>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
}

/// `SubscriberInfo.location`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberLocation {
    pub current_location_retrieved: Option<bool>,
    pub age_of_location: Option<i64>,
    pub cell_global_id: Option<CellGlobalId>,
}

/// `SubscriberInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberInfo {
    pub success: Option<bool>,
    pub state: Option<String>,
    pub location: Option<SubscriberLocation>,
}

/// `UssdInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UssdInfo {
    pub success: Option<bool>,
    pub error: Option<String>,
}

/// `ConnectivityInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectivityInfo {
    pub ussd_info: Option<UssdInfo>,
    pub subscriber_info: Option<SubscriberInfo>,
    pub request_timestamp: Option<String>,
    pub reply_timestamp: Option<String>,
}

/// `SIM_Event`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimEvent {
    pub timestamp: Option<String>,
    pub event_type: Option<String>,
    pub iccid: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub country: Option<String>,
    pub operator: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub alert: Option<bool>,
    pub event_severity: Option<String>,
}

/// `EventCollection`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCollection {
    #[serde(default)]
    pub events: Vec<SimEvent>,
    pub total_events: Option<u64>,
    pub total_pages: Option<u32>,
}

/// `Currency` (inside `Data` and `SmsUsage`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Currency {
    pub id: Option<i64>,
    pub symbol: Option<String>,
    pub code: Option<String>,
}

/// `TrafficTypeData` / `TrafficTypeSMS`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficType {
    pub description: Option<String>,
    pub id: Option<i64>,
    pub unit: Option<String>,
}

/// `Data`: a day's data usage, volumes as decimal MB strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataUsage {
    pub cost: Option<String>,
    pub currency: Option<Currency>,
    pub traffic_type: Option<TrafficType>,
    /// RX + TX in MB.
    pub volume: Option<String>,
    /// Downstream (received by the SIM) in MB.
    pub volume_rx: Option<String>,
    /// Upstream (sent by the SIM) in MB.
    pub volume_tx: Option<String>,
}

fn opt_bytes(v: &Option<String>) -> Result<Option<i64>, VolumeError> {
    v.as_deref().map(mb_to_bytes).transpose()
}

impl DataUsage {
    pub fn volume_bytes(&self) -> Result<Option<i64>, VolumeError> {
        opt_bytes(&self.volume)
    }
    pub fn rx_bytes(&self) -> Result<Option<i64>, VolumeError> {
        opt_bytes(&self.volume_rx)
    }
    pub fn tx_bytes(&self) -> Result<Option<i64>, VolumeError> {
        opt_bytes(&self.volume_tx)
    }
}

/// `SmsUsage`: counts as decimal strings (`volume_rx` = MO, `volume_tx` = MT).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsUsage {
    pub cost: Option<String>,
    pub currency: Option<Currency>,
    pub traffic_type: Option<TrafficType>,
    pub volume: Option<String>,
    pub volume_rx: Option<String>,
    pub volume_tx: Option<String>,
}

impl SmsUsage {
    fn count(v: &Option<String>) -> Option<u64> {
        v.as_deref().and_then(|s| s.trim().split('.').next()).and_then(|s| s.parse().ok())
    }
    /// MO-SMS count.
    pub fn mo(&self) -> Option<u64> {
        Self::count(&self.volume_rx)
    }
    /// MT-SMS count.
    pub fn mt(&self) -> Option<u64> {
        Self::count(&self.volume_tx)
    }
}

/// `Daily`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyRecord {
    pub data: Option<DataUsage>,
    pub date: Option<String>,
    pub sms: Option<SmsUsage>,
}

impl DailyRecord {
    /// The `YYYY-MM-DD` part of `date`.
    pub fn day(&self) -> Option<chrono::NaiveDate> {
        self.date.as_deref().and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
    }
}

/// `DailyUsage`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    #[serde(default)]
    pub stats: Vec<DailyRecord>,
}

/// `Quota` (v1): data volumes in MB, SMS in messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quota {
    pub volume: Option<f64>,
    pub total_volume: Option<f64>,
    pub expiry_date: Option<String>,
    pub peak_throughput: Option<i64>,
    pub last_volume_added: Option<f64>,
    pub last_status_change_date: Option<String>,
    pub threshold_percentage: Option<i64>,
}

impl Quota {
    /// Remaining data volume in bytes (only meaningful for the data quota).
    pub fn volume_bytes(&self) -> Option<Result<i64, VolumeError>> {
        self.volume.map(mb_number_to_bytes)
    }
    pub fn total_volume_bytes(&self) -> Option<Result<i64, VolumeError>> {
        self.total_volume.map(mb_number_to_bytes)
    }
}

/// `SmsStatus`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsStatus {
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub description: Option<String>,
}

/// `Type_definition_for_a_SMS`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsType {
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// `MT` or `MO`.
    pub description: Option<String>,
}

/// `Source_Address_Type`: 145 international, 161 national, 208 alphanumeric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceAddressType {
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// `SMS-Data`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsData {
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub submit_date: Option<String>,
    pub delivery_date: Option<String>,
    pub expiry_date: Option<String>,
    pub final_date: Option<String>,
    pub retry_date: Option<String>,
    pub last_delivery_attempt: Option<String>,
    pub retry_count: Option<String>,
    pub source_address: Option<String>,
    pub iccid: Option<String>,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub msc: Option<String>,
    pub dcs: Option<i64>,
    pub udh: Option<String>,
    pub payload: Option<String>,
    pub status: Option<SmsStatus>,
    pub sms_type: Option<SmsType>,
    pub source_address_type: Option<SourceAddressType>,
}

/// `SMSMessage` (request body of "Create SMS", v1 and v2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address_type: Option<SourceAddressType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
}

impl SmsMessage {
    /// A plain-text MT-SMS.
    pub fn text(payload: impl Into<String>) -> Self {
        SmsMessage { payload: Some(payload.into()), ..Default::default() }
    }
}

/// `AutoTopupRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoTopupRequest {
    pub enabled: bool,
    pub iccids: Vec<String>,
}

/// `SIMExtensionRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimExtensionRequest {
    pub iccids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
}

/// `CurrentLimitData` / `CurrentLimitSMS`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentLimit {
    pub id: Option<i64>,
    pub limit: Option<String>,
    pub unit: Option<String>,
}

/// `Values_for_Limits`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub data: Option<CurrentLimit>,
    pub sms_mt: Option<CurrentLimit>,
    pub sms_mo: Option<CurrentLimit>,
}

/// Answer of `GET /v1/sims/{service}/limits`. The spec declares `Values_for_Limits`, while the
/// operation (and the real API) lists options; both shapes are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SelectableLimits {
    List(Vec<CurrentLimit>),
    Object(Limits),
}

impl SelectableLimits {
    /// The options as a list, whichever shape arrived.
    pub fn options(&self) -> Vec<CurrentLimit> {
        match self {
            SelectableLimits::List(v) => v.clone(),
            SelectableLimits::Object(l) => [&l.data, &l.sms_mt, &l.sms_mo].into_iter().flatten().cloned().collect(),
        }
    }
}

/// `SetLimitsRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetLimitsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_limit_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_mt_limit_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_mo_limit_id: Option<i64>,
}

/// Service of `GET /v1/sims/{service}/limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitService {
    Data,
    SmsMo,
    SmsMt,
}

impl LimitService {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitService::Data => "data",
            LimitService::SmsMo => "smsMO",
            LimitService::SmsMt => "smsMT",
        }
    }
}

/// Query of `GET /v1/sims` and `GET /v2/sims`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimListQuery {
    pub page: Option<u32>,
    /// 1..=100.
    pub page_size: Option<u32>,
    /// `imei:…,ip_address:…`
    pub q: Option<String>,
    /// e.g. `ip_address,-imei`
    pub sort: Option<String>,
}
