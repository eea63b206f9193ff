//! Delivery of queued alert notifications: SMTP e-mail (lettre) and HMAC-signed webhooks.
//!
//! The worker claims due rows of the persisted queue with a lease, sends them, and marks them
//! delivered; failures are retried with exponential backoff. A webhook carries the queue row's
//! id as `X-Simfleet-Delivery`, so a receiver can drop the rare repeat after a crash between
//! sending and recording.

use chrono::{TimeDelta, Utc};
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use simfleet_store::{NotificationChannel, PendingNotification, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Opens secrets sealed at rest (the server's key lives outside this crate).
pub trait SecretOpener: Send + Sync {
    fn open(&self, sealed: &str) -> anyhow::Result<String>;
}

pub const SIGNATURE_HEADER: &str = "X-Simfleet-Signature";
pub const DELIVERY_HEADER: &str = "X-Simfleet-Delivery";

/// `sha256=<hex HMAC-SHA256 of body under secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Settings of an e-mail channel (the password is stored sealed, apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: String,
    pub username: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

/// Settings of a webhook channel (the signing secret is stored sealed, apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
}

impl EmailConfig {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !matches!(self.security.as_str(), "none" | "starttls" | "tls") {
            return Err(("security", "must be none, starttls or tls".into()));
        }
        if self.host.trim().is_empty() {
            return Err(("host", "is required".into()));
        }
        self.from.parse::<Mailbox>().map_err(|e| ("from", format!("is not an e-mail address: {e}")))?;
        if self.to.is_empty() {
            return Err(("to", "needs at least one address".into()));
        }
        for to in &self.to {
            to.parse::<Mailbox>().map_err(|e| ("to", format!("{to:?} is not an e-mail address: {e}")))?;
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Notifier {
    store: Store,
    secrets: Option<Arc<dyn SecretOpener>>,
    http: reqwest::Client,
    /// First retry delay; doubles per attempt up to 15 minutes.
    pub backoff: Duration,
    pub max_attempts: i32,
}

/// What one delivery pass did.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    pub delivered: i64,
    /// `(channel, message)` per failed send.
    pub errors: Vec<(String, String)>,
}

impl Notifier {
    pub fn new(store: Store, secrets: Option<Arc<dyn SecretOpener>>) -> Notifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("an HTTP client with default TLS settings");
        Notifier { store, secrets, http, backoff: Duration::from_secs(10), max_attempts: 10 }
    }

    /// Sends everything due, channel by channel, until nothing due is left.
    pub async fn deliver_due(&self) -> anyhow::Result<DeliveryReport> {
        let mut report = DeliveryReport::default();
        loop {
            let claimed = self.store.claim_notifications(500, TimeDelta::minutes(5)).await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let mut by_channel: BTreeMap<i64, Vec<PendingNotification>> = BTreeMap::new();
            for n in claimed {
                by_channel.entry(n.channel_id).or_default().push(n);
            }
            let mut progressed = false;
            for (channel_id, items) in by_channel {
                let channel = match self.store.channel(channel_id).await {
                    Ok(c) => c,
                    Err(simfleet_store::StoreError::NotFound(_)) => continue, // deleted meanwhile: rows went with it
                    Err(e) => return Err(e.into()),
                };
                progressed |= self.deliver_channel(&channel, &items, &mut report).await?;
            }
            if !progressed {
                return Ok(report);
            }
        }
    }

    async fn deliver_channel(
        &self,
        channel: &NotificationChannel,
        items: &[PendingNotification],
        report: &mut DeliveryReport,
    ) -> anyhow::Result<bool> {
        let mut progressed = false;
        let batches: Vec<Vec<&PendingNotification>> = if channel.kind == "email" && channel.digest_minutes.is_some() {
            vec![items.iter().collect()]
        } else {
            items.iter().map(|n| vec![n]).collect()
        };
        for batch in batches {
            let ids: Vec<i64> = batch.iter().map(|n| n.id).collect();
            match self.send(channel, &batch).await {
                Ok(()) => {
                    let next_digest = channel
                        .digest_minutes
                        .filter(|_| channel.kind == "email")
                        .map(|m| simfleet_store::now() + TimeDelta::minutes(i64::from(m)));
                    self.store.complete_notifications(&ids, channel.id, next_digest).await?;
                    report.delivered += ids.len() as i64;
                    progressed = true;
                }
                Err(e) => {
                    let attempts = batch.iter().map(|n| n.attempts).max().unwrap_or(1);
                    let give_up = attempts >= self.max_attempts;
                    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).clamp(0, 16) as u32);
                    let wait = self.backoff.saturating_mul(factor).min(Duration::from_secs(15 * 60));
                    let next = simfleet_store::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::minutes(15));
                    let message = format!("{e:#}");
                    self.store.retry_notifications(&ids, &message, next, give_up).await?;
                    tracing::warn!(channel = %channel.name, attempts, give_up, error = %message, "notification not delivered");
                    report.errors.push((channel.name.clone(), message));
                }
            }
        }
        Ok(progressed)
    }

    fn secret(&self, channel: &NotificationChannel) -> anyhow::Result<Option<String>> {
        match (&channel.secret_enc, &self.secrets) {
            (None, _) => Ok(None),
            (Some(sealed), Some(opener)) => opener.open(sealed).map(Some),
            (Some(_), None) => anyhow::bail!("no secret key to open the channel's secret"),
        }
    }

    async fn send(&self, channel: &NotificationChannel, batch: &[&PendingNotification]) -> anyhow::Result<()> {
        match channel.kind.as_str() {
            "webhook" => {
                let n = batch[0];
                let body = json!({
                    "event": "alert.opened",
                    "delivery_id": delivery_id(n.id),
                    "alert": alert_json(n),
                });
                self.post_webhook(channel, &delivery_id(n.id), &body).await
            }
            "email" => {
                let subject = if batch.len() == 1 {
                    format!("[simfleet] {} {}: {}", batch[0].severity, batch[0].kind, subject_of(batch[0]))
                } else {
                    format!("[simfleet] {} new alerts", batch.len())
                };
                let mut text = String::from("New simfleet alerts:\n\n");
                for n in batch {
                    text.push_str(&format!(
                        "- [{}] {} {}: {} (since {})\n",
                        n.severity,
                        n.kind,
                        subject_of(n),
                        n.message,
                        n.first_seen.to_rfc3339()
                    ));
                }
                self.send_email(channel, &subject, text).await
            }
            other => anyhow::bail!("unknown channel kind {other}"),
        }
    }

    /// Sends a test message through `channel`; the error says what went wrong.
    pub async fn send_test(&self, channel: &NotificationChannel) -> anyhow::Result<()> {
        let id = format!("test-{}", Utc::now().timestamp_micros());
        match channel.kind.as_str() {
            "webhook" => {
                let body = json!({ "event": "test", "delivery_id": id, "message": "simfleet test notification" });
                self.post_webhook(channel, &id, &body).await
            }
            _ => {
                let text = "This is a test message from simfleet: the channel works.\n".to_owned();
                self.send_email(channel, "[simfleet] test notification", text).await
            }
        }
    }

    async fn post_webhook(
        &self,
        channel: &NotificationChannel,
        delivery: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<()> {
        let config: WebhookConfig = serde_json::from_str(&channel.config)?;
        let secret = self.secret(channel)?.unwrap_or_default();
        let bytes = serde_json::to_vec(body)?;
        let response = self
            .http
            .post(&config.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature(&secret, &bytes))
            .header(DELIVERY_HEADER, delivery)
            .body(bytes)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("webhook request failed: {}", e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("webhook answered HTTP {}", status.as_u16());
        }
        Ok(())
    }

    async fn send_email(&self, channel: &NotificationChannel, subject: &str, text: String) -> anyhow::Result<()> {
        let config: EmailConfig = serde_json::from_str(&channel.config)?;
        let mut builder = match config.security.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
        }
        .port(config.port)
        .timeout(Some(Duration::from_secs(20)));
        if let Some(user) = &config.username {
            let password = self.secret(channel)?.unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let mut message = Message::builder().from(config.from.parse()?).subject(subject);
        for to in &config.to {
            message = message.to(to.parse()?);
        }
        let message = message.body(text)?;
        builder.build().send(message).await.map_err(|e| anyhow::anyhow!("SMTP delivery failed: {e}"))?;
        Ok(())
    }
}

fn delivery_id(notification_id: i64) -> String {
    format!("ntf-{notification_id}")
}

fn subject_of(n: &PendingNotification) -> String {
    n.iccid.clone().or_else(|| n.job.as_ref().map(|j| format!("job {j}"))).unwrap_or_default()
}

fn alert_json(n: &PendingNotification) -> serde_json::Value {
    json!({
        "id": n.alert_id,
        "kind": n.kind,
        "severity": n.severity,
        "state": n.state,
        "iccid": n.iccid,
        "job": n.job,
        "message": n.message,
        "first_seen": n.first_seen,
    })
}
