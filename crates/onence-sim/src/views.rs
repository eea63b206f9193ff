//! JSON renderings of the state, one function per schema of the official specs.
//!
//! Written straight from the YAML (independently of the `onence` client's models); the
//! conformance test validates every rendering against the schemas.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::fleet::{umb_to_mb_string, LinkState, SimRecord, UMB_PER_MB};
use crate::state::{limit_options, Limits, Order, QuotaView, ServiceRequest, SimEvent, Sms, SEVERITIES};

/// `2018-03-09T07:59:09.000+0000`, the v1 style of timestamps without `format: date-time`.
pub fn ts_v1(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// RFC 3339 with milliseconds and `Z`, e.g. `2019-12-04T08:12:02.000Z`.
pub fn ts_z(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn umb_number(v: i64) -> Value {
    json!(v as f64 / UMB_PER_MB as f64)
}

fn quota_status_v1(q: &QuotaView) -> Value {
    let level = q.level();
    let mut m = Map::new();
    m.insert("id".into(), json!(level));
    m.insert("description".into(), json!(QUOTA_LEVELS[level as usize]));
    if let Some(d) = q.threshold_reached {
        m.insert("threshold_reached_date".into(), json!(ts_z(day_start(d))));
    }
    if let Some(d) = q.exceeded {
        m.insert("quota_exceeded_date".into(), json!(ts_z(day_start(d))));
    }
    Value::Object(m)
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// `SIM_card` (v1) and `SimsSim` (v2) share their fields.
pub fn sim_card(sim: &SimRecord, data: &QuotaView, sms: &QuotaView) -> Value {
    let mut v = json!({
        "iccid": sim.iccid,
        "iccid_with_luhn": sim.iccid_with_luhn,
        "imsi": sim.imsi,
        "imsi_2": sim.imsi_2,
        "current_imsi": sim.imsi,
        "msisdn": sim.msisdn,
        "imei": sim.imei,
        "imei_lock": sim.imei_lock,
        "status": sim.status.as_str(),
        "activation_date": ts_v1(sim.activation),
        "ip_address": sim.ip_address,
        "current_quota": data.accumulated / UMB_PER_MB,
        "quota_status": quota_status_v1(data),
        "current_quota_SMS": sms.accumulated,
        "quota_status_SMS": quota_status_v1(sms),
    });
    if let Some(l) = &sim.label {
        v["label"] = json!(l);
    }
    v
}

/// v1 `Quota`.
pub fn quota_v1(q: &QuotaView, data: bool) -> Value {
    let scale = |x: i64| if data { umb_number(x) } else { json!(x) };
    let mut v = json!({
        "volume": scale(q.remaining.max(0)), // an exhausted quota has nothing left, not less
        "total_volume": scale(q.accumulated as i64),
        "expiry_date": ts_z(q.expiry),
        "last_volume_added": scale(q.last_added as i64),
        "last_status_change_date": ts_z(q.last_change),
        "threshold_percentage": q.threshold_percentage,
    });
    if data {
        v["peak_throughput"] = json!(1_000_000);
    }
    v
}

/// v2 `SimsQuota`.
pub fn quota_v2(q: &QuotaView, data: bool, id: u64) -> Value {
    let scale = |x: i64| if data { umb_number(x) } else { json!(x) };
    let (sid, sdesc) = if q.expiry < Utc::now() {
        (2, "EXPIRED")
    } else if q.remaining <= 0 {
        (0, "EXHAUSTED")
    } else {
        (1, "ACTIVE")
    };
    let threshold = q.total * i64::from(q.threshold_percentage) / 100;
    json!({
        "id": id,
        "status": {"id": sid, "description": sdesc},
        "volume": scale(q.remaining.max(0)), // an exhausted quota has nothing left, not less
        "total_volume": scale(q.total),
        "accumulated_total_volume": scale(q.accumulated as i64),
        "last_volume_added": scale(q.last_added as i64),
        "service": if data { "data" } else { "sms" },
        "threshold_percentage": q.threshold_percentage,
        "threshold_volume": scale(threshold),
        "expiry_date": ts_z(q.expiry),
        "created_at": ts_z(q.created_at),
    })
}

fn online(sim: &SimRecord) -> bool {
    sim.connectivity.state == LinkState::Online
}

/// v1 `Connectivity` (GET /v1/sims/{iccid}/status).
pub fn connectivity_v1(sim: &SimRecord) -> Value {
    let c = &sim.connectivity;
    let op = &c.operator;
    let mut v = json!({
        "status": c.state.as_str(),
        "location": {
            "iccid": sim.iccid,
            "imsi": sim.imsi,
            "last_updated": c.last_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "last_updated_gprs": c.last_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "sgsn_number": "491600300000",
            "vlr_number": "491710000000",
            "operator_id": op.id.to_string(),
            "msc": "491710300000",
            "operator": {"id": op.id.to_string(), "name": op.name, "country": {"id": op.country_id.to_string(), "name": op.country, "iso-code": op.iso}},
            "country": {"country_id": op.country_id.to_string(), "name": op.country, "country_code": op.country_code, "mcc": op.mcc, "iso-code": op.iso},
        },
        "services": if c.state == LinkState::Offline { json!([]) } else { json!(["GPRS", "SMS"]) },
    });
    if online(sim) {
        v["pdp_context"] = json!({
            "pdp_context_id": format!("{}", 1_898_708_000 + sim.index),
            "endpoint_id": format!("{}", 10_458_000 + sim.index),
            "tariff_id": "442",
            "ratezone_id": "2171",
            "imsi": sim.imsi,
            "created": c.last_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "mcc": op.mcc,
            "mnc": op.mnc,
            "lac": c.lac.to_string(),
            "ci": c.cell_id.to_string(),
            "ue_ip_address": sim.ip_address,
            "imeisv": format!("{}00", &sim.imei[..14]),
            "rat_type": {"rat_type_id": "6", "description": c.rat},
        });
    }
    v
}

/// v2 `SimsConnectivityDetail`; `limit_reached`: the SIM used the account's monthly data limit.
pub fn connectivity_v2(sim: &SimRecord, limit_reached: bool) -> Value {
    let c = &sim.connectivity;
    let op = &c.operator;
    let mut v = json!({
        "status": {"description": c.state.as_str()},
        "data_traffic_limit_state": {"description": if limit_reached { "REACHED" } else { "NOT_REACHED" }},
        "location": {
            "iccid": sim.iccid,
            "imsi": sim.imsi,
            "last_updated": c.last_seen.format("%Y-%m-%d %H:%M:%S").to_string(),
            "operator_id": op.id.to_string(),
            "operator": {"id": op.id, "name": op.name, "mnc": op.mnc, "country": {"id": op.country_id, "name": op.country, "iso_code": op.iso}},
            "country": {"country_id": op.country_id.to_string(), "name": op.country, "country_code": op.country_code, "mcc": op.mcc, "iso_code": op.iso},
        },
        "services": if c.state == LinkState::Offline { json!([]) } else { json!(["GPRS", "SMS"]) },
    });
    if online(sim) {
        let teid = format!("{}", 7000 + sim.index);
        v["pdp_contexts"] = json!([{
            "pdp_context_id": format!("{}", 92_415 + sim.index),
            "endpoint_id": format!("{}", 166 + sim.index),
            "tariff_id": "34",
            "ratezone_id": "70",
            "organisation_id": "2",
            "imsi_id": format!("{}", 627 + sim.index),
            "imsi": sim.imsi,
            "sim_id": format!("{}", 625 + sim.index),
            "tx_teid_data_plane": teid, "tx_teid_control_plane": teid, "rx_teid": teid,
            "rx_teid_data_plane": teid, "rx_teid_control_plane": teid,
            "gtp_version": "2",
            "nsapi": "5",
            "sgsn_control_plane_ip_address": "12.23.107.89",
            "sgsn_data_plane_ip_address": "12.23.107.89",
            "ggsn_control_plane_ip_address": "12.23.107.90",
            "ggsn_data_plane_ip_address": "12.23.107.90",
            "created": ts_z(c.last_seen),
            "mcc": op.mcc,
            "mnc": op.mnc,
            "operator_id": op.id.to_string(),
            "lac": c.lac.to_string(),
            "ci": c.cell_id.to_string(),
            "sac": "7",
            "rac": "8",
            "gtp_v2_uli": {"tac": c.lac.to_string(), "eci": c.cell_id.to_string()},
            "ue_ip_address": sim.ip_address,
            "imeisv": format!("{}00", &sim.imei[..14]),
            "rat_type": {"rat_type_id": "6", "description": c.rat},
            "region": "eu-central-1",
            "apn": "iot.1nce.net",
        }]);
    }
    v
}

/// v1 `ConnectivityInfo`.
pub fn connectivity_info(sim: &SimRecord, subscriber: bool, ussd: bool, received: DateTime<Utc>) -> Value {
    let c = &sim.connectivity;
    let mut v = json!({"request_timestamp": ts_v1(received), "reply_timestamp": ts_v1(Utc::now())});
    if subscriber {
        let reachable = c.state != LinkState::Offline;
        v["subscriber_info"] = json!({
            "success": reachable,
            "state": if reachable { "assumed_idle" } else { "not_provided_from_vlr" },
            "location": {
                "current_location_retrieved": online(sim),
                "age_of_location": (Utc::now() - c.last_seen).num_minutes().max(0),
                "cell_global_id": {"cid": c.cell_id, "lac": c.lac, "mcc": c.operator.mcc, "mnc": c.operator.mnc},
            },
        });
    }
    if ussd {
        v["ussd_info"] = json!({"success": false, "error": "Request Timeout Error"});
    }
    v
}

const V1_SEVERITIES: [&str; 3] = ["Info", "Warn", "Critical"];
const QUOTA_LEVELS: [&str; 3] = ["More than 20% remaining", "Less than 20% remaining", "Quota exhausted"];

/// v1 `SIM_Event`.
pub fn event_v1(sim: &SimRecord, e: &SimEvent) -> Value {
    json!({
        "timestamp": ts_v1(e.timestamp),
        "event_type": e.description,
        "iccid": sim.iccid,
        "imei": sim.imei,
        "imsi": sim.imsi,
        "country": e.operator.country,
        "operator": e.operator.name,
        "mcc": e.operator.mcc,
        "mnc": e.operator.mnc,
        "alert": e.alert,
        "event_severity": V1_SEVERITIES[e.severity as usize % 3],
    })
}

/// v2 `Event` (without the optional, ambiguous `detail`).
pub fn event_v2(sim: &SimRecord, e: &SimEvent) -> Value {
    json!({
        "id": e.id,
        "event_type": {"id": e.type_id, "description": e.description},
        "timestamp": ts_z(e.timestamp),
        "alert": e.alert,
        "user": null,
        "description": e.description,
        "event_source": {"id": 0, "description": "Network"},
        "event_severity": {"id": e.severity, "description": SEVERITIES[e.severity as usize % 3]},
        "organisation": {"id": 2, "name": "Simulated Organisation"},
        "endpoint": {"id": sim.index + 1, "name": sim.label.clone().unwrap_or_else(|| sim.iccid.clone()), "ip_address": sim.ip_address, "imei": sim.imei},
        "sim": {"id": sim.index + 1, "iccid": sim.iccid, "msisdn": sim.msisdn},
        "imsi": {"id": sim.index + 1, "imsi": sim.imsi},
    })
}

fn sms_common(sim: &SimRecord, s: &Sms) -> Value {
    let mut v = json!({
        "id": s.id,
        "submit_date": ts_z(s.submit),
        "expiry_date": ts_z(s.expiry),
        "last_delivery_attempt": ts_z(s.delivery.unwrap_or(s.submit)),
        "source_address": s.source_address,
        "iccid": sim.iccid,
        "msisdn": sim.msisdn,
        "imsi": sim.imsi,
        "dcs": s.dcs,
        "udh": s.udh,
        "payload": s.payload,
        "status": {"id": s.status.id(), "description": s.status.as_str()},
        "sms_type": {"id": if s.mt { 1 } else { 2 }, "description": if s.mt { "MT" } else { "MO" }},
    });
    if let Some(d) = s.delivery {
        v["delivery_date"] = json!(ts_z(d));
        v["final_date"] = json!(ts_z(d));
    }
    v
}

/// v1 `SMS-Data`.
pub fn sms_v1(sim: &SimRecord, s: &Sms) -> Value {
    let mut v = sms_common(sim, s);
    v["retry_count"] = json!("0");
    v["msc"] = json!("491600190000");
    v["source_address_type"] = json!({"id": s.source_address_type});
    v
}

/// v2 `SimsSms`.
pub fn sms_v2(sim: &SimRecord, s: &Sms) -> Value {
    let mut v = sms_common(sim, s);
    v["retry_count"] = json!(0);
    v["retry_date"] = Value::Null;
    v["gsm_map_error"] = Value::Null;
    v["pid"] = json!(0);
    v["msc"] = json!(491_770_940_000u64);
    v["sim_id"] = json!(sim.index + 1);
    v["endpoint"] = json!({"id": sim.index + 1, "name": sim.label.clone().unwrap_or_else(|| sim.iccid.clone())});
    let desc = match s.source_address_type {
        145 => "International",
        161 => "National",
        _ => "Alphanumeric",
    };
    v["source_address_type"] = json!({"id": s.source_address_type, "description": desc});
    v
}

#[derive(Serialize)]
struct Currency {
    id: u32,
    symbol: &'static str,
    code: &'static str,
}

const EUR: Currency = Currency { id: 1, symbol: "\u{20ac}", code: "EUR" };

#[derive(Serialize)]
struct TrafficType {
    description: &'static str,
    id: u32,
    unit: &'static str,
}

/// `Data` / `SmsUsage` (same shape).
#[derive(Serialize)]
struct UsagePart {
    cost: String,
    currency: Currency,
    traffic_type: TrafficType,
    volume: String,
    volume_rx: String,
    volume_tx: String,
}

/// `Daily`. Typed rather than `json!` because usage is the hot path of bulk syncs.
#[derive(Serialize)]
pub struct Daily {
    date: String,
    data: UsagePart,
    sms: UsagePart,
}

/// `DailyUsage`.
#[derive(Serialize)]
pub struct DailyUsage {
    pub stats: Vec<Daily>,
}

/// One `Daily` usage record; data volumes as decimal MB strings, SMS as count strings.
pub fn daily(day: NaiveDate, u: &crate::fleet::DayUsage) -> Daily {
    let data = umb_to_mb_string(u.data_umb());
    let sms = u.sms().to_string();
    Daily {
        date: format!("{}T00:00:00.000Z", day.format("%Y-%m-%d")),
        data: UsagePart {
            cost: data.clone(),
            currency: EUR,
            traffic_type: TrafficType { description: "Data", id: 5, unit: "MB" },
            volume: data,
            volume_rx: umb_to_mb_string(u.rx_umb),
            volume_tx: umb_to_mb_string(u.tx_umb),
        },
        sms: UsagePart {
            cost: sms.clone(),
            currency: EUR,
            traffic_type: TrafficType { description: "SMS", id: 6, unit: "SMS" },
            volume: sms,
            volume_rx: u.sms_mo.to_string(),
            volume_tx: u.sms_mt.to_string(),
        },
    }
}

fn limit_entry(service: &str, id: u32) -> Value {
    let opt = limit_options(service).and_then(|o| o.iter().find(|(i, _, _)| *i == id));
    match opt {
        Some((id, limit, unit)) => json!({"id": id, "limit": limit, "unit": unit}),
        None => json!({"id": id}),
    }
}

/// `Values_for_Limits`.
pub fn limits(l: &Limits) -> Value {
    json!({"data": limit_entry("data", l.data), "smsMt": limit_entry("smsMT", l.sms_mt), "smsMo": limit_entry("smsMO", l.sms_mo)})
}

/// Selectable options of one service: a list of `{id, limit, unit}` (see the README: the spec
/// declares `Values_for_Limits` here, which cannot hold a list; the real API returns a list).
pub fn limit_choices(service: &str) -> Option<Value> {
    limit_options(service).map(|o| {
        Value::Array(o.iter().map(|(id, limit, unit)| json!({"id": id, "limit": limit, "unit": unit})).collect())
    })
}

/// `Order`.
pub fn order(o: &Order, base_url: &str) -> Value {
    let mut v = json!({
        "order_number": o.number,
        "order_type": o.order_type,
        "order_date": ts_z(o.date),
        "order_status": o.status,
        "invoice_number": o.invoice_number,
        "invoice_amount": o.invoice_amount,
        "currency": o.currency,
        "sims": o.sims.iter().map(|i| json!({"iccid": i, "_links": [{"rel": "self", "href": format!("{base_url}/v1/sims/{i}")}]})).collect::<Vec<_>>(),
        "products": o.products.iter().map(|(p, q)| json!({"product_id": p, "quantity": q})).collect::<Vec<_>>(),
    });
    if let Some(a) = &o.shipping_address {
        v["shipping_address"] = a.clone();
    }
    v
}

/// The static product catalogue (`Product`).
pub fn products() -> Value {
    json!([
        {"id": 1001, "product": "1NCE IoT FlexSIM - Standard", "material": "1NCE FlexSIM", "package_size": 1,
         "minQuantity": 1, "maxQuantity": 1000, "maxQuantityPerCustomer": 100000, "min_contract_duration": 120,
         "one_time_charges": [{"name": "provisionCharge", "amount_net": 10, "currency": "EUR"}], "recurring_charges": []},
        {"id": 1002, "product": "1NCE Top Up 500MB / 250 SMS", "material": "Top Up", "package_size": 1,
         "minQuantity": 1, "maxQuantity": 100, "maxQuantityPerCustomer": 100000, "min_contract_duration": 0,
         "one_time_charges": [{"name": "topupCharge", "amount_net": 10, "currency": "EUR"}], "recurring_charges": []},
        {"id": 1003, "product": "1NCE IoT FlexSIM - Industrial", "material": "1NCE FlexSIM industrial", "package_size": 10,
         "minQuantity": 10, "maxQuantity": 1000, "maxQuantityPerCustomer": 100000, "min_contract_duration": 120,
         "one_time_charges": [{"name": "provisionCharge", "amount_net": 15, "currency": "EUR"}], "recurring_charges": []},
    ])
}

/// `Service_request`.
pub fn service_request(r: &ServiceRequest) -> Value {
    let mut thread = vec![json!({
        "communicationDate": ts_z(r.created), "direction": "IN", "id": "1",
        "originator": r.sender.clone().unwrap_or_else(|| "customer".into()),
        "subject": r.subject, "text": r.text, "type": "PORTAL",
    })];
    thread.extend(r.replies.iter().enumerate().map(|(k, (at, text))| {
        json!({
            "communicationDate": ts_z(*at), "direction": "OUT", "id": (k + 2).to_string(),
            "originator": "1NCE Support", "subject": format!("Re: {}", r.subject), "text": text, "type": "MAIL_OUT",
        })
    }));
    let mut v = json!({
        "caseId": r.case_id,
        "createDate": ts_z(r.created),
        "status": r.status,
        "subject": r.subject,
        "text": r.text,
        "communications": thread,
    });
    if let Some(s) = r.solved {
        v["solvedDate"] = json!(ts_z(s));
    }
    v
}
