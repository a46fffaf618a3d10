//! The chat's own events reaching people outside the chat (issue 21, part 2).
//!
//! - Webhook events are written by the storage in the same transaction as the chat change that
//!   causes them (`storage::chat::hooks`).
//! - Mail and SMS to a shopper who is not in the chat depend on time passing, so a periodic
//!   pass on every node ([`run`]) finds them in the database: an expert answered an offline
//!   message (the answers the shopper has not read go to the form's address, with a link that
//!   reopens the same conversation), or a shopper who gave an address for this left mid-chat
//!   and has been away for the merchant's "e-mail unread messages after N minutes". Each mail
//!   has an idempotency key (`offline_reply:{conversation}:{shopper_read_seq}`,
//!   `unread:{conversation}:{last expert seq}`), so several answers in a row make one mail and a
//!   pass repeated on another node or after a crash adds nothing. A phone number the shopper
//!   gave gets "your expert answered" by SMS alongside (the merchant's SMS gateway).
//! - The hub calls the small functions at the end ([`shopper_left`], [`shopper_back`],
//!   [`after_claim`], [`chat_started`], [`notify_me`]) through its `ReachHook` ([`Reacher`], set
//!   at start-up), so the store app can tell the expert the shopper is away.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::links::REOPEN_DAYS;
use super::mail::{self, MailKind, MailMessage};
use super::{parse_address, sms, uses, Outbound};
use crate::hub::{Hub, ReachHook};
use crate::ids::{ConversationId, MerchantId};
use crate::now_ms;
use crate::protocol::Out;
use crate::storage::{ConversationRow, Outgoing, Reach, Unanswered};

/// Answers wait this long after the expert's last one before they are mailed (so several in a
/// row make one mail, and a shopper reading in the widget gets none). Scaled by the speed-up,
/// never under 1.5 s.
pub const QUIET_MS: i64 = 60_000;
/// How often the pass runs (scaled, never under 250 ms).
pub const PASS_MS: i64 = 15_000;
/// Answers older than this are not mailed any more (a node that was down for longer).
pub const LOOK_BACK_MS: i64 = 6 * 3_600_000;

impl Outbound {
    fn quiet_ms(&self) -> i64 {
        (QUIET_MS / i64::from(self.0.timing.speedup.max(1))).max(1_500)
    }
    fn minute_ms(&self) -> i64 {
        (60_000 / i64::from(self.0.timing.speedup.max(1))).max(1)
    }
}

/// This node's pass, until `stop`.
pub(super) async fn run(out: Outbound, stop: CancellationToken) {
    let every = Duration::from_millis((PASS_MS / i64::from(out.0.timing.speedup.max(1))).max(250) as u64);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = pass(&out).await {
            tracing::warn!(error = %e, "the unread-answers pass failed");
        }
    }
}

/// One pass: enqueue the mail (and SMS) due now. The number of conversations written about.
pub async fn pass(out: &Outbound) -> anyhow::Result<usize> {
    let db = &out.0.db;
    let now = now_ms();
    let due = db
        .unanswered(now - LOOK_BACK_MS, now - out.quiet_ms(), now, out.minute_ms(), 100)
        .await?;
    let mut n = 0;
    for u in due {
        match mail_answers(out, &u).await {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, conversation = %u.id, "could not write the answers e-mail"),
        }
    }
    if n > 0 {
        out.wake();
    }
    Ok(n)
}

/// The e-mail (and SMS) for one conversation. False when there was nothing to send after all.
async fn mail_answers(out: &Outbound, u: &Unanswered) -> anyhow::Result<bool> {
    let db = &out.0.db;
    let m = MerchantId::from_db(u.merchant_id.clone());
    let offline = u.offline != 0;
    let (kind, to, key) = if offline {
        (
            MailKind::OfflineReply,
            u.offline_email.as_deref(),
            format!("offline_reply:{}:{}", u.id, u.shopper_read_seq),
        )
    } else {
        (
            MailKind::UnreadMessages,
            u.notify_email.as_deref(),
            format!("unread:{}:{}", u.id, u.last_expert_seq),
        )
    };
    let Some(to): Option<String> = to.and_then(parse_address) else {
        return Ok(false);
    };
    let conv = db.conversation(&m, &u.id).await?;
    let lang = mail::language(u.shopper_locale.as_deref());
    let (messages, expert) = unread(out, &m, &conv, u.shopper_read_seq, lang).await?;
    if messages.is_empty() {
        return Ok(false);
    }
    let link = uses::reopen_link(out, &conv);
    let data = json!({
        "messages": messages,
        "link": link,
        "link_days": REOPEN_DAYS,
        "expert": expert,
        "shopper_name": conv.shopper_name,
    });
    let (mail, _) = out
        .email(&m, kind, lang, &to, data, &[("expert", &expert)], key.clone(), Some(&conv.id))
        .await?;
    let mut items: Vec<Outgoing> = vec![mail];
    if let Some(phone) = u.notify_phone.as_deref().filter(|p| sms::valid_e164(p)) {
        let settings = db.messaging(&m).await?;
        if settings.sms_ready() {
            let brand = out.branding(&m).await?;
            let body = mail::text(lang, "sms.unread", &[("brand", &brand.name), ("expert", &expert), ("link", &link)]);
            items.push(out.sms(&m, "expert_answered", phone, body, format!("sms:{key}"), Some(&conv.id)));
        }
    }
    db.enqueue(&items).await?;
    Ok(true)
}

/// The expert's messages after the shopper's read mark, as mail lists them, and the name of
/// the expert who wrote the last one.
async fn unread(
    out: &Outbound,
    m: &MerchantId,
    conv: &ConversationRow,
    after: i64,
    lang: &str,
) -> anyhow::Result<(Vec<MailMessage>, String)> {
    // Photos as absolute links on the server's public URL: the mail is read outside the site.
    let all = uses::transcript_messages_after_at(&out.0.db, out.public_url(), m, conv, after, lang).await?;
    let expert = all
        .iter()
        .rev()
        .find(|(role, _)| role == "expert")
        .map(|(_, msg)| msg.author.clone())
        .or_else(|| conv.expert_name.clone())
        .unwrap_or_else(|| conv.store_name.clone());
    let messages = all.into_iter().filter(|(role, _)| role == "expert").map(|(_, msg)| msg).collect();
    Ok((messages, expert))
}

// ---------- the hub's side ----------

/// How the shopper of `r` is reached while away: `email`, `sms`, both or neither.
fn reach_of(r: &Reach) -> Vec<String> {
    let mut by = Vec::new();
    if (r.offline != 0 && r.offline_email.is_some()) || r.notify_email.is_some() {
        by.push("email".to_owned());
    }
    if r.notify_phone.is_some() {
        by.push("sms".to_owned());
    }
    by
}

fn away_frame(r: &Reach, away: bool) -> Out {
    Out::ShopperAway {
        conversation_id: r.id.clone(),
        away,
        reach: reach_of(r),
    }
}

/// Whether this merchant can send SMS now: only then is a shopper's phone number kept.
async fn sms_ready(hub: &Hub, m: &MerchantId) -> bool {
    hub.db.messaging(m).await.is_ok_and(|s| s.sms_ready())
}

/// A chat (or an offline message) began: remember the widget's language and a phone number
/// given with an offline message (only where the merchant sends SMS: a number that would never
/// be used is not kept, and the expert is not told the shopper can be texted).
pub async fn chat_started(hub: &Hub, m: &MerchantId, conversation: &ConversationId, locale: Option<&str>, phone: Option<&str>) {
    let phone = match phone {
        Some(p) if sms_ready(hub, m).await => Some(p),
        _ => None,
    };
    if locale.is_none() && phone.is_none() {
        return;
    }
    let locale = locale.map(|l| mail::language(Some(l)));
    if let Err(e) = hub.db.set_reach(m, conversation, locale, None, phone).await {
        tracing::debug!(error = %e, "the shopper's language was not stored");
    }
}

/// The shopper's last socket (on every node) closed: their open conversations are away from now;
/// experts in a claimed one are told (and whether the shopper can be reached).
pub async fn shopper_left(hub: &Hub, m: &MerchantId, shopper: &str) {
    match hub.db.shopper_left(m, shopper, now_ms()).await {
        Ok(open) => {
            for r in open.iter().filter(|r| r.status == "claimed") {
                hub.send_conversation(&r.id, &away_frame(r, true), None);
            }
        }
        Err(e) => tracing::debug!(error = %e, "the shopper's absence was not stored"),
    }
}

/// The shopper is connected again.
pub async fn shopper_back(hub: &Hub, m: &MerchantId, shopper: &str) {
    match hub.db.shopper_back(m, shopper).await {
        Ok(open) => {
            for r in open.iter().filter(|r| r.status == "claimed" && r.shopper_away_since.is_some()) {
                hub.send_conversation(&r.id, &away_frame(r, false), None);
            }
        }
        Err(e) => tracing::debug!(error = %e, "the shopper's return was not stored"),
    }
}

/// An expert claimed `row`: if its shopper is away (they left, or it is an offline message and
/// they are not connected anywhere), tell the expert that answers go by e-mail (or cannot reach
/// them until they come back).
pub async fn after_claim(hub: &Hub, conn: u64, row: &ConversationRow) {
    let m = MerchantId::from_db(row.merchant_id.clone());
    let Ok(r) = hub.db.reach(&m, &row.id).await else { return };
    let away = r.shopper_away_since.is_some() || (r.offline != 0 && !hub.shopper_connected_anywhere(&m, &r.shopper_id).await);
    if away {
        hub.send_out(conn, &away_frame(&r, true));
    }
}

/// The shopper's open conversations that have an address or number for answers while away
/// (for `welcome`).
pub async fn notify_states(hub: &Hub, m: &MerchantId, shopper: &str) -> Vec<crate::protocol::NotifyState> {
    match hub.db.open_reach(m, shopper).await {
        Ok(open) => open
            .into_iter()
            .filter(|r| r.notify_email.is_some() || r.notify_phone.is_some())
            .map(|r| crate::protocol::NotifyState {
                conversation_id: r.id,
                email: r.notify_email,
                phone: r.notify_phone,
            })
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "the shopper's reach was not read");
            Vec::new()
        }
    }
}

/// The shopper gave (or changed) the address and phone number answers reach them at while they
/// are away. Validated here: an invalid one is an error and changes nothing. A phone number is
/// kept only where the merchant sends SMS (the widget asks for one only then); given alone
/// where it does not, it is an error, and given with an address the answer says it was not kept.
pub async fn notify_me(
    hub: &Hub,
    m: &MerchantId,
    conversation: &ConversationId,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Out, &'static str> {
    let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(parse_address(e).ok_or("the e-mail address is not valid")?),
        None => None,
    };
    let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) if sms::valid_e164(p) => Some(p.to_owned()),
        Some(_) => return Err("the phone number must be in international form, e.g. +46701234567"),
        None => None,
    };
    if email.is_none() && phone.is_none() {
        return Err("give an e-mail address or a phone number");
    }
    let phone = match phone {
        Some(_) if !sms_ready(hub, m).await => {
            if email.is_none() {
                return Err("this store does not send text messages: give an e-mail address");
            }
            None
        }
        p => p,
    };
    hub.db
        .set_reach(m, conversation, None, email.as_deref(), phone.as_deref())
        .await
        .map_err(|_| "unavailable")?;
    Ok(Out::NotifyMe {
        conversation_id: conversation.to_owned(),
        email,
        phone,
    })
}

/// The hub's [`ReachHook`]: the functions above.
pub struct Reacher;

impl ReachHook for Reacher {
    fn chat_started<'a>(
        &'a self,
        hub: &'a Hub,
        m: &'a MerchantId,
        conversation: &'a ConversationId,
        locale: Option<&'a str>,
        phone: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(chat_started(hub, m, conversation, locale, phone))
    }
    fn shopper_left<'a>(&'a self, hub: &'a Hub, m: &'a MerchantId, shopper: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(shopper_left(hub, m, shopper))
    }
    fn shopper_back<'a>(&'a self, hub: &'a Hub, m: &'a MerchantId, shopper: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(shopper_back(hub, m, shopper))
    }
    fn after_claim<'a>(&'a self, hub: &'a Hub, conn: u64, row: &'a ConversationRow) -> BoxFuture<'a, ()> {
        Box::pin(after_claim(hub, conn, row))
    }
    fn notify_states<'a>(&'a self, hub: &'a Hub, m: &'a MerchantId, shopper: &'a str) -> BoxFuture<'a, Vec<crate::protocol::NotifyState>> {
        Box::pin(notify_states(hub, m, shopper))
    }
    fn notify_me<'a>(
        &'a self,
        hub: &'a Hub,
        m: &'a MerchantId,
        conversation: &'a ConversationId,
        email: Option<&'a str>,
        phone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Out, &'static str>> {
        Box::pin(notify_me(hub, m, conversation, email, phone))
    }
}

// ---------- the demo ----------

/// `./dev demo` (`FLOORWALKER_DEMO_TRAFFIC=1`): a little chat traffic through the real paths, so
/// the Outbox shows what it produces: a shopper in Berlin leaves an offline message in German
/// (no phone number: the demo does not send SMS), Tomáš claims it, answers twice and ends it; the answer e-mail is written
/// at once (not after the quiet minute). Chat events go to whatever endpoints exist then (none
/// in a fresh demo). Nothing happens unless the demo's Outbox is empty.
pub async fn seed_demo_traffic(out: &Outbound, m: &MerchantId) -> anyhow::Result<()> {
    use crate::storage::{Claim, NewConversation, NewMessage, PageRequest, Sender};
    let db = &out.0.db;
    let stores = db.list_all_stores(m).await?;
    let Some(berlin) = stores.iter().find(|s| s.name == "Berlin Mitte") else {
        return Ok(());
    };
    let Some(shoes) = berlin.departments.iter().find(|d| d.name == "Shoes").or(berlin.departments.first()) else {
        return Ok(());
    };
    let experts = db.list_experts(m, None, &PageRequest::first(100)).await?.items;
    let Some(tomas) = experts.into_iter().find(|e| e.email == "expert6@demo.example") else {
        return Ok(());
    };
    let shopper = db.create_shopper(m).await?;
    db.identify_shopper(m, &shopper.id, Some("Mia"), Some("mia.schulz@demo.example"))
        .await?;
    let conv = db
        .create_conversation(&NewConversation {
            merchant_id: m,
            shopper_id: &shopper.id,
            store_id: berlin.id.as_str(),
            department_id: shoes.id.as_str(),
            contact_expert_id: None,
            offline: Some(("mia.schulz@demo.example", Some("Mia"))),
            page_url: None,
            page_title: None,
            product_json: None,
        })
        .await?;
    db.set_reach(m, &conv.id, Some("de"), None, None).await?;
    let say = |sender: Sender, body: &str, n: usize| NewMessage {
        merchant_id: m.to_string(),
        conversation_id: conv.id.clone(),
        client_msg_id: Some(format!("demo-{n}")),
        sender,
        kind: "text",
        body: body.into(),
        data_json: None,
    };
    db.append_messages(vec![say(
        Sender::Shopper(shopper.id.to_string()),
        "Gibt es die Trailrunner auch in Größe 44?",
        0,
    )])
    .await?;
    let Claim::Won(_) = db.claim(m, &conv.id, &tomas.id, |_| true).await? else {
        return Ok(());
    };
    let expert = Sender::Expert {
        id: tomas.id.to_string(),
        name: tomas.name.clone(),
    };
    db.append_messages(vec![
        say(expert.clone(), "Hallo Mia, ja – Größe 44 haben wir in Blau und Schwarz.", 1),
        say(expert, "Ich lege Ihnen gern ein Paar bis Samstag zurück.", 2),
    ])
    .await?;
    db.finish(m, &conv.id, "expert").await?;
    if let Some(u) = db
        .unanswered(now_ms() - LOOK_BACK_MS, now_ms() + 1, now_ms(), out.minute_ms(), 100)
        .await?
        .into_iter()
        .find(|u| u.id == conv.id)
    {
        mail_answers(out, &u).await?;
        out.wake();
    }
    Ok(())
}
