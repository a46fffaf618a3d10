//! Reaching people outside the chat: e-mail (SMTP), SMS (Twilio-style gateways), signed
//! webhooks and Web Push alerts to experts' phones (`push`), all through the transactional
//! outbox (`storage::outbox`).
//!
//! - [`Outbound`] is the handle the rest of the server holds: it composes messages
//!   ([`Outbound::email`], [`Outbound::sms`]) into outbox items the caller enqueues in its own
//!   transaction, and wakes the local worker after a commit.
//! - `worker` claims due rows on this node and delivers them: retries with exponential backoff
//!   and jitter, leases renewed while an attempt runs, permanent failures marked.
//! - `email`, `sms`, `webhook` speak to the other side; `ssrf` keeps merchant-chosen URLs off
//!   private networks; `mail` renders the templates; `links` signs the links in mail;
//!   `events` defines the webhook events and their payloads.
//!
//! The hub knows nothing of this module: it calls out through its `OfferHook` (the push
//! alerter) and `ReachHook` (`hooks::Reacher`), both set at start-up; a REST handler decides
//! that something happened and enqueues what should leave because of it.

pub mod email;
pub mod events;
pub mod hooks;
pub mod links;
pub mod mail;
pub mod push;
pub mod sms;
pub mod ssrf;
pub mod uses;
pub mod webhook;
mod worker;

use crate::ids::ConversationId;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::OutboundArgs;
use crate::ids::MerchantId;
use crate::storage::{Channel, Db, NewOutbound, Outgoing};
use mail::{Branding, MailKind, Rendered};

/// E-mails and SMS to one recipient per hour, at most (per merchant).
pub const HOURLY_LIMIT: i64 = 10;
/// E-mail and SMS are retried this long before they are given up.
pub const MESSAGE_GIVE_UP_MS: i64 = 24 * 3_600_000;

/// Delays, scaled by `FLOORWALKER_OUTBOUND_SPEEDUP` (1 in production).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub speedup: u32,
}

impl Timing {
    fn scale(&self, ms: i64) -> i64 {
        (ms / i64::from(self.speedup.max(1))).max(1)
    }
    /// How long a claimed row stays ours without renewal (never under 2 s: a real SMTP
    /// session or HTTP request takes real time whatever the speed-up).
    pub fn lease_ms(&self) -> i64 {
        self.scale(120_000).max(2_000)
    }
    /// The delay before attempt `attempts + 1`, after `attempts` failed: exponential with a
    /// cap, ±25 % jitter so a recovering receiver is not hit by every retry at once.
    pub fn backoff_ms(&self, channel: Channel, attempts: i64) -> i64 {
        let (base, factor, cap): (i64, i64, i64) = match channel {
            // An hour-long SMTP outage: attempts at about 30 s, 1, 2, 4, 8 min, then every 15.
            Channel::Email | Channel::Sms => (30_000, 2, 15 * 60_000),
            // Standard Webhooks' advice: seconds first, then hours, for a day.
            Channel::Webhook => (5_000, 4, 4 * 3_600_000),
            // An alert is worth something for a minute or two: retry quickly.
            Channel::Push => (1_000, 2, 10_000),
        };
        let n = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
        let raw = base.saturating_mul(factor.saturating_pow(n)).min(cap);
        use rand::Rng;
        let jitter = rand::thread_rng().gen_range(0.75..1.25);
        self.scale((raw as f64 * jitter) as i64)
    }
    pub fn give_up_ms(&self, channel: Channel) -> i64 {
        match channel {
            Channel::Webhook => self.scale(events::WEBHOOK_GIVE_UP_MS),
            Channel::Push => self.scale(crate::outbound::push::GIVE_UP_MS).max(5_000),
            _ => self.scale(MESSAGE_GIVE_UP_MS),
        }
    }
    /// An endpoint whose every delivery failed for this long is disabled.
    pub fn disable_after_ms(&self) -> i64 {
        self.scale(3 * 24 * 3_600_000)
    }
}

struct Inner {
    db: Db,
    smtp: Option<email::Smtp>,
    http: reqwest::Client,
    allow_private: bool,
    timing: Timing,
    node: String,
    wake: Notify,
    public_url: String,
    mail_from: String,
    link_key: Vec<u8>,
    /// The VAPID key pair for Web Push, read on first use.
    vapid: tokio::sync::OnceCell<crate::outbound::push::vapid::Vapid>,
}

/// The outbound side of the server. Cheap to clone.
#[derive(Clone)]
pub struct Outbound(Arc<Inner>);

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("smtp", &self.0.smtp)
            .field("node", &self.0.node)
            .finish()
    }
}

impl Outbound {
    /// Build the handle and start this node's worker (it stops when `stop` is cancelled).
    pub async fn start(
        db: Db,
        args: &OutboundArgs,
        addr: std::net::SocketAddr,
        stop: CancellationToken,
    ) -> anyhow::Result<(Outbound, tokio::task::JoinHandle<()>)> {
        let smtp = args
            .smtp_url
            .as_ref()
            .map(email::Smtp::from_url)
            .transpose()
            .context("FLOORWALKER_SMTP_URL")?;
        match &args.smtp_url {
            Some(u) => tracing::info!(smtp = %u.redacted(), "outbound e-mail goes through SMTP"),
            None => tracing::info!("no FLOORWALKER_SMTP_URL: e-mail stays in the Outbox"),
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(10))
            .dns_resolver(Arc::new(ssrf::PublicResolver {
                allow_private: args.allow_private_webhooks,
            }))
            .build()
            .context("building the outbound HTTP client")?;
        let public_url = args
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{addr}"));
        let link_key = db.server_key("outbound_links").await?.into_bytes();
        // The chat's webhook events give up as fast as the rest of the outbox.
        db.hooks.set_speedup(args.outbound_speedup);
        let inner = Arc::new(Inner {
            db,
            smtp,
            http,
            allow_private: args.allow_private_webhooks,
            timing: Timing {
                speedup: args.outbound_speedup,
            },
            node: format!("node-{}", uuid::Uuid::new_v4().simple()),
            wake: Notify::new(),
            public_url,
            mail_from: args.mail_from.clone(),
            link_key,
            vapid: tokio::sync::OnceCell::new(),
        });
        let out = Outbound(inner.clone());
        // Mail to shoppers who are away, on every node (idempotent: see `hooks`).
        tokio::spawn(hooks::run(out.clone(), stop.clone()));
        let handle = tokio::spawn(worker::run(inner, stop));
        Ok((out, handle))
    }

    /// Tell this node's worker that rows were committed (other nodes find them within a second).
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// The server's VAPID key pair (generated and stored on first use).
    pub async fn vapid(&self) -> crate::storage::Result<&crate::outbound::push::vapid::Vapid> {
        self.0
            .vapid
            .get_or_try_init(|| crate::outbound::push::vapid::Vapid::load(&self.0.db))
            .await
    }

    pub fn timing(&self) -> Timing {
        self.0.timing
    }

    pub fn allow_private(&self) -> bool {
        self.0.allow_private
    }

    pub fn smtp_configured(&self) -> bool {
        self.0.smtp.is_some()
    }

    /// The server's public base URL (no trailing slash), for links.
    pub fn public_url(&self) -> &str {
        &self.0.public_url
    }

    pub fn sign_link(&self, claims: &links::Claims) -> String {
        links::sign(&self.0.link_key, claims)
    }

    pub fn verify_link(&self, token: &str) -> Option<links::Claims> {
        links::verify(&self.0.link_key, token)
    }

    /// The merchant's branding for mail.
    pub async fn branding(&self, m: &MerchantId) -> crate::storage::Result<Branding> {
        let p = self.0.db.merchant_public(m).await?;
        Ok(Branding::from_display(&p.display, &p.name, &self.0.public_url))
    }

    /// Render an e-mail and make it an outbox item for the caller to enqueue. `to` must be a
    /// validated, lower-case address; `key` the idempotency key of its cause.
    #[allow(clippy::too_many_arguments)]
    pub async fn email(
        &self,
        m: &MerchantId,
        kind: MailKind,
        lang: &str,
        to: &str,
        data: serde_json::Value,
        subject_args: &[(&str, &str)],
        key: String,
        conversation_id: Option<&ConversationId>,
    ) -> anyhow::Result<(Outgoing, Rendered)> {
        let brand = self.branding(m).await?;
        let settings = self.0.db.messaging(m).await?;
        let lang = mail::language(Some(lang));
        let unsubscribe = (!kind.transactional()).then(|| {
            let t = self.sign_link(&links::Claims::Unsubscribe {
                m: m.to_string(),
                ch: "email".into(),
                a: to.to_owned(),
            });
            format!("{}/u/{t}", self.0.public_url)
        });
        let rendered = mail::render(kind, lang, &brand, data, subject_args, unsubscribe.as_deref())?;
        let from_address = settings.sender_address.clone().unwrap_or_else(|| bare_address(&self.0.mail_from));
        let from = lettre::message::Mailbox::new(Some(settings.sender_name.clone()), from_address.parse()?);
        let meta = email::MailMeta {
            from: from.to_string(),
            reply_to: settings.reply_to.clone(),
            lang: lang.to_owned(),
            unsubscribe,
        };
        let domain = bare_address(&self.0.mail_from)
            .rsplit('@')
            .next()
            .unwrap_or("floorwalker.localhost")
            .to_owned();
        let item = Outgoing::Message(NewOutbound {
            merchant_id: m.clone(),
            channel: Channel::Email,
            template: kind.as_str().into(),
            idempotency_key: key,
            recipient: to.to_owned(),
            endpoint_id: None,
            conversation_id: conversation_id.cloned(),
            message_id: format!("{}@{domain}", uuid::Uuid::now_v7().simple()),
            subject: Some(rendered.subject.clone()),
            body_text: Some(rendered.text.clone()),
            body_html: Some(rendered.html.clone()),
            payload_json: serde_json::to_string(&meta)?,
            transactional: kind.transactional(),
            order_key: None,
            give_up_after_ms: self.0.timing.give_up_ms(Channel::Email),
            hourly_limit: HOURLY_LIMIT,
            delay_ms: 0,
        });
        Ok((item, rendered))
    }

    /// An SMS as an outbox item (`to` in E.164).
    pub fn sms(
        &self,
        m: &MerchantId,
        template: &str,
        to: &str,
        body: String,
        key: String,
        conversation_id: Option<&ConversationId>,
    ) -> Outgoing {
        Outgoing::Message(NewOutbound {
            merchant_id: m.clone(),
            channel: Channel::Sms,
            template: template.into(),
            idempotency_key: key,
            recipient: to.to_owned(),
            endpoint_id: None,
            conversation_id: conversation_id.cloned(),
            message_id: uuid::Uuid::now_v7().to_string(),
            subject: None,
            body_text: Some(body),
            body_html: None,
            payload_json: "{}".into(),
            transactional: true,
            order_key: None,
            give_up_after_ms: self.0.timing.give_up_ms(Channel::Sms),
            hourly_limit: HOURLY_LIMIT,
            delay_ms: 0,
        })
    }
}

/// `a@b` from `Name <a@b>` or `a@b`.
fn bare_address(s: &str) -> String {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim().to_owned(),
        _ => s.trim().to_owned(),
    }
}

/// Parse and normalise an e-mail address a person typed: trimmed, lower case, checked by
/// `email_address` (RFC 5322 addr-spec) and required to have a dotted domain.
pub fn parse_address(s: &str) -> Option<String> {
    let t = s.trim().to_lowercase();
    if t.len() > 254 {
        return None;
    }
    let parsed = email_address::EmailAddress::parse_with_options(&t, email_address::Options::default().without_display_text()).ok()?;
    let domain = parsed.domain();
    (domain.contains('.') && !domain.starts_with('[') && !domain.ends_with('.')).then(|| parsed.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_validated_and_normalised() {
        assert_eq!(parse_address(" Kim@Example.COM ").as_deref(), Some("kim@example.com"));
        for bad in [
            "kim",
            "kim@",
            "@example.com",
            "kim@localhost",
            "a b@example.com",
            "Kim <kim@example.com>",
            "kim@example.com.",
        ] {
            assert_eq!(parse_address(bad), None, "{bad}");
        }
        assert_eq!(bare_address("Floorwalker <no-reply@fw.example>"), "no-reply@fw.example");
    }

    #[test]
    fn backoff_grows_to_a_cap_and_speeds_up_in_tests() {
        let t = Timing { speedup: 1 };
        let first = t.backoff_ms(Channel::Email, 1);
        assert!((22_500..=37_500).contains(&first), "{first}");
        let late = t.backoff_ms(Channel::Email, 12);
        assert!(late <= 15 * 60_000 * 5 / 4, "{late}");
        // An hour-long SMTP outage is ridden out well within the day before giving up.
        let total: i64 = (1..=10).map(|n| t.backoff_ms(Channel::Email, n)).sum();
        assert!(total > 3_600_000 && total < t.give_up_ms(Channel::Email), "{total}");
        assert!(Timing { speedup: 1000 }.backoff_ms(Channel::Webhook, 1) < 10);
        assert_eq!(Timing { speedup: 1000 }.lease_ms(), 2_000);
    }
}
