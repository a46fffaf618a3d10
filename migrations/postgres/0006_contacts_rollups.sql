-- Issue 19 (fixes): contacts after a transfer, and analytics in the merchant's time zone.

-- A shopper has one current contact: the expert who last claimed a chat with them (a transfer
-- that someone else claims moves the contact). Earlier contacts stay as history: their row is
-- kept with the time another expert took over. NULL = the current contact.
ALTER TABLE contacts ADD COLUMN superseded_at BIGINT;
UPDATE contacts SET superseded_at = (
        SELECT MIN(o.last_chat_at) FROM contacts o
        WHERE o.merchant_id = contacts.merchant_id AND o.shopper_id = contacts.shopper_id
          AND o.last_chat_at > contacts.last_chat_at)
    WHERE EXISTS (
        SELECT 1 FROM contacts o
        WHERE o.merchant_id = contacts.merchant_id AND o.shopper_id = contacts.shopper_id
          AND o.last_chat_at > contacts.last_chat_at);

-- Rollup grains that were added after events had already been rolled: rows of `grain` exist
-- for buckets from `since` (ms) on; older buckets are read from the finer grain they sum up.
-- `since` is the first whole quarter-hour after this migration (rolled by this version only).
-- The 15-minute grain ('quarter') lets reports cut hours and days at any UTC offset
-- (Asia/Tehran is UTC+3:30, Asia/Kathmandu UTC+5:45) without reading every minute.
CREATE TABLE rollup_grains (
    grain           TEXT PRIMARY KEY,
    since           BIGINT NOT NULL
);
INSERT INTO rollup_grains (grain, since) VALUES ('quarter', (CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) / 900000 + 1) * 900000);
