//! What the platform sends, built on the outbox: expert invitations, chat transcripts (by
//! e-mail or as a download) and the "continue the conversation" link. The REST handlers and the
//! demo call these, so the demo's Outbox holds what the real paths produce.

use serde_json::json;

use super::links::{Claims, REOPEN_DAYS};
use super::mail::{self, MailKind, MailMessage, Rendered};
use super::Outbound;
use crate::ids::MerchantId;
use crate::storage::{ConversationRow, Db, Enqueued, StorageError};

/// The invitation e-mail for each address (validated, lower case), in `lang`. At most one per
/// address, invite code and day: sending the same list twice the same day adds nothing.
pub async fn invite(db: &Db, out: &Outbound, m: &MerchantId, addresses: &[String], lang: &str) -> anyhow::Result<Vec<(String, Enqueued)>> {
    let code = db.invite_code(m).await?;
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let link = format!("{}/app/?invite={code}", out.public_url());
    let mut items = Vec::new();
    for a in addresses {
        let (item, _) = out
            .email(
                m,
                MailKind::Invitation,
                lang,
                a,
                json!({"code": code, "link": link}),
                &[],
                format!("invite:{m}:{code}:{a}:{day}"),
                None,
            )
            .await?;
        items.push(item);
    }
    let done = db.enqueue(&items).await?;
    out.wake();
    Ok(addresses.iter().cloned().zip(done).collect())
}

/// The messages of a conversation as mail lists them (`mine`: written by the shopper), with
/// photos as links on `origin` (the server's public URL).
pub async fn transcript_messages_at(
    db: &Db,
    origin: &str,
    m: &MerchantId,
    conv: &ConversationRow,
    lang: &str,
) -> anyhow::Result<Vec<MailMessage>> {
    Ok(transcript_messages_after_at(db, origin, m, conv, 0, lang)
        .await?
        .into_iter()
        .map(|(_, msg)| msg)
        .collect())
}

/// The messages after `after`, as mail lists them, each with its author's role, with photos as
/// links on `origin` (issue 24: the stable `/api/v1/attachments/{id}/open` link, then the
/// caption).
pub async fn transcript_messages_after_at(
    db: &Db,
    origin: &str,
    m: &MerchantId,
    conv: &ConversationRow,
    mut after: i64,
    lang: &str,
) -> anyhow::Result<Vec<(String, MailMessage)>> {
    let you = mail::text(lang, "you", &[]);
    let mut out = Vec::new();
    loop {
        let page: Vec<_> = db
            .messages_after(m, &conv.id, after, 500)
            .await?
            .into_iter()
            .map(|s| s.view())
            .collect();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for msg in &page {
            if msg.kind == "system" {
                continue;
            }
            let body = match (&msg.product, msg.kind.as_str()) {
                (Some(p), "product") => p.url.as_ref().map_or_else(|| p.name.clone(), |u| format!("{} {u}", p.name)),
                (_, "attachment") => match msg.data.as_ref().and_then(|d| d.get("attachment_id")).and_then(|v| v.as_str()) {
                    Some(id) => crate::media::photo_link_text(origin, id, &msg.body),
                    None => msg.body.clone(),
                },
                _ => msg.body.clone(),
            };
            let mine = msg.author.role == "shopper";
            out.push((
                msg.author.role.clone(),
                MailMessage {
                    author: if mine {
                        you.clone()
                    } else {
                        msg.author.name.clone().unwrap_or_else(|| conv.store_name.clone())
                    },
                    time: chrono::DateTime::from_timestamp_millis(msg.sent_at)
                        .unwrap_or_default()
                        .format("%Y-%m-%d %H:%M UTC")
                        .to_string(),
                    body,
                    mine,
                },
            ));
        }
        if page.len() < 500 {
            break;
        }
    }
    Ok(out)
}

fn transcript_data(conv: &ConversationRow, messages: &[MailMessage]) -> serde_json::Value {
    let date = chrono::DateTime::from_timestamp_millis(conv.created_at)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string();
    json!({"messages": messages, "date": date, "shopper_name": conv.shopper_name})
}

/// The transcript rendered for a download (no unsubscribe link: nothing is sent).
pub async fn render_transcript(db: &Db, out: &Outbound, m: &MerchantId, conv: &ConversationRow, lang: &str) -> anyhow::Result<Rendered> {
    let lang = mail::language(Some(lang));
    let messages = transcript_messages_at(db, out.public_url(), m, conv, lang).await?;
    let brand = out.branding(m).await?;
    Ok(mail::render(
        MailKind::Transcript,
        lang,
        &brand,
        transcript_data(conv, &messages),
        &[],
        None,
    )?)
}

/// E-mail a conversation's transcript to `to` (an address the shopper gave for this, or the
/// one they are known by). The same transcript to the same address goes once.
pub async fn email_transcript(
    db: &Db,
    out: &Outbound,
    m: &MerchantId,
    conv: &ConversationRow,
    to: &str,
    lang: &str,
) -> anyhow::Result<Enqueued> {
    let lang = mail::language(Some(lang));
    let messages = transcript_messages_at(db, out.public_url(), m, conv, lang).await?;
    let (item, _) = out
        .email(
            m,
            MailKind::Transcript,
            lang,
            to,
            transcript_data(conv, &messages),
            &[],
            format!("transcript:{}:{}:{to}", conv.id, conv.last_seq),
            Some(&conv.id),
        )
        .await?;
    let done = db.enqueue(&[item]).await?;
    out.wake();
    Ok(done.into_iter().next().unwrap_or(Enqueued::Duplicate))
}

/// A signed link that reopens `conv` in the widget as its shopper, for [`REOPEN_DAYS`].
pub fn reopen_link(out: &Outbound, conv: &ConversationRow) -> String {
    let token = out.sign_link(&Claims::Reopen {
        m: conv.merchant_id.clone(),
        c: conv.id.clone(),
        s: conv.shopper_id.clone(),
        e: crate::now_ms() + REOPEN_DAYS * 86_400_000,
    });
    format!("{}/r/{token}", out.public_url())
}

/// What a valid, unexpired reopen link stands for: (merchant, conversation, shopper).
pub async fn check_reopen(db: &Db, out: &Outbound, token: &str) -> Option<(MerchantId, ConversationRow)> {
    let Some(Claims::Reopen { m, c, s, e }) = out.verify_link(token) else {
        return None;
    };
    if e < crate::now_ms() {
        return None;
    }
    let m = MerchantId::parse(&m)?;
    match db.conversation(&m, &c).await {
        Ok(conv) if conv.shopper_id == s => Some((m, conv)),
        Ok(_) | Err(StorageError::NotFound) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a reopened conversation");
            None
        }
    }
}
