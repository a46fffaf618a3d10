-- Photos in the chat (PostgreSQL dialect; same column types as migrations/sqlite).
-- The bytes live outside the database (a folder next to the SQLite file, or S3-compatible
-- object storage); these rows say what exists, who may see it and when it goes.

-- One uploaded image: the re-encoded full size and its thumbnail. Rows are written `pending`
-- before the files and set `stored` after both files are durable, so a crash between the two
-- leaves a pending row whose files the clean-up job deletes (never a file nobody knows of).
-- Retention and clean-up delete the files and keep the row as `removed`, so a chat can say
-- "photo removed after N days".
CREATE TABLE attachments (
    id                  TEXT PRIMARY KEY,          -- UUIDv7; also names the stored files
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    conversation_id     TEXT NOT NULL REFERENCES conversations(id),
    uploader_role       TEXT NOT NULL,             -- shopper | expert
    uploader_id         TEXT NOT NULL,             -- the Shopper ID or the expert's id
    client_upload_id    TEXT NOT NULL,             -- the client's Idempotency-Key
    content_sha256      TEXT NOT NULL,             -- of the bytes as sent: a reused key with other bytes is a conflict
    status              TEXT NOT NULL,             -- pending | stored | removed
    mime                TEXT NOT NULL,             -- of both stored variants: image/jpeg or image/png
    width               BIGINT NOT NULL,
    height              BIGINT NOT NULL,
    bytes               BIGINT NOT NULL,
    thumb_width         BIGINT NOT NULL,
    thumb_height        BIGINT NOT NULL,
    thumb_bytes         BIGINT NOT NULL,
    original_mime       TEXT NOT NULL,             -- what the client sent (image/jpeg, image/png, image/webp)
    original_bytes      BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    stored_at           BIGINT,
    removed_at          BIGINT,
    removed_reason      TEXT,                      -- retention | abandoned (a pending upload that never finished)
    removed_after_days  BIGINT                     -- the retention in force when it was removed
);
-- The same client upload id never stores twice (per conversation and uploader).
CREATE UNIQUE INDEX attachments_client_id ON attachments (conversation_id, uploader_role, uploader_id, client_upload_id);
-- Retention and clean-up walk stored and pending rows by age.
CREATE INDEX attachments_status_time ON attachments (status, created_at);
CREATE INDEX attachments_merchant_time ON attachments (merchant_id, created_at);

-- The merchant's photo rules (Settings). No row means the defaults: shoppers may not upload,
-- photos are kept 90 days.
CREATE TABLE attachment_settings (
    merchant_id         TEXT PRIMARY KEY REFERENCES merchants(id),
    shopper_uploads     BIGINT NOT NULL DEFAULT 0,
    retention_days      BIGINT NOT NULL DEFAULT 90,
    updated_at          BIGINT NOT NULL
);
