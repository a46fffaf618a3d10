-- Floorwalker foundation schema (SQLite dialect).
-- Conventions shared with migrations/postgres: ids are TEXT (UUIDv7 so they sort by creation,
-- or random public ids for merchants and shoppers), times are BIGINT unix milliseconds, flags are
-- INTEGER 0/1 and small structured settings are JSON TEXT. Keeping the column types identical in
-- both dialects lets one set of queries (server/src/storage) run on either backend.

-- A retailer. `id` is the public Merchant ID: random, unguessable, issued by the server.
CREATE TABLE merchants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    invite_code     TEXT NOT NULL UNIQUE,      -- experts sign up with it in the store app
    display_json    TEXT NOT NULL,             -- Manage Display + branding
    routing_json    TEXT NOT NULL,             -- routing timeouts
    origins_json    TEXT NOT NULL,             -- allowed site origins for the widget
    active          BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE stores (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    name            TEXT NOT NULL,
    address_json    TEXT NOT NULL,             -- street, city, postal code, country
    timezone        TEXT NOT NULL,             -- IANA name, validated on write
    hours_json      TEXT NOT NULL,             -- weekly opening hours
    exceptions_json TEXT NOT NULL,             -- date exceptions (holidays, late openings)
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX stores_merchant ON stores (merchant_id, id);

CREATE TABLE departments (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    store_id        TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (store_id, name)
);
CREATE INDEX departments_merchant ON departments (merchant_id, store_id);

-- Store staff who chat. status: pending -> approved <-> deactivated.
CREATE TABLE experts (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    status          TEXT NOT NULL,
    features_json   TEXT NOT NULL,             -- per-expert store-app switches (contacts, ...)
    max_chats       BIGINT NOT NULL DEFAULT 3,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX experts_merchant ON experts (merchant_id, status, id);

CREATE TABLE expert_stores (
    expert_id       TEXT NOT NULL REFERENCES experts(id) ON DELETE CASCADE,
    store_id        TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    merchant_id     TEXT NOT NULL,
    PRIMARY KEY (expert_id, store_id)
);
CREATE TABLE expert_departments (
    expert_id       TEXT NOT NULL REFERENCES experts(id) ON DELETE CASCADE,
    department_id   TEXT NOT NULL REFERENCES departments(id) ON DELETE CASCADE,
    merchant_id     TEXT NOT NULL,
    PRIMARY KEY (expert_id, department_id)
);

-- Dashboard logins. role 'operator' spans merchants (merchant_id NULL); role 'merchant' belongs
-- to exactly one merchant and may open the modules listed in modules_json.
CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT REFERENCES merchants(id),
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    modules_json    TEXT NOT NULL,
    active          BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX accounts_merchant ON accounts (merchant_id, id);

-- Dashboard sessions; the cookie holds a random token, the table only its SHA-256.
CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    csrf_token      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Store-app bearer tokens (also presented on the experts' WebSocket).
CREATE TABLE expert_tokens (
    token_hash      TEXT PRIMARY KEY,
    expert_id       TEXT NOT NULL REFERENCES experts(id) ON DELETE CASCADE,
    merchant_id     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX expert_tokens_expert ON expert_tokens (expert_id);

-- Anonymous visitors. `id` is the public Shopper ID, issued by the server on first contact.
CREATE TABLE shoppers (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    name            TEXT,
    email           TEXT,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL
);
CREATE INDEX shoppers_merchant ON shoppers (merchant_id, id);

-- An expert's relationship with a shopper they served (filled by the chat hub).
CREATE TABLE contacts (
    merchant_id     TEXT NOT NULL,
    expert_id       TEXT NOT NULL REFERENCES experts(id) ON DELETE CASCADE,
    shopper_id      TEXT NOT NULL REFERENCES shoppers(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_chat_at    BIGINT NOT NULL,
    PRIMARY KEY (expert_id, shopper_id)
);
CREATE INDEX contacts_shopper ON contacts (merchant_id, shopper_id);

CREATE TABLE saved_replies (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    shortcut        TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (merchant_id, shortcut)
);

-- Server-to-server credentials. The secret is shown once; only its SHA-256 is kept.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,             -- first characters, to recognise a key in lists
    secret_hash     TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, id);
