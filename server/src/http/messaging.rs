//! Settings → Messaging: the e-mail sender (name, address, reply-to), the SMS gateway
//! (Twilio-style; its auth token is written, never read back) and when a shopper who left a
//! chat is e-mailed the expert's unread messages.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{modules::Settings, JsonBody, Merchant};
use super::AppState;
use crate::config::Secret;
use crate::domain::Problems;
use crate::outbound::{parse_address, sms, ssrf};
use crate::storage::Messaging;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_messaging, put_messaging))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagingSettings {
    /// The name shoppers see as the sender of e-mail.
    pub sender_name: String,
    /// The sender address; none: the platform's address (with `sender_name`). Use an address
    /// the platform's SMTP server may send for.
    pub sender_address: Option<String>,
    /// Where shoppers' replies to e-mail go.
    pub reply_to: Option<String>,
    pub sms: SmsGateway,
    /// E-mail a shopper the expert's unread messages once they have been away from an open chat
    /// this many minutes (0: never).
    pub away_email_after_min: i64,
}

/// A Twilio-style SMS gateway.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsGateway {
    pub enabled: bool,
    /// e.g. `https://api.twilio.com`; any gateway with the same REST shape works.
    pub base_url: String,
    pub account_sid: String,
    /// Write-only: send a new token to change it, leave it out (or null) to keep the stored one.
    /// Never sent back (answers say `auth_token_set`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(write_only)]
    pub auth_token: Option<String>,
    /// Read-only: whether a token is stored.
    #[serde(default)]
    #[schema(read_only)]
    pub auth_token_set: bool,
    /// Sender number (E.164) or alphanumeric sender id.
    pub from: String,
}

fn view(s: &Messaging) -> MessagingSettings {
    MessagingSettings {
        sender_name: s.sender_name.clone(),
        sender_address: s.sender_address.clone(),
        reply_to: s.reply_to.clone(),
        sms: SmsGateway {
            enabled: s.sms_enabled,
            base_url: s.sms_base_url.clone(),
            account_sid: s.sms_account_sid.clone(),
            auth_token: None,
            auth_token_set: !s.sms_auth_token.expose().is_empty(),
            from: s.sms_from.clone(),
        },
        away_email_after_min: s.away_email_after_min,
    }
}

#[utoipa::path(get, path = "/settings/messaging", tag = "settings",
    responses((status = 200, body = MessagingSettings), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("session" = [])))]
async fn get_messaging(State(state): State<AppState>, m: Merchant<Settings>) -> ApiResult<Json<MessagingSettings>> {
    Ok(Json(view(&state.db.messaging(&m.id).await?)))
}

/// Replace the messaging settings.
#[utoipa::path(put, path = "/settings/messaging", tag = "settings", request_body = MessagingSettings,
    responses((status = 200, body = MessagingSettings), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn put_messaging(
    State(state): State<AppState>,
    m: Merchant<Settings>,
    JsonBody(req): JsonBody<MessagingSettings>,
) -> ApiResult<Json<MessagingSettings>> {
    let cur = state.db.messaging(&m.id).await?;
    let mut p = Problems::new();
    p.text("sender_name", &req.sender_name, 80);
    p.check(
        !req.sender_name.contains(['<', '>', '"', '\r', '\n']),
        "sender_name",
        "must not contain < > \" or line breaks",
    );
    let address = |p: &mut Problems, field: &str, v: &Option<String>| -> Option<String> {
        let v = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
        let parsed = parse_address(v);
        p.check(parsed.is_some(), field, "must be an e-mail address");
        parsed
    };
    let sender_address = address(&mut p, "sender_address", &req.sender_address);
    let reply_to = address(&mut p, "reply_to", &req.reply_to);
    p.check(
        (0..=1440).contains(&req.away_email_after_min),
        "away_email_after_min",
        "must be 0–1440 minutes",
    );
    let g = &req.sms;
    let token = match g.auth_token.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Secret::new(t),
        _ => cur.sms_auth_token.clone(),
    };
    p.check(
        g.account_sid.chars().count() <= 100,
        "sms.account_sid",
        "must be at most 100 characters",
    );
    p.check(
        token.expose().chars().count() <= 200,
        "sms.auth_token",
        "must be at most 200 characters",
    );
    if let Err(why) = ssrf::check_url(&g.base_url, state.outbound.allow_private()) {
        p.add("sms.base_url", why);
    }
    let from_ok = g.from.is_empty()
        || sms::valid_e164(&g.from)
        || (g.from.len() <= 11 && g.from.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '));
    p.check(
        from_ok,
        "sms.from",
        "must be a number like +46701234567 or a sender name of up to 11 letters",
    );
    if g.enabled {
        p.check(!g.account_sid.trim().is_empty(), "sms.account_sid", "required when SMS is on");
        p.check(!token.expose().is_empty(), "sms.auth_token", "required when SMS is on");
        p.check(!g.from.trim().is_empty(), "sms.from", "required when SMS is on");
    }
    p.into_result().map_err(ApiError::Validation)?;
    let s = Messaging {
        sender_name: req.sender_name.trim().to_owned(),
        sender_address,
        reply_to,
        sms_enabled: g.enabled,
        sms_base_url: g.base_url.trim().trim_end_matches('/').to_owned(),
        sms_account_sid: g.account_sid.trim().to_owned(),
        sms_auth_token: token,
        sms_from: g.from.trim().to_owned(),
        away_email_after_min: req.away_email_after_min,
    };
    state.db.set_messaging(&m.id, &s).await?;
    Ok(Json(view(&s)))
}
