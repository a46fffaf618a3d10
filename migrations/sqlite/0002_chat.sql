-- Chat hub schema (SQLite dialect; migrations/postgres has the same with its own header).
-- Conversations are the unit of routing and claiming; messages carry a per-conversation
-- sequence number assigned in the same transaction that stores them.

-- Cluster-wide secrets (e.g. the key that signs shopper tokens), created on first start.
CREATE TABLE server_keys (
    name            TEXT PRIMARY KEY,
    value           TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- Per-merchant secret for the widget's identify() signatures.
ALTER TABLE merchants ADD COLUMN identity_secret TEXT NOT NULL DEFAULT '';

-- status: queued -> offered -> claimed -> ended | missed | abandoned.
-- A claim is `UPDATE ... SET expert_id = $me WHERE expert_id IS NULL AND status IN (queued, offered)`.
CREATE TABLE conversations (
    id                  TEXT PRIMARY KEY,
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    shopper_id          TEXT NOT NULL REFERENCES shoppers(id),
    store_id            TEXT NOT NULL,
    department_id       TEXT NOT NULL,
    status              TEXT NOT NULL,
    expert_id           TEXT,
    contact_expert_id   TEXT,                  -- offered to this expert alone at first
    target_expert_id    TEXT,                  -- transferred to a named expert
    offline             BIGINT NOT NULL DEFAULT 0,
    offline_email       TEXT,
    offline_name        TEXT,
    page_url            TEXT,
    page_title          TEXT,
    product_json        TEXT,
    transfer_note       TEXT,
    transfers           BIGINT NOT NULL DEFAULT 0,
    last_seq            BIGINT NOT NULL DEFAULT 0,
    shopper_read_seq    BIGINT NOT NULL DEFAULT 0,
    expert_read_seq     BIGINT NOT NULL DEFAULT 0,
    rating              BIGINT,
    rating_comment      TEXT,
    created_at          BIGINT NOT NULL,
    queued_at           BIGINT NOT NULL,       -- when it (re)entered the queue
    last_offer_at       BIGINT,
    claimed_at          BIGINT,
    first_response_at   BIGINT,
    last_expert_msg_at  BIGINT,
    ended_at            BIGINT,
    ended_by            TEXT
);
CREATE INDEX conversations_waiting ON conversations (status, queued_at);
CREATE INDEX conversations_shopper ON conversations (merchant_id, shopper_id, created_at);
CREATE INDEX conversations_expert ON conversations (expert_id, status);
CREATE INDEX conversations_merchant_time ON conversations (merchant_id, created_at);

CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq             BIGINT NOT NULL,
    id              TEXT NOT NULL,
    merchant_id     TEXT NOT NULL,
    client_msg_id   TEXT,
    author_role     TEXT NOT NULL,             -- shopper | expert | system
    expert_id       TEXT,
    kind            TEXT NOT NULL,             -- text | product | system
    body            TEXT NOT NULL,
    data_json       TEXT,                      -- product card or system-message data
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
-- Idempotent sends: one message per client id in a conversation.
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_msg_id);
CREATE INDEX messages_merchant_time ON messages (merchant_id, created_at);

-- Facts for analytics, written off the message path in batches.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    at              BIGINT NOT NULL,
    shopper_id      TEXT,
    store_id        TEXT,
    department_id   TEXT,
    expert_id       TEXT,
    conversation_id TEXT,
    value           BIGINT,                    -- e.g. wait in ms, rating score
    data_json       TEXT
);
CREATE INDEX events_merchant_time ON events (merchant_id, at);
CREATE INDEX events_shopper ON events (merchant_id, shopper_id, at);

-- The expert's own working state, kept across reconnects: available/away, their own chat cap
-- (never above the merchant's max_chats), and the stores/departments they work now.
ALTER TABLE experts ADD COLUMN presence_json TEXT NOT NULL DEFAULT '{}';
