-- Selling in the chat (issue 22; SQLite dialect, migrations/postgres has the same with its own
-- header and its own full-text index).

-- The merchant's product catalogue: what experts search in the store app and put in carts.
-- Money in minor units of the currency (ISO 4217); VAT rates in basis points (2500 = 25 %).
-- `search_text` is the SKU, GTIN and name folded to ASCII lower case with every other
-- character a space (written by the server), what full-text search indexes.
CREATE TABLE products (
    id              TEXT PRIMARY KEY,              -- UUIDv7
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    sku             TEXT NOT NULL,
    sku_key         TEXT NOT NULL,                 -- the SKU folded (exact hits, whatever the case)
    name            TEXT NOT NULL,
    description     TEXT,
    price_minor     BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    vat_bp          BIGINT NOT NULL,
    image_url       TEXT,
    product_url     TEXT,
    gtin            TEXT,
    stock_json      TEXT,                          -- {"store id": quantity} or NULL
    active          BIGINT NOT NULL DEFAULT 1,
    search_text     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX products_sku ON products (merchant_id, sku);
CREATE INDEX products_sku_key ON products (merchant_id, sku_key);
CREATE INDEX products_gtin ON products (merchant_id, gtin);

-- Per merchant: how "Pay" reaches the merchant's checkout (docs/commerce.md). No row = off.
CREATE TABLE checkout_settings (
    merchant_id         TEXT PRIMARY KEY REFERENCES merchants(id),
    mode                TEXT NOT NULL,             -- off | hosted | permalink
    checkout_url        TEXT,
    shop_url            TEXT,
    permalink_endpoint  TEXT,
    discovered_at       BIGINT,
    link_hours          BIGINT NOT NULL,
    reminder_hours      BIGINT,
    default_vat_bp      BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

-- A cart an expert sent in a chat. Lines are copies: later catalogue changes never alter a
-- sent cart. status: quote | awaiting_payment | paid | cancelled | expired | replaced.
CREATE TABLE carts (
    id                  TEXT PRIMARY KEY,          -- UUIDv7
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    conversation_id     TEXT NOT NULL REFERENCES conversations(id),
    shopper_id          TEXT NOT NULL,
    expert_id           TEXT,
    store_id            TEXT NOT NULL,
    status              TEXT NOT NULL,
    checkout_mode       TEXT NOT NULL,             -- hosted | permalink | off
    currency            TEXT NOT NULL,
    items               BIGINT NOT NULL,
    total_minor         BIGINT NOT NULL,
    quote_valid_until   BIGINT,                    -- end of the quote's last day (ms)
    expires_at          BIGINT NOT NULL,
    replaces            TEXT,
    replaced_by         TEXT,
    order_id            TEXT,
    message_seq         BIGINT,
    reminder_at         BIGINT,                    -- when the unpaid-cart reminder went out
    paid_at             BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX carts_conversation ON carts (conversation_id, created_at);
CREATE INDEX carts_merchant_time ON carts (merchant_id, created_at);
CREATE INDEX carts_open ON carts (status, expires_at);

CREATE TABLE cart_lines (
    cart_id             TEXT NOT NULL REFERENCES carts(id),
    pos                 BIGINT NOT NULL,
    merchant_id         TEXT NOT NULL,
    sku                 TEXT,                      -- NULL for a free-text line
    product_id          TEXT,
    name                TEXT NOT NULL,
    image_url           TEXT,
    product_url         TEXT,
    quantity            BIGINT NOT NULL,
    unit_minor          BIGINT NOT NULL,
    original_minor      BIGINT,                    -- the catalogue price when overridden
    vat_bp              BIGINT NOT NULL,
    PRIMARY KEY (cart_id, pos)
);
CREATE INDEX cart_lines_sku ON cart_lines (merchant_id, sku);

-- Orders: from a cart, and their handling stage (new -> in_progress -> shipped -> completed;
-- cancelled, refunded), with history and internal notes.
ALTER TABLE orders ADD COLUMN cart_id TEXT;
ALTER TABLE orders ADD COLUMN stage TEXT NOT NULL DEFAULT 'new';
ALTER TABLE orders ADD COLUMN carrier TEXT;
ALTER TABLE orders ADD COLUMN tracking_number TEXT;
ALTER TABLE orders ADD COLUMN tracking_url TEXT;
CREATE INDEX orders_merchant_time ON orders (merchant_id, placed_at);
CREATE INDEX orders_cart ON orders (cart_id);

CREATE TABLE order_history (
    id                  TEXT PRIMARY KEY,          -- UUIDv7
    merchant_id         TEXT NOT NULL,
    order_id            TEXT NOT NULL,
    at                  BIGINT NOT NULL,
    stage               TEXT NOT NULL,
    actor_kind          TEXT NOT NULL,             -- account | api_key | system
    actor_id            TEXT,
    carrier             TEXT,
    tracking_number     TEXT,
    tracking_url        TEXT
);
CREATE INDEX order_history_order ON order_history (merchant_id, order_id, at);

CREATE TABLE order_notes (
    id                  TEXT PRIMARY KEY,          -- UUIDv7
    merchant_id         TEXT NOT NULL,
    order_id            TEXT NOT NULL,
    at                  BIGINT NOT NULL,
    author_kind         TEXT NOT NULL,             -- account | api_key
    author_id           TEXT,
    body                TEXT NOT NULL
);
CREATE INDEX order_notes_order ON order_notes (merchant_id, order_id, at);

-- Full-text search over search_text (external content: the products table's rowid).
CREATE VIRTUAL TABLE products_fts USING fts5(search_text, content='products', content_rowid='rowid', tokenize='unicode61');
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO products_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
