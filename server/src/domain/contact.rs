//! How a shopper can be reached outside the chat: the shapes a phone number must have. Used by
//! the hub (a shopper's `notify_me`) and by outbound messages (SMS).

/// Whether a string is a phone number in E.164 form (`+` and 8–15 digits, not starting with 0).
pub fn valid_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
}
