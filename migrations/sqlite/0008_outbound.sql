-- Outbound messages: e-mail, SMS and signed webhooks through a transactional outbox
-- (SQLite dialect; the PostgreSQL file has the same tables and column types).
--
-- A message to send is a row of `outbox`, written in the same transaction as the change that
-- causes it. Workers on any node claim due rows (a lease), deliver them and record each attempt
-- in `outbox_attempts`. server/src/storage/outbox.rs explains the states and the exactly-once
-- reasoning; docs/webhooks.md the webhook side.

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,          -- UUIDv7
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    kind            TEXT NOT NULL,             -- email | sms | webhook
    template        TEXT NOT NULL,             -- e-mail/SMS template, or the webhook event type
    idempotency_key TEXT NOT NULL UNIQUE,      -- the same cause never enqueues twice
    recipient       TEXT NOT NULL,             -- address, phone number (E.164) or endpoint URL
    endpoint_id     TEXT,                      -- webhooks: the endpoint
    conversation_id TEXT,                      -- the chat it is about, when there is one
    message_id      TEXT NOT NULL,             -- e-mail Message-ID / webhook-id: same on every attempt
    subject         TEXT,                      -- e-mail subject
    body_text       TEXT,                      -- rendered plain text (e-mail, SMS)
    body_html       TEXT,                      -- rendered HTML (e-mail)
    payload_json    TEXT NOT NULL,             -- webhook: the exact body sent; e-mail: headers, language
    transactional   BIGINT NOT NULL DEFAULT 1, -- 0: carries an unsubscribe link, stops on unsubscribe
    order_key       TEXT,                      -- rows with the same key are delivered in order_seq order
    order_seq       BIGINT NOT NULL DEFAULT 0,
    status          TEXT NOT NULL,             -- queued | sending | sent | failed | dead
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    give_up_at      BIGINT NOT NULL,           -- no attempt starts after this: the row goes dead
    lease_owner     TEXT,                      -- the worker holding a 'sending' row
    lease_until     BIGINT,                    -- another worker may take the row after this
    handoff_at      BIGINT,                    -- e-mail/SMS: when the last attempt started handing the
                                               -- message over; a crash after this is not retried
    unconfirmed     BIGINT NOT NULL DEFAULT 0, -- sent, but the receiving server never confirmed
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_merchant ON outbox (merchant_id, id);
CREATE INDEX outbox_endpoint ON outbox (endpoint_id, id);
CREATE INDEX outbox_recipient ON outbox (merchant_id, recipient, created_at);
CREATE UNIQUE INDEX outbox_order ON outbox (order_key, order_seq);

-- One row per delivery attempt: what the other side answered and how long it took.
CREATE TABLE outbox_attempts (
    id              TEXT PRIMARY KEY,
    outbox_id       TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    merchant_id     TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    ok              BIGINT NOT NULL,
    status_code     BIGINT,                    -- HTTP status or SMTP reply code
    latency_ms      BIGINT NOT NULL,
    response        TEXT,                      -- the first 1,000 characters of the answer
    error           TEXT
);
CREATE INDEX outbox_attempts_row ON outbox_attempts (outbox_id, attempt);

-- Merchants' webhook endpoints. The secret (whsec_…) must be kept to sign; it is shown once on
-- creation and on rotation. After a rotation the previous secret also signs for a day.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    events_json     TEXT NOT NULL,             -- event types it receives
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  BIGINT,
    enabled         BIGINT NOT NULL DEFAULT 1,
    disabled_reason TEXT,                      -- set when the platform disabled it
    failing_since   BIGINT,                    -- first failure since the last success
    last_success_at BIGINT,
    last_failure_at BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, id);

-- Addresses not to write to: hard bounces and permanent failures (everything), unsubscribes
-- (non-transactional mail only).
CREATE TABLE suppressed_addresses (
    merchant_id     TEXT NOT NULL,
    channel         TEXT NOT NULL,             -- email | sms
    address         TEXT NOT NULL,             -- lower-case e-mail address or E.164 number
    reason          TEXT NOT NULL,             -- bounce | unsubscribe
    detail          TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, channel, address)
);

-- Per merchant: the e-mail sender, the SMS gateway (Twilio-style REST) and the unread-message
-- e-mail delay. The gateway token is a secret: written, never read back through the API.
CREATE TABLE merchant_messaging (
    merchant_id     TEXT PRIMARY KEY REFERENCES merchants(id),
    sender_name     TEXT NOT NULL,
    sender_address  TEXT,                      -- none: the platform's address
    reply_to        TEXT,
    sms_enabled     BIGINT NOT NULL DEFAULT 0,
    sms_base_url    TEXT NOT NULL,
    sms_account_sid TEXT NOT NULL,
    sms_auth_token  TEXT NOT NULL,
    sms_from        TEXT NOT NULL,
    away_email_after_min BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL
);
