//! Selling in the chat (issue 22, docs/commerce.md): the catalogue, carts and their `cart`
//! messages, pay links and QR codes, UCP permalinks, and order handling.

pub mod cart;
pub mod demo;
pub mod money;
pub mod permalink;
pub mod qr;
pub mod refs;
pub mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::hub::Hub;
use crate::ids::{ConversationId, MerchantId};
use crate::outbound::Outbound;
use crate::storage::{Db, NewMessage, Sender};
use cart::{Line, LineView, VatView};
use store::CartRow;

/// The clock that decides when pay links and quotes lapse: the wall clock, plus an offset
/// that only tests move ([`Clock::advance`]) to see a quote lapse or a link expire without
/// waiting days (docs/commerce.md "Testing lapses"). The server itself never moves it.
#[derive(Debug, Clone, Default)]
pub struct Clock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Clock {
    /// Now, in unix milliseconds.
    pub fn now(&self) -> i64 {
        crate::now_ms().saturating_add(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
    /// Move this server's commerce time forward (tests only).
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What selling in the chat needs of the server: the database, the hub (its `cart` and system
/// messages go through the chat's one writer), outbound messages (links by e-mail and SMS) and
/// the commerce clock. Cheap to clone (shared handles); the HTTP state's `commerce()` makes one.
#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub hub: Hub,
    pub outbound: Outbound,
    pub commerce_clock: Clock,
}

/// The server key that signs pay tokens and cart references.
pub async fn key(state: &Ctx) -> crate::storage::Result<Vec<u8>> {
    Ok(state.db.server_key("commerce").await?.into_bytes())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ExpertRef {
    pub id: String,
    pub name: String,
}

/// A cart as every audience sees it (docs/commerce.md "Carts").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Cart {
    #[schema(required = true)]
    pub id: Option<String>,
    #[schema(required = true)]
    pub conversation_id: Option<ConversationId>,
    #[schema(required = true)]
    pub shopper_id: Option<String>,
    #[schema(required = true)]
    pub expert: Option<ExpertRef>,
    /// quote | awaiting_payment | paid | cancelled | expired | replaced (null in a preview)
    #[schema(required = true)]
    pub status: Option<String>,
    /// hosted | permalink | off
    pub checkout_mode: String,
    pub currency: String,
    pub lines: Vec<LineView>,
    pub items: i64,
    pub total: String,
    pub vat: Vec<VatView>,
    pub vat_total: String,
    #[schema(required = true)]
    pub quote_valid_until: Option<i64>,
    #[schema(required = true)]
    pub expires_at: Option<i64>,
    #[schema(required = true)]
    pub pay_url: Option<String>,
    #[schema(required = true)]
    pub replaces: Option<String>,
    #[schema(required = true)]
    pub replaced_by: Option<String>,
    #[schema(required = true)]
    pub order_id: Option<String>,
    #[schema(required = true)]
    pub created_at: Option<i64>,
    #[schema(required = true)]
    pub updated_at: Option<i64>,
}

/// The view of priced lines (a preview, or the body of a stored cart).
pub fn view_lines(lines: &[Line], currency: &str, mode: &str) -> Cart {
    let t = cart::totals(lines, currency);
    Cart {
        id: None,
        conversation_id: None,
        shopper_id: None,
        expert: None,
        status: None,
        checkout_mode: mode.to_owned(),
        currency: currency.to_owned(),
        lines: lines.iter().map(|l| cart::line_view(l, currency)).collect(),
        items: t.items,
        total: t.total,
        vat: t.vat,
        vat_total: t.vat_total,
        quote_valid_until: None,
        expires_at: None,
        pay_url: None,
        replaces: None,
        replaced_by: None,
        order_id: None,
        created_at: None,
        updated_at: None,
    }
}

pub fn pay_url(state: &Ctx, key: &[u8], cart_id: &str) -> String {
    format!("{}/pay/{}", state.outbound.public_url(), refs::pay_token(key, cart_id))
}

/// A stored cart's view; the pay link only while it can be paid or accepted.
pub fn view(state: &Ctx, key: &[u8], row: &CartRow, lines: &[Line]) -> Cart {
    let mut c = view_lines(lines, &row.currency, &row.checkout_mode);
    let open = store::OPEN_CART.contains(&row.status.as_str());
    c.id = Some(row.id.clone());
    c.conversation_id = Some(row.conversation_id.clone());
    c.shopper_id = Some(row.shopper_id.clone());
    c.expert = row.expert_id.clone().map(|id| ExpertRef {
        id,
        name: row.expert_name.clone().unwrap_or_default(),
    });
    c.status = Some(row.status.clone());
    c.quote_valid_until = row.quote_valid_until;
    c.expires_at = Some(row.expires_at);
    c.pay_url = open.then(|| pay_url(state, key, &row.id));
    c.replaces = row.replaces.clone();
    c.replaced_by = row.replaced_by.clone();
    c.order_id = row.order_id.clone();
    c.created_at = Some(row.created_at);
    c.updated_at = Some(row.updated_at);
    c
}

/// Plain-text summary of a cart for clients that do not know the `cart` kind.
pub fn summary(c: &Cart) -> String {
    format!(
        "{}: {} item{}, {} {}",
        if c.status.as_deref() == Some("quote") { "Quote" } else { "Cart" },
        c.items,
        if c.items == 1 { "" } else { "s" },
        c.total,
        c.currency
    )
}

/// A system line in a conversation's thread (stored, then live to both sides).
pub async fn system_line(state: &Ctx, merchant: &MerchantId, conversation: &ConversationId, key: &str, data: serde_json::Value) {
    let msg = NewMessage {
        merchant_id: merchant.to_string(),
        conversation_id: conversation.to_owned(),
        client_msg_id: None,
        sender: Sender::System,
        kind: "system",
        body: key.to_owned(),
        data_json: Some(data.to_string()),
    };
    if let Err(e) = state.hub.store(msg, None).await {
        tracing::warn!(%conversation, key, error = %e, "could not store a commerce system message");
    }
}

/// Record a cart fact for the Analytics rollups and `metrics.csv` (`cart_sent`; `cart_paid`
/// with the total in minor units and its currency). Counted off the request path: a failure is
/// logged, never the caller's error.
pub async fn cart_fact(state: &Ctx, row: &CartRow, kind: &'static str) {
    let paid = kind == "cart_paid";
    let e = crate::storage::Event {
        merchant_id: row.merchant_id.clone(),
        kind,
        at: crate::now_ms(),
        shopper_id: Some(row.shopper_id.clone()),
        store_id: Some(row.store_id.clone()),
        department_id: None,
        expert_id: row.expert_id.clone(),
        conversation_id: Some(row.conversation_id.clone()),
        value: paid.then_some(row.total_minor),
        data_json: paid.then(|| serde_json::json!({"currency": row.currency}).to_string()),
    };
    if let Err(err) = state.db.insert_events(&[e]).await {
        tracing::warn!(error = %err, kind, "could not record a cart for analytics");
    }
}

/// Tell the thread a cart's status changed.
pub async fn cart_status_line(state: &Ctx, merchant: &MerchantId, row: &CartRow, status: &str, order_id: Option<&str>) {
    let mut data = serde_json::json!({"cart_id": row.id, "status": status});
    if let Some(o) = order_id {
        data["order_id"] = o.into();
    }
    system_line(state, merchant, &row.conversation_id, "cart_status", data).await;
}

/// After `POST /orders` with a cart reference: the cart is paid (or cancelled) and the thread
/// says so. Returns false when the cart was no longer open.
pub async fn order_reported(state: &Ctx, m: &MerchantId, cart_id: &str, order_id: &str, status: &str) -> crate::storage::Result<bool> {
    state.db.link_order_cart(m, order_id, cart_id).await?;
    let to = if matches!(status, "cancelled" | "refunded") {
        "cancelled"
    } else {
        "paid"
    };
    let changed = state.db.set_cart_status(m, cart_id, &store::OPEN_CART, to, Some(order_id)).await?;
    if changed {
        let (row, _) = state.db.cart(m, cart_id).await?;
        cart_status_line(state, m, &row, to, Some(order_id)).await;
        if to == "paid" {
            cart_fact(state, &row, "cart_paid").await;
        }
    }
    Ok(changed)
}

/// Expire lapsed carts (pay link or quote past its time) and tell their threads; run
/// periodically by the server.
pub async fn expire_lapsed(state: &Ctx) -> anyhow::Result<usize> {
    let now = state.commerce_clock.now();
    let lapsed = state.db.lapsed_carts(now).await?;
    let mut n = 0;
    for (merchant, id, _) in lapsed {
        let m = MerchantId::from_db(merchant);
        if state.db.set_cart_status(&m, &id, &store::OPEN_CART, "expired", None).await? {
            let (row, _) = state.db.cart(&m, &id).await?;
            cart_status_line(state, &m, &row, "expired", None).await;
            n += 1;
        }
    }
    Ok(n)
}

/// The commerce clock: lapsed carts expire (every 30 s, faster with the outbound speed-up
/// that tests use).
pub async fn run(state: Ctx, stop: tokio_util::sync::CancellationToken) {
    let every = std::time::Duration::from_millis((30_000 / u64::from(state.outbound.timing().speedup.max(1))).max(200));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = expire_lapsed(&state).await {
                    tracing::warn!(error = %e, "could not expire lapsed carts");
                }
                if let Err(e) = remind_unpaid(&state).await {
                    tracing::warn!(error = %e, "could not send unpaid-cart reminders");
                }
            }
        }
    }
}

/// Send a cart's pay link by e-mail (template `cart_link`) or SMS through the outbox. The
/// link itself is only in the outbox row (never in a log line).
pub async fn send_link(
    state: &Ctx,
    m: &MerchantId,
    row: &CartRow,
    lines: &[Line],
    channel: &str,
    to: &str,
    reminder: bool,
) -> anyhow::Result<crate::storage::Enqueued> {
    use crate::outbound::mail;
    let key = key(state).await?;
    let link = pay_url(state, &key, &row.id);
    let view = view(state, &key, row, lines);
    let lang = "en";
    let tag = if reminder { "reminder" } else { "link" };
    let item = match channel {
        "email" => {
            let expires = chrono::DateTime::from_timestamp_millis(row.expires_at)
                .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            let data = serde_json::json!({
                "link": link, "lines": view.lines, "total": view.total, "currency": view.currency,
                "expert": row.expert_name.clone().unwrap_or_default(), "expires": expires, "reminder": reminder,
            });
            state
                .outbound
                .email(
                    m,
                    mail::MailKind::CartLink,
                    lang,
                    to,
                    data,
                    &[],
                    format!("cart_{tag}:{}:{to}", row.id),
                    Some(&row.conversation_id),
                )
                .await?
                .0
        }
        _ => {
            let brand = state.outbound.branding(m).await?;
            let total = format!("{} {}", view.total, view.currency);
            let body = mail::text(lang, "sms.cart_link", &[("brand", &brand.name), ("total", &total), ("link", &link)]);
            state.outbound.sms(
                m,
                "cart_link",
                to,
                body,
                format!("cart_{tag}:{}:{to}", row.id),
                Some(&row.conversation_id),
            )
        }
    };
    let done = state.db.enqueue(&[item]).await?;
    state.outbound.wake();
    Ok(done.into_iter().next().unwrap_or(crate::storage::Enqueued::Duplicate))
}

/// One reminder per unpaid cart, after the merchant's `reminder_hours`: a line in the thread
/// and, when the shopper's e-mail is known, an e-mail.
pub async fn remind_unpaid(state: &Ctx) -> anyhow::Result<usize> {
    let speedup = i64::from(state.outbound.timing().speedup.max(1));
    let due = state.db.carts_due_for_reminder(state.commerce_clock.now(), speedup).await?;
    let mut n = 0;
    for (merchant, id) in due {
        let m = MerchantId::from_db(merchant);
        if !state.db.mark_reminded(&m, &id).await? {
            continue;
        }
        let (row, lines) = state.db.cart(&m, &id).await?;
        let k = key(state).await?;
        let link = pay_url(state, &k, &row.id);
        system_line(
            state,
            &m,
            &row.conversation_id,
            "cart_reminder",
            serde_json::json!({"cart_id": row.id, "pay_url": link}),
        )
        .await;
        let email = match crate::ids::ShopperId::parse(&row.shopper_id) {
            Some(s) => state.db.get_shopper(&m, &s).await.ok().and_then(|s| s.email),
            None => None,
        };
        if let Some(e) = email {
            if let Err(err) = send_link(state, &m, &row, &lines, "email", &e, true).await {
                tracing::warn!(error = %err, "could not queue a cart reminder e-mail");
            }
        }
        n += 1;
    }
    Ok(n)
}
