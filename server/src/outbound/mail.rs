//! E-mail and SMS templates: one per kind (plain text and HTML), in the six languages the
//! widget speaks (right-to-left for Persian), dressed in the merchant's branding.
//!
//! Templates live in `server/templates/mail/` and are compiled into the binary. MiniJinja
//! escapes every value in the `.html` templates (auto-escape by file name), so a shopper's
//! message or a merchant's name can never inject markup. Strings come from
//! `templates/mail/i18n/<lang>.json` through `tr("key", name=value)`. Adding a kind (a
//! payment link, an order status) is one `<kind>.html`, one `<kind>.txt`, a `subject.<kind>`
//! string per language and a [`MailKind`] variant.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::value::Kwargs;
use minijinja::{Environment, State, Value};
use serde::Serialize;

use crate::domain::settings::{DisplaySettings, LANGUAGES};

/// The kinds of e-mail the platform sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// An expert answered a message left through the offline form.
    OfflineReply,
    /// The shopper left mid-chat; the expert's unread messages.
    UnreadMessages,
    /// The shopper asked for the chat by e-mail.
    Transcript,
    /// A merchant invites staff to the store app.
    Invitation,
    /// A cart's payment link the shopper asked for (or its one reminder), issue 22.
    CartLink,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::OfflineReply => "offline_reply",
            MailKind::UnreadMessages => "unread_messages",
            MailKind::Transcript => "transcript",
            MailKind::Invitation => "invitation",
            MailKind::CartLink => "cart_link",
        }
    }

    /// Mail the recipient did not ask for carries an unsubscribe link, and an unsubscribe
    /// stops it. Replies and transcripts the shopper asked for are transactional.
    pub fn transactional(self) -> bool {
        matches!(self, MailKind::OfflineReply | MailKind::Transcript | MailKind::CartLink)
    }
}

/// The merchant's branding as a template uses it.
#[derive(Debug, Clone, Serialize)]
pub struct Branding {
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
    /// Black or white, whichever reads better on `color`.
    pub text_color: String,
    /// Absolute https URL, or none.
    pub logo_url: Option<String>,
}

impl Branding {
    /// From the display settings; a site-relative logo is made absolute with `base`.
    pub fn from_display(d: &DisplaySettings, fallback_name: &str, base: &str) -> Branding {
        let name = if d.brand_name.trim().is_empty() {
            fallback_name
        } else {
            d.brand_name.trim()
        };
        let logo_url = d.logo_url.as_ref().map(|l| {
            if l.starts_with('/') {
                format!("{}{l}", base.trim_end_matches('/'))
            } else {
                l.clone()
            }
        });
        Branding {
            name: name.to_owned(),
            color: d.primary_color.clone(),
            text_color: readable_on(&d.primary_color).into(),
            logo_url,
        }
    }
}

/// Black or white text for a `#rrggbb` background (WCAG relative luminance).
pub fn readable_on(hex: &str) -> &'static str {
    let channel = |i: usize| {
        let v = u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0) as f64 / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    if l > 0.4 {
        "#111111"
    } else {
        "#ffffff"
    }
}

/// One chat message as a mail lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MailMessage {
    pub author: String,
    pub time: String,
    pub body: String,
    /// Written by the recipient (shown differently).
    pub mine: bool,
}

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

type Strings = BTreeMap<String, String>;

fn catalogue() -> &'static BTreeMap<&'static str, Strings> {
    static C: OnceLock<BTreeMap<&'static str, Strings>> = OnceLock::new();
    C.get_or_init(|| {
        let raw: [(&str, &str); 6] = [
            ("en", include_str!("../../templates/mail/i18n/en.json")),
            ("sv", include_str!("../../templates/mail/i18n/sv.json")),
            ("de", include_str!("../../templates/mail/i18n/de.json")),
            ("el", include_str!("../../templates/mail/i18n/el.json")),
            ("cs", include_str!("../../templates/mail/i18n/cs.json")),
            ("fa", include_str!("../../templates/mail/i18n/fa.json")),
        ];
        raw.into_iter()
            .map(|(l, s)| (l, serde_json::from_str(s).expect("mail strings are valid JSON")))
            .collect()
    })
}

/// A supported language for `wanted` (a code like `sv` or `sv-SE`), else English.
pub fn language(wanted: Option<&str>) -> &'static str {
    wanted.and_then(supported_language).unwrap_or("en")
}

/// The supported language a code like `sv` or `sv-SE` names, if we speak it.
pub fn supported_language(wanted: &str) -> Option<&'static str> {
    let w = wanted.trim().to_ascii_lowercase();
    let base = w.split(['-', '_']).next().unwrap_or("");
    LANGUAGES.iter().copied().find(|l| *l == base)
}

/// Whether `lang` is written right to left.
pub fn right_to_left(lang: &str) -> bool {
    lang == "fa"
}

/// A string in `lang` with `{name}` placeholders filled (English when a key is missing).
pub fn text(lang: &str, key: &str, args: &[(&str, &str)]) -> String {
    let c = catalogue();
    let raw = c
        .get(lang)
        .and_then(|s| s.get(key))
        .or_else(|| c["en"].get(key))
        .cloned()
        .unwrap_or_else(|| key.to_owned());
    args.iter().fold(raw, |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
}

fn tr(state: &State, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let lang = state.lookup("lang").map(|v| v.to_string()).unwrap_or_else(|| "en".into());
    let mut args: Vec<(String, String)> = Vec::new();
    for k in kwargs.args() {
        let v: Value = kwargs.get(k)?;
        args.push((k.to_owned(), v.to_string()));
    }
    kwargs.assert_all_used()?;
    let refs: Vec<(&str, &str)> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Ok(text(&lang, key, &refs))
}

fn env() -> &'static Environment<'static> {
    static E: OnceLock<Environment<'static>> = OnceLock::new();
    E.get_or_init(|| {
        let mut e = Environment::new();
        for (name, src) in [
            ("layout.html", include_str!("../../templates/mail/layout.html")),
            ("layout.txt", include_str!("../../templates/mail/layout.txt")),
            ("messages.html", include_str!("../../templates/mail/messages.html")),
            ("offline_reply.html", include_str!("../../templates/mail/offline_reply.html")),
            ("offline_reply.txt", include_str!("../../templates/mail/offline_reply.txt")),
            ("unread_messages.html", include_str!("../../templates/mail/unread_messages.html")),
            ("unread_messages.txt", include_str!("../../templates/mail/unread_messages.txt")),
            ("transcript.html", include_str!("../../templates/mail/transcript.html")),
            ("transcript.txt", include_str!("../../templates/mail/transcript.txt")),
            ("invitation.html", include_str!("../../templates/mail/invitation.html")),
            ("invitation.txt", include_str!("../../templates/mail/invitation.txt")),
            ("cart_link.html", include_str!("../../templates/mail/cart_link.html")),
            ("cart_link.txt", include_str!("../../templates/mail/cart_link.txt")),
        ] {
            e.add_template(name, src).expect("mail templates compile");
        }
        e.add_function("tr", tr);
        e
    })
}

/// Render one e-mail. `data` holds the kind's own values (messages, link, code…); the subject's
/// placeholders are filled from `subject_args`.
pub fn render(
    kind: MailKind,
    lang: &str,
    brand: &Branding,
    data: serde_json::Value,
    subject_args: &[(&str, &str)],
    unsubscribe_url: Option<&str>,
) -> Result<Rendered, minijinja::Error> {
    let lang = language(Some(lang));
    let mut args = vec![("brand", brand.name.as_str())];
    args.extend_from_slice(subject_args);
    let subject = text(lang, &format!("subject.{}", kind.as_str()), &args);
    let rtl = right_to_left(lang);
    let mut ctx = match data {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    ctx.insert("lang".into(), lang.into());
    ctx.insert("dir".into(), if rtl { "rtl" } else { "ltr" }.into());
    ctx.insert("start".into(), if rtl { "right" } else { "left" }.into());
    ctx.insert("brand".into(), serde_json::to_value(brand).expect("branding serialises"));
    ctx.insert("subject".into(), subject.clone().into());
    ctx.insert("unsubscribe_url".into(), unsubscribe_url.into());
    let ctx = Value::from_serialize(&ctx);
    let html = env().get_template(&format!("{}.html", kind.as_str()))?.render(&ctx)?;
    let text = env().get_template(&format!("{}.txt", kind.as_str()))?.render(&ctx)?;
    Ok(Rendered {
        subject,
        text: tidy_text(&text),
        html,
    })
}

/// At most one blank line in a row, no trailing spaces.
fn tidy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Branding {
        Branding {
            name: "Nordic <Home>".into(),
            color: "#1f5f8b".into(),
            text_color: "#ffffff".into(),
            logo_url: Some("https://shop.example/logo.png".into()),
        }
    }

    #[test]
    fn every_language_has_every_key_and_every_kind_renders() {
        let en = &catalogue()["en"];
        for lang in LANGUAGES {
            let strings = &catalogue()[lang];
            for k in en.keys() {
                assert!(strings.contains_key(k), "{lang} lacks {k}");
            }
            for kind in [
                MailKind::OfflineReply,
                MailKind::UnreadMessages,
                MailKind::Transcript,
                MailKind::Invitation,
                MailKind::CartLink,
            ] {
                let data = serde_json::json!({
                    "messages": [{"author": "Sara", "time": "10:00", "body": "Hi", "mine": false}],
                    "link": "https://fw.example/r/x", "link_days": 7, "expert": "Sara", "date": "2026-12-06",
                    "code": "ABCD234567", "shopper_name": "Kim",
                });
                let r = render(kind, lang, &brand(), data, &[("expert", "Sara")], Some("https://fw.example/u/t")).unwrap();
                assert!(!r.subject.contains('{'), "{lang} {kind:?}: {}", r.subject);
                assert!(r.html.contains(&format!("lang=\"{lang}\"")));
                assert!(!r.text.contains("{{"), "{}", r.text);
            }
        }
        let fa = render(MailKind::Transcript, "fa", &brand(), serde_json::json!({"messages": []}), &[], None).unwrap();
        assert!(fa.html.contains("dir=\"rtl\""));
    }

    #[test]
    fn everything_a_shopper_or_merchant_wrote_is_escaped() {
        let data = serde_json::json!({
            "messages": [{"author": "<b>x</b>", "time": "10:00", "body": "<script>alert(1)</script>", "mine": true}],
            "link": "https://fw.example/r/\"><x", "link_days": 7, "expert": "<i>Sara</i>",
        });
        let r = render(MailKind::OfflineReply, "en", &brand(), data, &[("expert", "<i>Sara</i>")], None).unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(!r.html.contains("<i>Sara"));
        assert!(r.html.contains("Nordic &lt;Home&gt;"));
        assert!(!r.html.contains("\"><x"));
        // Plain text keeps the words as written.
        assert!(r.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn languages_fall_back_to_english() {
        assert_eq!(language(Some("sv-SE")), "sv");
        assert_eq!(language(Some("xx")), "en");
        assert_eq!(language(None), "en");
        assert_eq!(readable_on("#ffffff"), "#111111");
        assert_eq!(readable_on("#1f5f8b"), "#ffffff");
    }
}
