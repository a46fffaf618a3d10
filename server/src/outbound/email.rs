//! SMTP delivery with lettre (TLS by rustls), one SMTP transaction per message.
//!
//! lettre's connection is driven command by command (MAIL, RCPT, DATA, content) rather than
//! through its all-in-one transport, because the worker must record the hand-off (see
//! `storage::outbox`) between the server's `354` to DATA and the content with its final dot:
//! before that point a crash leaves nothing at the server, after it the message may be there.

use std::time::{Duration, Instant};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;

use crate::config::{Secret, SmtpUrl};
use crate::storage::OutboxRow;

/// Where and how to reach the SMTP server.
#[derive(Clone)]
pub struct Smtp {
    host: String,
    port: u16,
    /// `smtps://`: TLS from the first byte.
    implicit_tls: bool,
    /// `?tls=required`: refuse a server without STARTTLS.
    require_starttls: bool,
    credentials: Option<(String, Secret)>,
    /// How long one command may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Smtp({}:{}, tls: {})", self.host, self.port, self.implicit_tls)
    }
}

impl Smtp {
    pub fn from_url(u: &SmtpUrl) -> anyhow::Result<Smtp> {
        let url = url::Url::parse(u.expose())?;
        let implicit_tls = url.scheme() == "smtps";
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("no host"))?
            .trim_matches(['[', ']'])
            .to_owned();
        let user = percent_decode(url.username());
        let credentials = (!user.is_empty()).then(|| (user, Secret::new(percent_decode(url.password().unwrap_or("")))));
        Ok(Smtp {
            port: url.port().unwrap_or(if implicit_tls { 465 } else { 587 }),
            host,
            implicit_tls,
            require_starttls: url.query_pairs().any(|(k, v)| k == "tls" && v == "required"),
            credentials,
            timeout: Duration::from_secs(30),
        })
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// How an SMTP attempt ended.
#[derive(Debug)]
pub enum SmtpOutcome {
    /// The server accepted the message (its reply to the final dot).
    Accepted { code: u16, reply: String },
    /// Not delivered, and the server holds nothing: retry unless `permanent`.
    NotSent { permanent: bool, code: Option<u16>, error: String },
    /// The hand-off had begun when the connection failed: it may have been accepted.
    Unknown { error: String },
    /// Another worker took the row over before the hand-off; the transaction was abandoned.
    LeaseLost,
}

/// The headers and addresses a row's payload carries.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MailMeta {
    pub from: String,
    pub reply_to: Option<String>,
    pub lang: String,
    /// Non-transactional mail: the one-click unsubscribe URL.
    pub unsubscribe: Option<String>,
}

/// The lettre message for an outbox row.
pub fn build(row: &OutboxRow) -> anyhow::Result<Message> {
    let meta: MailMeta = serde_json::from_str(&row.payload_json)?;
    let mut b = Message::builder()
        .from(meta.from.parse::<Mailbox>()?)
        .to(row.recipient.parse::<Mailbox>()?)
        .subject(row.subject.clone().unwrap_or_default())
        .message_id(Some(format!("<{}>", row.message_id)))
        .date_now()
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            meta.lang.clone(),
        ));
    if let Some(r) = &meta.reply_to {
        b = b.reply_to(r.parse::<Mailbox>()?);
    }
    if let Some(u) = &meta.unsubscribe {
        b = b
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{u}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    Ok(b.multipart(MultiPart::alternative_plain_html(
        row.body_text.clone().unwrap_or_default(),
        row.body_html.clone().unwrap_or_default(),
    ))?)
}

fn code_of(e: &lettre::transport::smtp::Error) -> Option<u16> {
    e.status().and_then(|c| c.to_string().parse().ok())
}

fn not_sent(e: lettre::transport::smtp::Error) -> SmtpOutcome {
    SmtpOutcome::NotSent {
        permanent: e.is_permanent(),
        code: code_of(&e),
        error: e.to_string(),
    }
}

/// Run one SMTP transaction for `row`. `handoff` is called after the server accepted DATA and
/// before the content is written; it records the hand-off and says whether the lease is still
/// ours (if not, the transaction is abandoned and the server keeps nothing).
pub async fn send<F, Fut>(smtp: &Smtp, row: &OutboxRow, handoff: F) -> (SmtpOutcome, Duration)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let outcome = transaction(smtp, row, handoff).await;
    (outcome, started.elapsed())
}

async fn transaction<F, Fut>(smtp: &Smtp, row: &OutboxRow, handoff: F) -> SmtpOutcome
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let message = match build(row) {
        Ok(m) => m,
        Err(e) => {
            return SmtpOutcome::NotSent {
                permanent: true,
                code: None,
                error: format!("the message could not be built: {e}"),
            }
        }
    };
    let hello = ClientId::default();
    let tls = || TlsParameters::new_rustls(smtp.host.clone());
    let implicit = if smtp.implicit_tls {
        match tls() {
            Ok(t) => Some(t),
            Err(e) => return not_sent(e),
        }
    } else {
        None
    };
    let mut conn =
        match AsyncSmtpConnection::connect_tokio1((smtp.host.as_str(), smtp.port), Some(smtp.timeout), &hello, implicit, None).await {
            Ok(c) => c,
            Err(e) => return not_sent(e),
        };
    if !smtp.implicit_tls {
        if conn.can_starttls() {
            let upgraded = match tls() {
                Ok(t) => conn.starttls(t, &hello).await,
                Err(e) => Err(e),
            };
            if let Err(e) = upgraded {
                return not_sent(e);
            }
        } else if smtp.require_starttls {
            return SmtpOutcome::NotSent {
                permanent: false,
                code: None,
                error: "the server does not offer STARTTLS (tls=required)".into(),
            };
        }
    }
    if let Some((user, pass)) = &smtp.credentials {
        let creds = Credentials::new(user.clone(), pass.expose().to_owned());
        if let Err(e) = conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds).await {
            return not_sent(e);
        }
    }
    let envelope = message.envelope();
    if let Err(e) = conn.command(Mail::new(envelope.from().cloned(), vec![])).await {
        return not_sent(e);
    }
    for to in envelope.to() {
        if let Err(e) = conn.command(Rcpt::new(to.clone(), vec![])).await {
            conn.abort().await;
            return not_sent(e);
        }
    }
    if let Err(e) = conn.command(Data).await {
        conn.abort().await;
        return not_sent(e);
    }
    if !handoff().await {
        // Closing without the final dot: the server discards the transaction.
        conn.abort().await;
        return SmtpOutcome::LeaseLost;
    }
    let outcome = match conn.message(&message.formatted()).await {
        Ok(r) => SmtpOutcome::Accepted {
            code: r.code().to_string().parse().unwrap_or(250),
            reply: r.message().collect::<Vec<_>>().join(" "),
        },
        // The server answered the content with a refusal: it kept nothing.
        Err(e) if e.status().is_some() => not_sent(e),
        // No answer: the content may or may not have been accepted.
        Err(e) => SmtpOutcome::Unknown { error: e.to_string() },
    };
    let _ = conn.quit().await;
    outcome
}
