//! Parsed, validated shapes of merchant data. Everything here is plain data plus the rules
//! that make it valid; nothing here knows about HTTP or SQL.

pub mod contact;
pub mod conversation;
pub mod hours;
pub mod settings;
pub mod stats;
pub mod team;

use serde::Serialize;

/// One field that failed validation, reported to the client as-is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the offending field, e.g. `hours.monday[0].open`.
    pub field: String,
    pub message: String,
}

/// Collects field errors so a client sees all of them at once.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }
    /// Require a trimmed, non-empty text of at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        let t = value.trim();
        if t.is_empty() {
            self.add(field, "must not be empty");
        } else if t.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }
    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Normalise an email address for lookups and uniqueness.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A deliberately loose check: one `@`, something on both sides, a dot in the domain.
pub fn plausible_email(email: &str) -> bool {
    let e = email.trim();
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.contains(char::is_whitespace)
                && e.len() <= 254
                && !domain.contains('@')
        }
        None => false,
    }
}

pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn check_password(p: &mut Problems, field: &str, password: &str) {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        p.add(field, format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    } else if n > 256 {
        p.add(field, "must be at most 256 characters");
    }
}
