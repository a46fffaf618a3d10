-- The oldest waiting chats are picked from the index alone: it carries the id (the order's
-- tie-break) and the merchant, so a routing pass reads the few rows it offers, not every
-- waiting one. It replaces the (status, queued_at) index, of which it is an extension.
DROP INDEX conversations_waiting;
CREATE INDEX conversations_waiting ON conversations (status, queued_at, id, merchant_id);
