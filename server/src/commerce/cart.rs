//! Carts: what an expert sends, checked and totalled exactly (docs/commerce.md "Carts").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money;
use crate::domain::{FieldError, Problems};

pub const MAX_LINES: usize = 100;
pub const MAX_QTY: i64 = 999;
pub const MAX_TEXT: usize = 200;
pub const MAX_SKU: usize = 64;

/// One line as the store app sends it: a catalogue `sku`, or a free-text line with `text`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub sku: Option<String>,
    pub text: Option<String>,
    pub quantity: i64,
    /// Decimal string; overrides a catalogue line's price, required on a free-text line.
    pub unit_price: Option<String>,
    /// Free-text lines only (default: the merchant's default rate).
    pub vat_rate: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartInput {
    pub lines: Vec<LineInput>,
    /// `YYYY-MM-DD`: send as a quote valid until the end of that day (UTC).
    pub quote_valid_until: Option<String>,
    /// An earlier cart of the same conversation this one revises.
    pub replaces: Option<String>,
}

/// A priced line (minor units), ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub sku: Option<String>,
    pub product_id: Option<String>,
    pub name: String,
    pub image_url: Option<String>,
    pub product_url: Option<String>,
    pub quantity: i64,
    pub unit_minor: i64,
    pub original_minor: Option<i64>,
    pub vat_bp: i64,
}

/// What a catalogue line needs from the product.
#[derive(Debug, Clone)]
pub struct ProductRef {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub vat_bp: i64,
    pub image_url: Option<String>,
    pub product_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct LineView {
    #[schema(required = true)]
    pub sku: Option<String>,
    #[schema(required = true)]
    pub product_id: Option<String>,
    pub name: String,
    #[schema(required = true)]
    pub image_url: Option<String>,
    #[schema(required = true)]
    pub product_url: Option<String>,
    pub quantity: i64,
    pub unit_price: String,
    #[schema(required = true)]
    pub original_unit_price: Option<String>,
    pub vat_rate: String,
    pub line_total: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct VatView {
    pub rate: String,
    pub gross: String,
    pub net: String,
    pub vat: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Totals {
    pub items: i64,
    pub total: String,
    pub vat: Vec<VatView>,
    pub vat_total: String,
    #[serde(skip)]
    pub total_minor: i64,
}

pub fn line_view(l: &Line, currency: &str) -> LineView {
    LineView {
        sku: l.sku.clone(),
        product_id: l.product_id.clone(),
        name: l.name.clone(),
        image_url: l.image_url.clone(),
        product_url: l.product_url.clone(),
        quantity: l.quantity,
        unit_price: money::format(l.unit_minor, currency),
        original_unit_price: l.original_minor.map(|m| money::format(m, currency)),
        vat_rate: money::format_rate(l.vat_bp),
        line_total: money::format(l.unit_minor * l.quantity, currency),
    }
}

/// Sum, number of items, VAT per rate (rounded once per rate) and in total.
pub fn totals(lines: &[Line], currency: &str) -> Totals {
    let mut by_rate: BTreeMap<i64, i64> = BTreeMap::new();
    let mut total = 0;
    let mut items = 0;
    for l in lines {
        let g = l.unit_minor * l.quantity;
        total += g;
        items += l.quantity;
        *by_rate.entry(l.vat_bp).or_default() += g;
    }
    let mut vat_total = 0;
    let vat = by_rate
        .into_iter()
        .map(|(bp, gross)| {
            let v = money::vat_of(gross, bp);
            vat_total += v;
            VatView {
                rate: money::format_rate(bp),
                gross: money::format(gross, currency),
                net: money::format(gross - v, currency),
                vat: money::format(v, currency),
            }
        })
        .collect();
    Totals {
        items,
        total: money::format(total, currency),
        vat,
        vat_total: money::format(vat_total, currency),
        total_minor: total,
    }
}

/// Whether a line cannot travel in a UCP permalink (a price override or a free-text line).
pub fn permalink_problem(l: &Line) -> Option<&'static str> {
    if l.sku.is_none() {
        Some("a UCP permalink cannot carry free-text lines; remove it or switch Settings → Checkout to the hosted payment link")
    } else if l.original_minor.is_some() {
        Some("a UCP permalink cannot carry price overrides; use the catalogue price or the hosted payment link")
    } else {
        None
    }
}

/// Check every line and price it. `find` looks up an active product by SKU; the currency is
/// the products' (all lines must share it), else `fallback_currency`.
pub fn price_lines(
    input: &[LineInput],
    find: &dyn Fn(&str) -> Option<ProductRef>,
    fallback_currency: &str,
    default_vat_bp: i64,
) -> Result<(Vec<Line>, String), Vec<FieldError>> {
    let mut p = Problems::new();
    if input.is_empty() {
        p.add("lines", "add at least one line");
    }
    if input.len() > MAX_LINES {
        p.add("lines", format!("at most {MAX_LINES} lines"));
        return Err(p.0);
    }
    // The currency: the first catalogue line's.
    let products: Vec<Option<ProductRef>> = input
        .iter()
        .map(|l| l.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()).and_then(find))
        .collect();
    let currency = products
        .iter()
        .flatten()
        .next()
        .map(|p| p.currency.clone())
        .unwrap_or_else(|| fallback_currency.to_owned());
    let mut lines = Vec::with_capacity(input.len());
    for (i, (l, prod)) in input.iter().zip(products).enumerate() {
        let f = |name: &str| format!("lines[{i}].{name}");
        if !(1..=MAX_QTY).contains(&l.quantity) {
            p.add(f("quantity"), format!("must be 1–{MAX_QTY}"));
        }
        let price = l.unit_price.as_deref().map(|s| money::parse(s, &currency));
        if let Some(None) = price {
            p.add(
                f("unit_price"),
                format!(
                    "must be a decimal ≥ 0 with at most {} decimals",
                    money::exponent(&currency).unwrap_or(2)
                ),
            );
        }
        let price = price.flatten();
        match (l.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()), l.text.as_deref()) {
            (Some(_), Some(_)) => p.add(f("text"), "a line has either a sku or a text"),
            (Some(sku), None) => {
                if sku.chars().count() > MAX_SKU {
                    p.add(f("sku"), format!("at most {MAX_SKU} characters"));
                    continue;
                }
                let Some(prod) = prod else {
                    p.add(f("sku"), "no active product with this article number");
                    continue;
                };
                if prod.currency != currency {
                    p.add(
                        f("sku"),
                        format!("priced in {}; a cart has one currency ({currency})", prod.currency),
                    );
                }
                if l.vat_rate.is_some() {
                    p.add(f("vat_rate"), "a catalogue line takes the product's VAT rate");
                }
                let unit = price.unwrap_or(prod.price_minor);
                lines.push(Line {
                    sku: Some(prod.sku),
                    product_id: Some(prod.id),
                    name: prod.name,
                    image_url: prod.image_url,
                    product_url: prod.product_url,
                    quantity: l.quantity,
                    unit_minor: unit,
                    original_minor: (unit != prod.price_minor).then_some(prod.price_minor),
                    vat_bp: prod.vat_bp,
                });
            }
            (None, text) => {
                let text = text.unwrap_or("").trim();
                if text.is_empty() || text.chars().count() > MAX_TEXT || text.chars().any(char::is_control) {
                    p.add(f("text"), format!("a free-text line needs a text of 1–{MAX_TEXT} characters"));
                }
                if l.unit_price.is_none() {
                    p.add(f("unit_price"), "a free-text line needs an amount");
                }
                let vat = match l.vat_rate.as_deref() {
                    None => Some(default_vat_bp),
                    Some(r) => money::parse_rate(r),
                };
                if vat.is_none() {
                    p.add(f("vat_rate"), "must be a percentage 0–100 with at most 2 decimals");
                }
                lines.push(Line {
                    sku: None,
                    product_id: None,
                    name: text.to_owned(),
                    image_url: None,
                    product_url: None,
                    quantity: l.quantity,
                    unit_minor: price.unwrap_or(0),
                    original_minor: None,
                    vat_bp: vat.unwrap_or(0),
                });
            }
        }
    }
    let total: i64 = lines.iter().map(|l| l.unit_minor.saturating_mul(l.quantity)).sum();
    let cap = money::MAX_MAJOR * 10_i64.pow(money::exponent(&currency).unwrap_or(2));
    if total > cap {
        p.add("lines", "the cart's total is too large");
    }
    p.into_result()?;
    Ok((lines, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue(sku: &str) -> Option<ProductRef> {
        let (price, bp, cur) = match sku {
            "TV-55" => (1_299_000, 2500, "SEK"),
            "BOOK-1" => (19_900, 600, "SEK"),
            "YEN-1" => (1500, 1000, "JPY"),
            _ => return None,
        };
        Some(ProductRef {
            id: format!("id-{sku}"),
            sku: sku.into(),
            name: format!("Product {sku}"),
            price_minor: price,
            currency: cur.into(),
            vat_bp: bp,
            image_url: None,
            product_url: None,
        })
    }

    fn line(sku: Option<&str>, text: Option<&str>, qty: i64, price: Option<&str>, vat: Option<&str>) -> LineInput {
        LineInput {
            sku: sku.map(Into::into),
            text: text.map(Into::into),
            quantity: qty,
            unit_price: price.map(Into::into),
            vat_rate: vat.map(Into::into),
        }
    }

    #[test]
    fn totals_vat_per_rate_overrides_and_free_text() {
        let input = vec![
            line(Some("TV-55"), None, 1, Some("11990.00"), None),
            line(Some("BOOK-1"), None, 3, None, None),
            line(None, Some("Installation"), 1, Some("499"), None),
        ];
        let (lines, cur) = price_lines(&input, &catalogue, "EUR", 2500).unwrap();
        assert_eq!(cur, "SEK");
        assert_eq!(lines[0].original_minor, Some(1_299_000));
        assert_eq!(lines[0].unit_minor, 1_199_000);
        assert_eq!(lines[1].original_minor, None);
        assert_eq!(lines[2].vat_bp, 2500);
        let t = totals(&lines, &cur);
        assert_eq!(t.items, 5);
        // 11990.00 + 3 × 199.00 + 499.00
        assert_eq!(t.total, "13086.00");
        // 6 %: 597.00 × 6/106 = 33.7925 → 33.79; 25 %: 12489.00 / 5 = 2497.80
        assert_eq!(
            t.vat,
            vec![
                VatView {
                    rate: "6".into(),
                    gross: "597.00".into(),
                    net: "563.21".into(),
                    vat: "33.79".into()
                },
                VatView {
                    rate: "25".into(),
                    gross: "12489.00".into(),
                    net: "9991.20".into(),
                    vat: "2497.80".into()
                },
            ]
        );
        assert_eq!(t.vat_total, "2531.59");
        assert_eq!(line_view(&lines[0], &cur).original_unit_price.as_deref(), Some("12990.00"));
    }

    #[test]
    fn rounding_follows_the_currency() {
        let (lines, cur) = price_lines(&[line(Some("YEN-1"), None, 3, None, None)], &catalogue, "EUR", 2500).unwrap();
        let t = totals(&lines, &cur);
        assert_eq!(t.total, "4500");
        // 4500 × 10/110 = 409.09… → 409 yen
        assert_eq!(t.vat_total, "409");
        let err = price_lines(&[line(Some("YEN-1"), None, 1, Some("10.5"), None)], &catalogue, "EUR", 2500).unwrap_err();
        assert_eq!(err[0].field, "lines[0].unit_price");
    }

    #[test]
    fn bad_lines_are_named() {
        let input = vec![
            line(Some("TV-55"), None, 0, None, None),
            line(Some("NOPE"), None, 1, None, None),
            line(None, Some(""), 1, None, None),
            line(Some("TV-55"), None, 1000, Some("-1"), None),
            line(None, Some("Gift wrap"), 1, Some("10"), Some("101")),
            line(Some("YEN-1"), None, 1, None, None),
        ];
        let err = price_lines(&input, &catalogue, "EUR", 2500).unwrap_err();
        let fields: Vec<&str> = err.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "lines[0].quantity",
            "lines[1].sku",
            "lines[2].text",
            "lines[2].unit_price",
            "lines[3].quantity",
            "lines[3].unit_price",
            "lines[4].vat_rate",
            "lines[5].sku",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        let many: Vec<_> = (0..101).map(|_| line(Some("TV-55"), None, 1, None, None)).collect();
        assert!(price_lines(&many, &catalogue, "EUR", 2500).is_err());
        assert!(price_lines(&[], &catalogue, "EUR", 2500).is_err());
    }

    #[test]
    fn permalinks_refuse_overrides_and_free_text() {
        let (lines, _) = price_lines(
            &[
                line(Some("TV-55"), None, 1, None, None),
                line(Some("BOOK-1"), None, 1, Some("1.00"), None),
                line(None, Some("Service"), 1, Some("5"), None),
            ],
            &catalogue,
            "EUR",
            2500,
        )
        .unwrap();
        assert!(permalink_problem(&lines[0]).is_none());
        assert!(permalink_problem(&lines[1]).unwrap().contains("overrides"));
        assert!(permalink_problem(&lines[2]).unwrap().contains("free-text"));
    }
}
