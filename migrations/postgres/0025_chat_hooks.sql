-- (PostgreSQL dialect: the same columns as the SQLite file.)
-- The chat's own events reaching people outside the chat (issue 21 part 2).
--
-- How a shopper who is not in the chat any more can be reached, and since when they are away:
-- the periodic pass in server/src/outbound/hooks.rs e-mails an expert's unread answers (an
-- offline message answered, or a shopper who left mid-chat) and sends the "your expert
-- answered" SMS from these columns.
ALTER TABLE conversations ADD COLUMN shopper_locale TEXT;      -- the widget's language when the chat began
ALTER TABLE conversations ADD COLUMN notify_email TEXT;        -- an address the shopper gave to hear of answers while away (consent)
ALTER TABLE conversations ADD COLUMN notify_phone TEXT;        -- E.164, for the "your expert answered" SMS
ALTER TABLE conversations ADD COLUMN shopper_away_since BIGINT; -- the shopper's last socket closed then; NULL while connected
CREATE INDEX conversations_answered ON conversations (status, last_expert_msg_at);
