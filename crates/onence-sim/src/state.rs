//! The simulator's mutable world: SIM records, per-day usage overrides, SMS, events, orders,
//! service requests, global limits and issued tokens. Tests read and change it directly through
//! [`SimState`]'s public methods ("changes made outside simfleet").

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::fleet::{
    iccid_for, DayUsage, Generator, LinkState, Operator, SimRecord, SimStatus, DEFAULT_DATA_MB, DEFAULT_SMS, UMB_PER_MB,
};
use crate::rng::{below, hash, unit};

const SALT_SMS: u64 = 11;
const SALT_EVENT: u64 = 12;
/// How many well-formed ICCIDs beyond the fleet answer 403 ("SIM does not belong to user").
pub const FOREIGN_SIMS: usize = 10;
/// Ids of generated SMS and events are derived from the SIM index; new ones start here.
const FIRST_DYNAMIC_ID: u64 = 1_000_000_000_000;

/// Delivery status of an SMS, with the API's numeric ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SmsStatus {
    Pending,
    Delivered,
    Failed,
    Expired,
}

impl SmsStatus {
    pub fn id(self) -> u32 {
        match self {
            SmsStatus::Pending => 2,
            SmsStatus::Delivered => 4,
            SmsStatus::Failed => 5,
            SmsStatus::Expired => 6,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SmsStatus::Pending => "PENDING",
            SmsStatus::Delivered => "DELIVERED",
            SmsStatus::Failed => "FAILED",
            SmsStatus::Expired => "EXPIRED",
        }
    }
}

/// One stored SMS.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sms {
    pub id: u64,
    pub sim_index: usize,
    /// Mobile-terminated (sent to the device) or mobile-originated.
    pub mt: bool,
    pub status: SmsStatus,
    pub submit: DateTime<Utc>,
    pub delivery: Option<DateTime<Utc>>,
    pub expiry: DateTime<Utc>,
    pub payload: String,
    pub source_address: String,
    pub source_address_type: u32,
    pub dcs: u32,
    pub udh: String,
}

/// One network / administrative event of a SIM.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimEvent {
    pub id: u64,
    pub sim_index: usize,
    pub timestamp: DateTime<Utc>,
    pub type_id: u32,
    pub description: String,
    pub alert: bool,
    pub severity: u32,
    pub operator: Operator,
}

/// Severity names by id.
pub const SEVERITIES: [&str; 3] = ["INFO", "WARN", "CRITICAL"];
/// Generated event kinds: (type id, description, alert, severity).
const EVENT_KINDS: [(u32, &str, bool, u32); 5] = [
    (1, "Update location", false, 0),
    (2, "Create PDP Context", false, 0),
    (4, "Delete PDP Context", false, 0),
    (3, "Purge location", false, 0),
    (10, "Threshold reached", true, 1),
];

/// An order (first order, top-up, bulk top-up, …).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Order {
    pub number: u64,
    pub order_type: String,
    pub date: DateTime<Utc>,
    pub status: String,
    pub invoice_number: String,
    pub invoice_amount: String,
    pub currency: String,
    pub sims: Vec<String>,
    /// (product id, quantity)
    pub products: Vec<(u64, u64)>,
    pub shipping_address: Option<serde_json::Value>,
    pub customer_reference: Option<String>,
}

/// A support case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceRequest {
    pub case_id: String,
    pub created: DateTime<Utc>,
    pub status: String,
    pub subject: String,
    pub text: String,
    pub reply_to: Option<String>,
    pub sender: Option<String>,
    /// Answers of the provider's support: (when, text).
    pub replies: Vec<(DateTime<Utc>, String)>,
    pub solved: Option<DateTime<Utc>>,
}

/// Currently selected global self-set limits (ids into [`LIMIT_OPTIONS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub data: u32,
    pub sms_mt: u32,
    pub sms_mo: u32,
}

/// Selectable limit options per service: (id, limit, unit).
pub fn limit_options(service: &str) -> Option<&'static [(u32, &'static str, &'static str)]> {
    match service {
        "data" => Some(&[(1, "16", "MB"), (2, "50", "MB"), (3, "100", "MB"), (4, "500", "MB")]),
        "smsMT" | "smsMO" => Some(&[(1, "10", "SMS"), (2, "50", "SMS"), (3, "250", "SMS")]),
        _ => None,
    }
}

/// Outcome of an ICCID lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Found(usize),
    /// Well-formed but belongs to another customer (403).
    Foreign,
    Missing,
}

/// Derived quota figures of one SIM and one service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuotaView {
    /// Data in µMB, SMS in messages.
    pub used: u64,
    pub remaining: i64,
    pub accumulated: u64,
    /// v2 total_volume semantics.
    pub total: i64,
    pub last_added: u64,
    pub threshold_percentage: u8,
    pub threshold_reached: Option<NaiveDate>,
    pub exceeded: Option<NaiveDate>,
    pub expiry: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_change: DateTime<Utc>,
}

impl QuotaView {
    /// 0: more than 20 % left, 1: less than 20 %, 2: nothing left (v1 Quota_Status ids).
    pub fn level(&self) -> u32 {
        if self.remaining <= 0 {
            2
        } else if (self.remaining as f64) < self.accumulated as f64 * f64::from(self.threshold_percentage) / 100.0 {
            1
        } else {
            0
        }
    }
}

pub(crate) struct Inner {
    pub sims: Vec<SimRecord>,
    by_iccid: HashMap<String, usize>,
    usage_overrides: HashMap<(usize, NaiveDate), DayUsage>,
    /// Memoised lifetime usage (data µMB, SMS) per SIM; reset when a day is overridden.
    used_totals: Vec<OnceLock<(u64, u64)>>,
    sms: HashMap<usize, Vec<Sms>>,
    events: HashMap<usize, Vec<SimEvent>>,
    next_id: u64,
    pub orders: Vec<Order>,
    pub support: Vec<ServiceRequest>,
    pub limits: Limits,
    pub transfers: Vec<serde_json::Value>,
    /// Whether the account has credit card details saved (else `creditcard` payments answer 400).
    pub credit_card_on_file: bool,
    tokens: HashMap<String, Instant>,
    token_ttl: StdDuration,
    token_counter: u64,
}

/// Shared simulator state. Cheap to clone through `Arc`; all methods take `&self`.
pub struct SimState {
    pub(crate) gen: Generator,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState").field("gen", &self.gen).finish_non_exhaustive()
    }
}

impl SimState {
    pub fn new(gen: Generator, sims: usize, token_ttl: StdDuration) -> Self {
        let records: Vec<SimRecord> = (0..sims).map(|i| gen.sim(i)).collect();
        let mut by_iccid = HashMap::with_capacity(sims * 2);
        for r in &records {
            by_iccid.insert(r.iccid.clone(), r.index);
            by_iccid.insert(r.iccid_with_luhn.clone(), r.index);
        }
        let first = Order {
            number: 2_000_000_001,
            order_type: "FIRST_ORDER".into(),
            date: records.iter().map(|r| r.activation).min().unwrap_or_else(Utc::now) - Duration::days(7),
            status: "COMPLETED".into(),
            invoice_number: "20000001".into(),
            invoice_amount: format!("{:.2}", sims as f64 * 10.0),
            currency: "EUR".into(),
            sims: records.iter().take(100).map(|r| r.iccid.clone()).collect(),
            products: vec![(1001, sims as u64)],
            shipping_address: None,
            customer_reference: None,
        };
        SimState {
            gen,
            inner: RwLock::new(Inner {
                sims: records,
                by_iccid,
                usage_overrides: HashMap::new(),
                used_totals: (0..sims).map(|_| OnceLock::new()).collect(),
                sms: HashMap::new(),
                events: HashMap::new(),
                next_id: FIRST_DYNAMIC_ID,
                orders: vec![first],
                support: vec![ServiceRequest {
                    case_id: "12".into(),
                    created: Utc::now() - Duration::days(3),
                    status: "OPEN".into(),
                    subject: "Connectivity Issue".into(),
                    text: "Devices in Lyon drop off the network at night.".into(),
                    reply_to: None,
                    sender: None,
                    replies: Vec::new(),
                    solved: None,
                }],
                limits: Limits { data: 4, sms_mt: 3, sms_mo: 3 },
                transfers: Vec::new(),
                credit_card_on_file: true,
                tokens: HashMap::new(),
                token_ttl,
                token_counter: 0,
            }),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The simulated "today" (end of the usage history).
    pub fn today(&self) -> NaiveDate {
        self.gen.today
    }
    /// First day of the usage history.
    pub fn history_start(&self) -> NaiveDate {
        self.gen.history_start()
    }

    pub fn sim_count(&self) -> usize {
        self.read().sims.len()
    }

    /// Resolves an ICCID (with or without Luhn digit).
    pub fn lookup(&self, iccid: &str) -> Lookup {
        let inner = self.read();
        lookup_in(&inner, iccid)
    }

    /// All SIM records, in list order.
    pub fn sims(&self) -> Vec<SimRecord> {
        self.read().sims.clone()
    }

    pub fn sim(&self, iccid: &str) -> Option<SimRecord> {
        let inner = self.read();
        match lookup_in(&inner, iccid) {
            Lookup::Found(i) => Some(inner.sims[i].clone()),
            _ => None,
        }
    }

    /// Mutates one SIM "outside simfleet" (status, label, connectivity, …). Returns false if unknown.
    pub fn update_sim(&self, iccid: &str, f: impl FnOnce(&mut SimRecord)) -> bool {
        let mut inner = self.write();
        match lookup_in(&inner, iccid) {
            Lookup::Found(i) => {
                f(&mut inner.sims[i]);
                true
            }
            _ => false,
        }
    }

    /// Changes a SIM's status and records an event, as the portal would.
    pub fn set_status(&self, iccid: &str, status: SimStatus) -> bool {
        let mut inner = self.write();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return false;
        };
        self.apply_status(&mut inner, i, status);
        true
    }

    pub fn set_link_state(&self, iccid: &str, state: LinkState) -> bool {
        self.update_sim(iccid, |s| {
            s.connectivity.state = state;
            if state != LinkState::Offline {
                s.connectivity.last_seen = Utc::now();
            }
        })
    }

    /// Usage of one day: an override if one was set, else the generated value.
    pub fn day_usage(&self, iccid: &str, day: NaiveDate) -> Option<DayUsage> {
        let inner = self.read();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        Some(self.usage_in(&inner, i, day))
    }

    /// Daily usage between two dates (inclusive), clamped to the history window.
    pub fn usage(&self, iccid: &str, from: NaiveDate, to: NaiveDate) -> Option<Vec<(NaiveDate, DayUsage)>> {
        let inner = self.read();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        Some(self.usage_range(&inner, i, from, to))
    }

    /// Replaces the usage of one day (e.g. to simulate new traffic).
    pub fn set_day_usage(&self, iccid: &str, day: NaiveDate, usage: DayUsage) -> bool {
        let mut inner = self.write();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return false;
        };
        inner.usage_overrides.insert((i, day), usage);
        inner.used_totals[i] = OnceLock::new();
        true
    }

    /// Data quota figures (µMB) of a SIM.
    pub fn data_quota(&self, iccid: &str) -> Option<QuotaView> {
        let inner = self.read();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        Some(self.quota_in(&inner, i, true))
    }

    /// SMS quota figures of a SIM.
    pub fn sms_quota(&self, iccid: &str) -> Option<QuotaView> {
        let inner = self.read();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        Some(self.quota_in(&inner, i, false))
    }

    /// Tops a SIM up by 500 MB and 250 SMS and records a TOPUP order; returns the order number.
    pub fn top_up(&self, iccid: &str) -> Option<u64> {
        let mut inner = self.write();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        self.top_up_in(&mut inner, i);
        let iccid = inner.sims[i].iccid.clone();
        Some(push_order(&mut inner, "TOPUP", vec![iccid], vec![(1002, 1)]))
    }

    pub fn sms(&self, iccid: &str) -> Option<Vec<Sms>> {
        let mut inner = self.write();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        Some(self.sms_of(&mut inner, i).clone())
    }

    /// The device sends `payload` (an MO-SMS, delivered now). Its id, or `None` for an unknown SIM.
    pub fn receive_sms(&self, iccid: &str, payload: &str) -> Option<u64> {
        let mut inner = self.write();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        let id = Self::next_id(&mut inner);
        let now = Utc::now();
        let msisdn = inner.sims[i].msisdn.clone();
        self.sms_of(&mut inner, i).push(Sms {
            id,
            sim_index: i,
            mt: false,
            status: SmsStatus::Delivered,
            submit: now,
            delivery: Some(now),
            expiry: now + Duration::days(1),
            payload: payload.into(),
            source_address: msisdn,
            source_address_type: 145,
            dcs: 0,
            udh: String::new(),
        });
        Some(id)
    }

    pub fn events(&self, iccid: &str) -> Option<Vec<SimEvent>> {
        let mut inner = self.write();
        let Lookup::Found(i) = lookup_in(&inner, iccid) else {
            return None;
        };
        Some(self.events_of(&mut inner, i).clone())
    }

    pub fn orders(&self) -> Vec<Order> {
        self.read().orders.clone()
    }

    pub fn service_requests(&self) -> Vec<ServiceRequest> {
        self.read().support.clone()
    }

    pub fn limits(&self) -> Limits {
        self.read().limits
    }

    pub fn transfers(&self) -> Vec<serde_json::Value> {
        self.read().transfers.clone()
    }

    pub fn credit_card_on_file(&self) -> bool {
        self.read().credit_card_on_file
    }

    /// Saves (or removes) the account's credit card details, as the portal would.
    pub fn set_credit_card_on_file(&self, on_file: bool) {
        self.write().credit_card_on_file = on_file;
    }

    /// Marks a SIM expired (only extensions are then permitted) or not. False if unknown.
    pub fn set_expired(&self, iccid: &str, expired: bool) -> bool {
        self.update_sim(iccid, |s| s.expired = expired)
    }

    /// Support answers a case: a reply in its thread and a new status (`IN_PROGRESS`, `CLOSED`).
    pub fn answer_service_request(&self, case_id: &str, reply: &str, status: &str) -> bool {
        let mut inner = self.write();
        let Some(r) = inner.support.iter_mut().find(|r| r.case_id == case_id) else {
            return false;
        };
        r.replies.push((Utc::now(), reply.to_owned()));
        r.status = status.to_owned();
        r.solved = (status == "CLOSED").then(Utc::now);
        true
    }

    /// Invalidates every issued token: the next API call answers 401.
    pub fn revoke_tokens(&self) {
        self.write().tokens.clear();
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: StdDuration) {
        self.write().token_ttl = ttl;
    }

    pub fn token_ttl(&self) -> StdDuration {
        self.read().token_ttl
    }

    // ---- crate-internal helpers used by the routes -------------------------------------------

    pub(crate) fn issue_token(&self) -> (String, StdDuration) {
        let mut inner = self.write();
        inner.token_counter += 1;
        let token = format!("sim.{:016x}.{}", hash(self.gen.seed, 99, inner.token_counter, 0), inner.token_counter);
        let ttl = inner.token_ttl;
        inner.tokens.insert(token.clone(), Instant::now() + ttl);
        inner.tokens.retain(|_, exp| *exp > Instant::now());
        (token, ttl)
    }

    pub(crate) fn token_valid(&self, token: &str) -> bool {
        self.read().tokens.get(token).is_some_and(|exp| *exp > Instant::now())
    }

    pub(crate) fn usage_in(&self, inner: &Inner, i: usize, day: NaiveDate) -> DayUsage {
        inner.usage_overrides.get(&(i, day)).copied().unwrap_or_else(|| self.gen.usage(&inner.sims[i], day))
    }

    pub(crate) fn usage_range(
        &self,
        inner: &Inner,
        i: usize,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<(NaiveDate, DayUsage)> {
        let from = from.max(self.gen.history_start()).max(inner.sims[i].activation.date_naive());
        let to = to.min(self.gen.today);
        let mut out = Vec::new();
        let mut d = from;
        while d <= to {
            out.push((d, self.usage_in(inner, i, d)));
            d = d.succ_opt().unwrap_or(d);
            if out.len() > 100_000 {
                break;
            }
        }
        out
    }

    /// Lifetime usage of a SIM over the history window: (data µMB, SMS).
    fn used_totals(&self, inner: &Inner, i: usize) -> (u64, u64) {
        *inner.used_totals[i].get_or_init(|| {
            self.usage_range(inner, i, self.gen.history_start(), self.gen.today)
                .iter()
                .fold((0, 0), |(d, s), (_, u)| (d + u.data_umb(), s + u.sms()))
        })
    }

    pub(crate) fn quota_in(&self, inner: &Inner, i: usize, data: bool) -> QuotaView {
        let sim = &inner.sims[i];
        let q = if data { &sim.data_quota } else { &sim.sms_quota };
        let threshold = q.accumulated as f64 * (1.0 - f64::from(q.threshold_percentage) / 100.0);
        let (data_used, sms_used) = self.used_totals(inner, i);
        let used = if data { data_used } else { sms_used };
        let (mut threshold_reached, mut exceeded) = (None, None);
        // Only SIMs past the threshold need the day-by-day scan for the crossing dates.
        if used as f64 > threshold {
            let mut running = 0u64;
            for (d, u) in self.usage_range(inner, i, self.gen.history_start(), self.gen.today) {
                running += if data { u.data_umb() } else { u.sms() };
                if threshold_reached.is_none() && running as f64 > threshold {
                    threshold_reached = Some(d);
                }
                if exceeded.is_none() && running >= q.accumulated {
                    exceeded = Some(d);
                }
            }
        }
        QuotaView {
            used,
            remaining: q.accumulated as i64 - used as i64,
            accumulated: q.accumulated,
            total: q.total,
            last_added: q.last_added,
            threshold_percentage: q.threshold_percentage,
            threshold_reached,
            exceeded,
            expiry: q.expiry,
            created_at: q.created_at,
            last_change: q.last_change,
        }
    }

    /// Whether the SIM's data use this month (up to "today") reached the account's selected
    /// monthly data limit.
    pub(crate) fn monthly_data_limit_reached(&self, inner: &Inner, i: usize) -> bool {
        let today = self.gen.today;
        let first = today.with_day(1).unwrap_or(today);
        let used: u64 = self.usage_range(inner, i, first, today).iter().map(|(_, u)| u.data_umb()).sum();
        let limit_mb = limit_options("data")
            .and_then(|o| o.iter().find(|(id, _, _)| *id == inner.limits.data))
            .and_then(|(_, mb, _)| mb.parse::<u64>().ok());
        limit_mb.is_some_and(|mb| used >= mb * UMB_PER_MB)
    }

    pub(crate) fn top_up_in(&self, inner: &mut Inner, i: usize) {
        let now = Utc::now();
        let data_left = self.quota_in(inner, i, true).remaining;
        let sms_left = self.quota_in(inner, i, false).remaining;
        let sim = &mut inner.sims[i];
        for (q, add, left) in [
            (&mut sim.data_quota, DEFAULT_DATA_MB * UMB_PER_MB, data_left),
            (&mut sim.sms_quota, DEFAULT_SMS, sms_left),
        ] {
            q.accumulated += add;
            q.total = left + add as i64;
            q.last_added = add;
            q.last_change = now;
        }
        self.push_event(inner, i, 20, "Top up of data and SMS volume", false, 0);
    }

    pub(crate) fn extend_in(&self, inner: &mut Inner, i: usize) {
        self.top_up_in(inner, i);
        let sim = &mut inner.sims[i];
        sim.expired = false;
        let expiry = Utc::now() + Duration::days(3650);
        sim.data_quota.expiry = expiry;
        sim.sms_quota.expiry = expiry;
    }

    pub(crate) fn sms_of<'a>(&self, inner: &'a mut Inner, i: usize) -> &'a mut Vec<Sms> {
        let gen = self.gen;
        let sim = inner.sims[i].clone();
        inner.sms.entry(i).or_insert_with(|| generate_sms(&gen, &sim))
    }

    pub(crate) fn events_of<'a>(&self, inner: &'a mut Inner, i: usize) -> &'a mut Vec<SimEvent> {
        let gen = self.gen;
        let sim = inner.sims[i].clone();
        inner.events.entry(i).or_insert_with(|| generate_events(&gen, &sim))
    }

    pub(crate) fn apply_status(&self, inner: &mut Inner, i: usize, status: SimStatus) {
        let old = inner.sims[i].status;
        if old != status {
            inner.sims[i].status = status;
            let text = format!("Status of SIM changed from '{}' to '{}'", old.as_str(), status.as_str());
            self.push_event(inner, i, 11, &text, false, 0);
        }
    }

    /// Appends an event (after the generated history, which is seeded first).
    pub(crate) fn push_event(
        &self,
        inner: &mut Inner,
        i: usize,
        type_id: u32,
        description: &str,
        alert: bool,
        severity: u32,
    ) {
        let id = Self::next_id(inner);
        let operator = inner.sims[i].connectivity.operator;
        self.events_of(inner, i).push(SimEvent {
            id,
            sim_index: i,
            timestamp: Utc::now(),
            type_id,
            description: description.into(),
            alert,
            severity,
            operator,
        });
    }

    pub(crate) fn next_id(inner: &mut Inner) -> u64 {
        inner.next_id += 1;
        inner.next_id
    }
}

pub(crate) fn lookup_in(inner: &Inner, iccid: &str) -> Lookup {
    if let Some(&i) = inner.by_iccid.get(iccid) {
        return Lookup::Found(i);
    }
    let n = inner.sims.len();
    if (n..n + FOREIGN_SIMS).any(|k| iccid_for(k) == iccid) {
        Lookup::Foreign
    } else {
        Lookup::Missing
    }
}

/// The one-time net price of a catalogue product (10.00 for one not in the catalogue).
fn unit_price(product_id: u64) -> f64 {
    let catalogue = crate::views::products();
    let product = catalogue.as_array().and_then(|all| all.iter().find(|p| p["id"] == product_id));
    product.and_then(|p| p["one_time_charges"][0]["amount_net"].as_f64()).unwrap_or(10.0)
}

pub(crate) fn push_order(inner: &mut Inner, order_type: &str, sims: Vec<String>, products: Vec<(u64, u64)>) -> u64 {
    let number = inner.orders.last().map_or(2_000_000_001, |o| o.number + 1);
    let amount = products.iter().map(|(id, q)| *q as f64 * unit_price(*id)).sum::<f64>();
    inner.orders.push(Order {
        number,
        order_type: order_type.into(),
        date: Utc::now(),
        status: "COMPLETED".into(),
        invoice_number: format!("{}", 20_000_000 + inner.orders.len() as u64 + 1),
        invoice_amount: format!("{amount:.2}"),
        currency: "EUR".into(),
        sims,
        products,
        shipping_address: None,
        customer_reference: None,
    });
    number
}

fn generate_sms(gen: &Generator, sim: &SimRecord) -> Vec<Sms> {
    let h = |k: u64| hash(gen.seed, SALT_SMS, sim.index as u64, k);
    let count = if sim.sms_heavy { 6 } else { below(h(0), 4) };
    let start = gen.history_start().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let span = (gen.today - gen.history_start()).num_seconds().max(1) as u64;
    let mut out: Vec<Sms> = (0..count)
        .map(|k| {
            let submit = start + Duration::seconds(below(h(10 + k), span) as i64);
            let mt = unit(h(20 + k)) < 0.5;
            let status = if unit(h(30 + k)) < 0.9 { SmsStatus::Delivered } else { SmsStatus::Failed };
            Sms {
                id: (sim.index as u64 + 1) * 100 + k,
                sim_index: sim.index,
                mt,
                status,
                submit,
                delivery: (status == SmsStatus::Delivered).then(|| submit + Duration::seconds(3)),
                expiry: submit + Duration::days(1),
                payload: if mt { "CONFIG interval=3600".into() } else { format!("temp={}", below(h(40 + k), 40)) },
                source_address: if mt { "1234567890".into() } else { sim.msisdn.clone() },
                source_address_type: 145,
                dcs: 0,
                udh: String::new(),
            }
        })
        .collect();
    out.sort_by_key(|s| (s.submit, s.id));
    out
}

fn generate_events(gen: &Generator, sim: &SimRecord) -> Vec<SimEvent> {
    let h = |k: u64| hash(gen.seed, SALT_EVENT, sim.index as u64, k);
    let count = 3 + below(h(0), 30);
    let start = gen.history_start().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().max(sim.activation);
    let end = sim.connectivity.last_seen.max(start + Duration::seconds(1));
    let span = (end - start).num_seconds().max(1) as u64;
    let mut times: Vec<i64> = (0..count).map(|k| below(h(1 + k), span) as i64).collect();
    times.sort_unstable();
    times
        .into_iter()
        .enumerate()
        .map(|(k, t)| {
            let (type_id, text, alert, severity) =
                EVENT_KINDS[below(h(100 + k as u64), EVENT_KINDS.len() as u64) as usize];
            SimEvent {
                id: (sim.index as u64 + 1) * 1000 + k as u64,
                sim_index: sim.index,
                timestamp: start + Duration::seconds(t),
                type_id,
                description: text.into(),
                alert,
                severity,
                operator: sim.connectivity.operator,
            }
        })
        .collect()
}
