//! Money as exact decimals: amounts in minor units of an ISO 4217 currency (whose exponent
//! comes from the `iso_currency` crate), decimal strings on the wire, VAT by `rust_decimal`.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// Largest price or line amount accepted, in major units.
pub const MAX_MAJOR: i64 = 99_999_999;

/// The number of decimals of an ISO 4217 currency code (upper case), or `None` when the code
/// is not a current currency (or has no minor unit, such as XAU).
pub fn exponent(code: &str) -> Option<u32> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let c = iso_currency::Currency::from_code(code)?;
    c.exponent().map(u32::from)
}

/// A normalised currency code: trimmed, upper case, known.
pub fn currency(code: &str) -> Option<String> {
    let c = code.trim().to_ascii_uppercase();
    exponent(&c).map(|_| c)
}

/// "129.9" / "129.90" / "130" in minor units; refuses negatives, more decimals than the
/// currency has, exponents, signs, spaces and amounts above [`MAX_MAJOR`].
pub fn parse(s: &str, code: &str) -> Option<i64> {
    let e = exponent(code)? as usize;
    let s = s.trim();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (s, ""),
    };
    if int.is_empty() || int.len() > 9 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > e || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let major: i64 = int.parse().ok()?;
    if major > MAX_MAJOR {
        return None;
    }
    let mut v = major;
    for i in 0..e {
        v = v * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    Some(v)
}

/// Minor units as a decimal string with exactly the currency's decimals.
pub fn format(minor: i64, code: &str) -> String {
    let e = exponent(code).unwrap_or(2);
    let d = Decimal::new(minor, e);
    let mut d = d;
    d.rescale(e);
    d.to_string()
}

/// A VAT rate "25" / "12.5" / "0" (0–100, at most two decimals) in basis points.
pub fn parse_rate(s: &str) -> Option<i64> {
    let s = s.trim();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (s, ""),
    };
    if int.is_empty() || int.len() > 3 || frac.len() > 2 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut bp: i64 = int.parse::<i64>().ok()? * 100;
    for (i, b) in frac.bytes().enumerate() {
        bp += i64::from(b - b'0') * if i == 0 { 10 } else { 1 };
    }
    (bp <= 10_000).then_some(bp)
}

/// Basis points as the shortest decimal percentage: 2500 → "25", 1250 → "12.5".
pub fn format_rate(bp: i64) -> String {
    Decimal::new(bp, 2).normalize().to_string()
}

/// The VAT contained in a VAT-inclusive amount: `gross × rate / (100 + rate)`, rounded half to
/// even to the minor unit.
pub fn vat_of(gross_minor: i64, bp: i64) -> i64 {
    if bp == 0 {
        return 0;
    }
    let v = Decimal::from(gross_minor) * Decimal::from(bp) / Decimal::from(10_000 + bp);
    v.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
        .to_i64()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_currency_exponent() {
        assert_eq!(exponent("SEK"), Some(2));
        assert_eq!(exponent("JPY"), Some(0));
        assert_eq!(exponent("KWD"), Some(3));
        assert_eq!(exponent("XXY"), None);
        assert_eq!(exponent("sek"), None);
        assert_eq!(parse("129.9", "EUR"), Some(12990));
        assert_eq!(parse("130", "EUR"), Some(13000));
        assert_eq!(parse("1500", "JPY"), Some(1500));
        assert_eq!(parse("15.5", "JPY"), None, "yen has no decimals");
        assert_eq!(parse("1.234", "KWD"), Some(1234));
        assert_eq!(parse("1.234", "EUR"), None, "more decimals than the currency has");
        for bad in ["-1", "1e3", " ", "", "1.", ".5", "+1", "1,50", "100000000"] {
            assert_eq!(parse(bad, "EUR"), None, "{bad:?}");
        }
        assert_eq!(format(12990, "EUR"), "129.90");
        assert_eq!(format(1500, "JPY"), "1500");
        assert_eq!(format(5, "KWD"), "0.005");
        assert_eq!(format(0, "SEK"), "0.00");
    }

    #[test]
    fn vat_rates_and_vat_are_exact() {
        assert_eq!(parse_rate("25"), Some(2500));
        assert_eq!(parse_rate("12.5"), Some(1250));
        assert_eq!(parse_rate("7.25"), Some(725));
        assert_eq!(parse_rate("0"), Some(0));
        assert_eq!(parse_rate("100.01"), None);
        assert_eq!(parse_rate("5.125"), None);
        assert_eq!(format_rate(2500), "25");
        assert_eq!(format_rate(1250), "12.5");
        assert_eq!(format_rate(0), "0");
        // 125.00 incl. 25 % VAT = 100.00 + 25.00
        assert_eq!(vat_of(12500, 2500), 2500);
        // 10.00 incl. 12 %: 1.0714… → 1.07
        assert_eq!(vat_of(1000, 1200), 107);
        // a midpoint rounds to even: at 100 %, 0.03 holds 0.015 → 0.02 and 0.05 holds 0.025 → 0.02
        assert_eq!(vat_of(3, 10_000), 2);
        assert_eq!(vat_of(5, 10_000), 2);
        assert_eq!(vat_of(7, 10_000), 4);
        assert_eq!(vat_of(999, 0), 0);
    }
}
