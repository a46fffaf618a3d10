//! The webhook events in the OpenAPI document. The events themselves (types, payloads, the
//! outbox row each becomes) are storage's, which writes them with the change they announce:
//! `storage/outbox/events.rs`, re-exported here.

pub use crate::storage::events::*;

/// Each event's `data` schema.
fn data_schema(kind: EventType) -> &'static str {
    match kind {
        EventType::ConversationRequested
        | EventType::ConversationClaimed
        | EventType::ConversationEnded
        | EventType::ConversationMissed => "ConversationData",
        EventType::ConversationTransferred => "TransferData",
        EventType::ConversationRated => "RatedData",
        EventType::OfflineMessageCreated => "OfflineMessageData",
        EventType::ShopperIdentified => "ShopperData",
        EventType::MessageCreated => "MessageData",
        EventType::CartSent => "CartData",
        EventType::OrderUpdated => "OrderData",
        EventType::WebhookTest => "TestData",
    }
}

fn add_schema<T: utoipa::ToSchema>(c: &mut utoipa::openapi::Components) {
    let mut deps = Vec::new();
    T::schemas(&mut deps);
    for (name, s) in deps {
        c.schemas.insert(name, s);
    }
    c.schemas.insert(T::name().into_owned(), T::schema());
}

/// Add the OpenAPI 3.1 `webhooks` section: one entry per event type, its body schema and the
/// Standard Webhooks headers (utoipa has no `webhooks` field, so it goes in as a top-level key).
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    let c = openapi.components.get_or_insert_with(Default::default);
    add_schema::<ConversationData>(c);
    add_schema::<TransferData>(c);
    add_schema::<RatedData>(c);
    add_schema::<OfflineMessageData>(c);
    add_schema::<ShopperData>(c);
    add_schema::<MessageData>(c);
    add_schema::<CartData>(c);
    add_schema::<OrderData>(c);
    add_schema::<TestData>(c);
    let header = |name: &str, description: &str| serde_json::json!({"name": name, "in": "header", "required": true, "description": description, "schema": {"type": "string"}});
    let mut hooks = serde_json::Map::new();
    for kind in EventType::ALL {
        let body = serde_json::json!({
            "type": "object",
            "required": ["type", "timestamp", "merchant_id", "data"],
            "properties": {
                "type": {"type": "string", "const": kind.as_str()},
                "timestamp": {"type": "string", "format": "date-time", "description": "When it happened (UTC)."},
                "merchant_id": {"type": "string"},
                "data": {"$ref": format!("#/components/schemas/{}", data_schema(kind))}
            }
        });
        hooks.insert(
            kind.as_str().into(),
            serde_json::json!({"post": {
                "summary": kind.as_str(),
                "description": format!("{} Signed the Standard Webhooks way: see docs/webhooks.md.", kind.description()),
                "tags": ["webhooks"],
                "parameters": [
                    header("webhook-id", "The event's id (msg_…): the same on every attempt and redelivery; dedupe by it."),
                    header("webhook-timestamp", "This attempt's time, unix seconds; reject if far from your clock."),
                    header("webhook-signature", "Space-separated `v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`; one matching signature suffices.")
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": body}}},
                "responses": {
                    "2XX": {"description": "Received. Anything else (or no answer within 15 s) is retried with backoff for a day; 410 disables the endpoint."}
                }
            }}),
        );
    }
    openapi
        .extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), serde_json::Value::Object(hooks));
}
