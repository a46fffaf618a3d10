//! Merchant settings: Manage Display (where and how the on-site chat shows, with branding),
//! routing timeouts and the site origins allowed to embed the widget.

use serde::{Deserialize, Serialize};

use super::Problems;

pub const LANGUAGES: [&str; 6] = ["en", "sv", "de", "el", "cs", "fa"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    BottomRight,
    BottomLeft,
}

/// When the launcher shows at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShowWhen {
    /// Always; outside hours or with nobody online the shopper gets the offline form.
    Always,
    /// Only while at least one expert is available.
    AvailableOnly,
    /// Only during some store's opening hours.
    OpeningHours,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColorScheme {
    Auto,
    Light,
    Dark,
}

/// Manage Display and branding, as the widget and store app read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisplaySettings {
    pub enabled: bool,
    /// Name shown to shoppers in the chat header.
    pub brand_name: String,
    /// HTTPS URL (or site-relative path) of the logo.
    pub logo_url: Option<String>,
    /// Main colour, `#rrggbb`; the widget picks a readable text colour for it.
    #[schema(example = "#1f6feb")]
    pub primary_color: String,
    pub position: Position,
    pub color_scheme: ColorScheme,
    /// Greeting on the launcher, per language code; `en` is the fallback.
    pub greeting: std::collections::BTreeMap<String, String>,
    /// Language used when the shopper's browser asks for one we do not offer.
    pub default_language: String,
    /// Languages offered to shoppers.
    pub languages: Vec<String>,
    /// URL path patterns the chat must not show on; `*` matches any run of characters.
    #[schema(example = json!(["/checkout*", "/account/*"]))]
    pub hidden_paths: Vec<String>,
    pub show_when: ShowWhen,
}

impl Default for DisplaySettings {
    fn default() -> Self {
        DisplaySettings {
            enabled: true,
            brand_name: String::new(),
            logo_url: None,
            primary_color: "#1f5f8b".into(),
            position: Position::BottomRight,
            color_scheme: ColorScheme::Auto,
            greeting: [("en".to_string(), "Questions? Chat with an expert in our store.".to_string())].into(),
            default_language: "en".into(),
            languages: LANGUAGES.iter().map(|s| s.to_string()).collect(),
            hidden_paths: vec!["/checkout*".into()],
            show_when: ShowWhen::Always,
        }
    }
}

pub fn valid_hex_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl DisplaySettings {
    pub fn validate(&self) -> Result<(), Vec<super::FieldError>> {
        let mut p = Problems::new();
        if self.brand_name.chars().count() > 80 {
            p.add("brand_name", "must be at most 80 characters");
        }
        if let Some(logo) = &self.logo_url {
            let ok = (logo.starts_with("https://")
                || logo.starts_with('/')
                || logo.starts_with("http://localhost")
                || logo.starts_with("http://127.0.0.1"))
                && logo.len() <= 500
                && !logo.contains(char::is_whitespace)
                && !logo.starts_with("//");
            p.check(ok, "logo_url", "must be an https:// URL or a path starting with /");
        }
        p.check(valid_hex_color(&self.primary_color), "primary_color", "must be #rrggbb");
        for (lang, text) in &self.greeting {
            p.check(
                LANGUAGES.contains(&lang.as_str()),
                &format!("greeting.{lang}"),
                "unsupported language",
            );
            p.check(
                text.chars().count() <= 200,
                &format!("greeting.{lang}"),
                "must be at most 200 characters",
            );
        }
        p.check(
            LANGUAGES.contains(&self.default_language.as_str()),
            "default_language",
            "unsupported language",
        );
        p.check(!self.languages.is_empty(), "languages", "offer at least one language");
        for (i, l) in self.languages.iter().enumerate() {
            p.check(LANGUAGES.contains(&l.as_str()), &format!("languages[{i}]"), "unsupported language");
        }
        p.check(self.hidden_paths.len() <= 100, "hidden_paths", "at most 100 patterns");
        for (i, h) in self.hidden_paths.iter().enumerate() {
            let ok = h.starts_with('/') && h.len() <= 300 && !h.contains(char::is_whitespace);
            p.check(ok, &format!("hidden_paths[{i}]"), "must be a path pattern starting with /");
        }
        p.into_result()
    }

    /// Whether the chat may show on a page with this path.
    pub fn shows_on(&self, path: &str) -> bool {
        self.enabled && !self.hidden_paths.iter().any(|pat| glob_match(pat, path))
    }
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Routing timeouts, in seconds, the sales attribution window and the time zone of reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// How long a returning shopper is offered only to their contact expert.
    pub contact_first_s: u32,
    /// Interval between re-offer waves of an unclaimed chat.
    pub reoffer_every_s: u32,
    /// An unclaimed chat becomes `missed` after this long.
    pub missed_after_s: u32,
    /// A claimed chat whose expert has not answered after this long is re-offered (0 = never).
    pub unanswered_reoffer_s: u32,
    /// Orders within this many days of a chat are attributed to its expert.
    pub attribution_window_days: u32,
    /// IANA time zone whose days and hours Analytics and `metrics.csv` use (e.g.
    /// `Europe/Stockholm`); null: the zone of the merchant's first store, else UTC.
    #[serde(default)]
    #[schema(example = "Europe/Stockholm")]
    pub report_timezone: Option<String>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            contact_first_s: 30,
            reoffer_every_s: 20,
            missed_after_s: 180,
            unanswered_reoffer_s: 90,
            attribution_window_days: 7,
            report_timezone: None,
        }
    }
}

impl RoutingSettings {
    pub fn validate(&self) -> Result<(), Vec<super::FieldError>> {
        let mut p = Problems::new();
        p.check(self.contact_first_s <= 600, "contact_first_s", "must be at most 600");
        p.check((5..=600).contains(&self.reoffer_every_s), "reoffer_every_s", "must be 5–600");
        p.check((10..=86_400).contains(&self.missed_after_s), "missed_after_s", "must be 10–86400");
        p.check(
            self.unanswered_reoffer_s == 0 || (10..=3600).contains(&self.unanswered_reoffer_s),
            "unanswered_reoffer_s",
            "must be 0 or 10–3600",
        );
        p.check(
            (1..=90).contains(&self.attribution_window_days),
            "attribution_window_days",
            "must be 1–90",
        );
        if let Some(z) = &self.report_timezone {
            p.check(
                super::hours::parse_timezone(z).is_some(),
                "report_timezone",
                "must be an IANA time zone such as Europe/Stockholm",
            );
        }
        p.into_result()
    }
}

/// Parse a site origin `scheme://host[:port]` into its canonical form, or `None`.
pub fn canonical_origin(s: &str) -> Option<String> {
    let u = url::Url::parse(s.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

pub fn validate_origins(list: &[String]) -> Result<Vec<String>, Vec<super::FieldError>> {
    let mut p = Problems::new();
    let mut out = Vec::new();
    for (i, o) in list.iter().enumerate() {
        match canonical_origin(o) {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => p.add(format!("origins[{i}]"), "must be an origin like https://shop.example"),
        }
    }
    p.check(list.len() <= 50, "origins", "at most 50 origins");
    p.into_result().map(|_| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("/checkout*", "/checkout/step-2"));
        assert!(glob_match("/account/*/orders", "/account/42/orders"));
        assert!(!glob_match("/account/*/orders", "/account/42/returns"));
        assert!(glob_match("/exact", "/exact"));
        assert!(!glob_match("/exact", "/exact/more"));
        let d = DisplaySettings::default();
        assert!(!d.shows_on("/checkout"));
        assert!(d.shows_on("/products/1"));
    }

    #[test]
    fn origins_are_canonicalised_and_checked() {
        let ok = validate_origins(&["https://Shop.Example".into(), "http://localhost:3000/".into()]).unwrap();
        assert_eq!(ok, ["https://shop.example", "http://localhost:3000"]);
        let bad = validate_origins(&["shop.example".into(), "https://a.example/path".into(), "javascript:alert(1)".into()]).unwrap_err();
        assert_eq!(bad.len(), 3);
    }

    #[test]
    fn display_validation_reports_each_field() {
        let d = DisplaySettings {
            primary_color: "blue".into(),
            default_language: "xx".into(),
            logo_url: Some("javascript:x".into()),
            ..Default::default()
        };
        let errs = d.validate().unwrap_err();
        let f: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(f, ["logo_url", "primary_color", "default_language"]);
    }
}
