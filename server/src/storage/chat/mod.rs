//! Conversations, messages, contacts and events: the chat hub's durable state, one file per
//! subject.
//!
//! The database is the source of truth. The two operations that must be exactly-once are
//! single statements: a claim is one conditional UPDATE ([`conversations`]), and a message's
//! sequence number is taken by incrementing the conversation's `last_seq` in the same
//! transaction that stores the message ([`append`]).

mod append;
mod contacts;
mod conversations;
mod events;
mod hooks;
mod keys;
mod messages;

pub use crate::domain::conversation::ConversationStatus;
pub use append::Appended;
pub use contacts::ContactRow;
pub(crate) use conversations::CONV_SELECT;
pub use conversations::{Claim, ConversationRow, NewConversation};
pub use events::Event;
use hooks::Change;
pub use hooks::{ChatHooks, Reach, Unanswered};

use messages::*;
pub use messages::{AppendOutcome, NewMessage, ReadMark, Sender, StoredMessage};
