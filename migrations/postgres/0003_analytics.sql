-- Analytics, sales attribution, API-call log and prospect demos (PostgreSQL dialect;
-- same column types as migrations/sqlite).

-- Events not yet folded into the rollups. The rollup worker takes a batch, adds it to the
-- rollups and sets `rolled` in the same transaction, so each event counts exactly once.
ALTER TABLE events ADD COLUMN rolled BIGINT NOT NULL DEFAULT 0;
CREATE INDEX events_unrolled ON events (rolled, at);

-- Rollups per minute, hour and day (UTC) by store, department and expert ('' = none).
-- `stats` is a JSON object of counters and histograms merged by the server (see analytics.rs).
CREATE TABLE rollups (
    merchant_id     TEXT NOT NULL,
    grain           TEXT NOT NULL,             -- minute | hour | day
    bucket          BIGINT NOT NULL,           -- bucket start, ms since the epoch (UTC)
    store_id        TEXT NOT NULL,
    department_id   TEXT NOT NULL,
    expert_id       TEXT NOT NULL,
    stats           TEXT NOT NULL,
    PRIMARY KEY (merchant_id, grain, bucket, store_id, department_id, expert_id)
);

-- Orders reported by the merchant's systems. Idempotent by (merchant_id, order_id); the
-- attribution (the chat that served the shopper within the merchant's window) is decided when
-- the order is first reported and kept through later status changes.
CREATE TABLE orders (
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    order_id            TEXT NOT NULL,
    shopper_id          TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    status              TEXT NOT NULL,
    placed_at           BIGINT NOT NULL,
    conversation_id     TEXT,
    store_id            TEXT,
    department_id       TEXT,
    expert_id           TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, order_id)
);
CREATE INDEX orders_shopper ON orders (merchant_id, shopper_id, placed_at);
CREATE INDEX orders_conversation ON orders (conversation_id);

-- Requests made with merchant API keys, for the Integrations log.
CREATE TABLE api_calls (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    api_key_id      TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status          BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX api_calls_merchant_time ON api_calls (merchant_id, at);

-- The operator's demos for prospects: the widget dressed as the prospect's brand over a page
-- that looks like their site, connected to a store of a chosen merchant.
CREATE TABLE demos (
    id                  TEXT PRIMARY KEY,
    slug                TEXT NOT NULL UNIQUE,
    prospect_name       TEXT NOT NULL,
    website             TEXT,
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    store_id            TEXT,
    primary_color       TEXT NOT NULL,
    background_color    TEXT NOT NULL,
    logo                TEXT,                  -- data: URL (PNG, JPEG, WebP or SVG), at most 200 KB
    greeting            TEXT,
    screenshot          TEXT,                  -- base64 of the image, at most 3 MB decoded
    screenshot_type     TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
