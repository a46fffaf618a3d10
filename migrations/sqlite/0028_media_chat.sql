-- Issue 24 part 2: photos and video calls in the chat.

-- When a photo was first sent in a message (set in the message's own transaction). A stored
-- photo never sent within a day is an orphan the clean-up job deletes (removed_reason 'unsent').
ALTER TABLE attachments ADD COLUMN sent_at BIGINT;
CREATE INDEX attachments_unsent ON attachments (status, sent_at, created_at);

-- Video calls between a conversation's shopper and its expert. The signalling itself is never
-- stored; these rows give every node the same answer to "is a call running, since when", so
-- the start and the end are recorded exactly once whichever node sees them.
CREATE TABLE calls (
    conversation_id     TEXT NOT NULL REFERENCES conversations(id),
    call_id             TEXT NOT NULL,             -- the caller's id for the call (<= 64 chars)
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    expert_id           TEXT NOT NULL,             -- who offered it
    offered_at          BIGINT NOT NULL,
    started_at          BIGINT,                    -- the first answer passed
    ended_at            BIGINT,
    duration_ms         BIGINT,
    end_reason          TEXT,                      -- ended | declined | dropped | chat_ended | replaced | failed
    touched_at          BIGINT NOT NULL,           -- last signal from either side (a resume after a drop)
    PRIMARY KEY (conversation_id, call_id)
);
CREATE INDEX calls_open ON calls (ended_at, touched_at);
