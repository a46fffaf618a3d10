-- The periodic pass that e-mails an expert's unread answers (server/src/outbound/hooks.rs) only
-- looks at conversations with an address to write to. Its index held every conversation, so
-- every expert message moved an entry in it (last_expert_msg_at changes): a page written per
-- message for nothing. Now it holds only the conversations the pass can act on.
DROP INDEX conversations_answered;
CREATE INDEX conversations_answered ON conversations (status, last_expert_msg_at)
    WHERE notify_email IS NOT NULL OR offline_email IS NOT NULL;
