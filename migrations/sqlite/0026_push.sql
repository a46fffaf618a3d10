-- Web Push alerts to the store app (SQLite dialect; migrations/postgres has the same with its
-- own header). docs/push.md describes the flow. The server's VAPID key pair is one row of
-- server_keys (name 'vapid_p256'), generated on first use.

-- One row per expert and device: the Push API subscription the store app registered.
CREATE TABLE push_subscriptions (
    id              TEXT PRIMARY KEY,          -- UUIDv7
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    expert_id       TEXT NOT NULL,
    token_hash      TEXT,                      -- the store-app token that registered it (logout removes it)
    endpoint        TEXT NOT NULL UNIQUE,      -- the push service URL of this device
    p256dh          TEXT NOT NULL,             -- the device's public key (base64url, uncompressed point)
    auth            TEXT NOT NULL,             -- the device's auth secret (base64url, 16 bytes)
    lang            TEXT NOT NULL,             -- language of the notification text
    user_agent      TEXT NOT NULL,
    failures        BIGINT NOT NULL DEFAULT 0, -- failed hand-offs since the last success
    last_error      TEXT,
    last_success_at BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_expert ON push_subscriptions (merchant_id, expert_id);
CREATE INDEX push_subscriptions_token ON push_subscriptions (token_hash);

-- Every alert of an offer to one expert: its lifecycle, as far as the server can know it.
-- state: queued → handed (to the push service) | socket (delivered over a live socket)
--        → shown (the service worker reported it) → opened → claimed; or failed (reason);
--        or closed (the offer was claimed by a colleague or withdrawn before it was opened).
CREATE TABLE push_alerts (
    id              TEXT PRIMARY KEY,          -- UUIDv7; the notification reports back with it
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    expert_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    store_id        TEXT NOT NULL,
    department_id   TEXT NOT NULL,
    subscription_id TEXT NOT NULL,             -- empty for a socket alert
    outbox_id       TEXT,
    receipt         TEXT NOT NULL,             -- random; the service worker reports "shown"/"opened" with it
    channel         TEXT NOT NULL,             -- push | socket
    state           TEXT NOT NULL,
    reason          TEXT,                      -- why it failed: expired | push_service | permission | no_subscription
    detail          TEXT,
    queued_at       BIGINT NOT NULL,           -- when the chat request that caused it was queued
    created_at      BIGINT NOT NULL,
    handed_at       BIGINT,
    shown_at        BIGINT,
    opened_at       BIGINT,
    claimed_at      BIGINT,
    failed_at       BIGINT,
    closed_at       BIGINT,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX push_alerts_once ON push_alerts (conversation_id, queued_at, expert_id, channel, subscription_id);
CREATE INDEX push_alerts_merchant ON push_alerts (merchant_id, created_at);
CREATE INDEX push_alerts_expert ON push_alerts (merchant_id, expert_id, created_at);
CREATE INDEX push_alerts_conversation ON push_alerts (conversation_id);
