//! The demo's catalogue (a few hundred products across the demo departments) and checkout
//! settings: the sample shop (`/shop/`) plays the merchant's side (see `http::commerce_shop`).

use super::store::{CheckoutSettings, ProductFields};
use crate::ids::MerchantId;
use crate::storage::Db;

/// Where the sample shop's checkout lives (relative to the server's public address).
pub const SHOP_CHECKOUT: &str = "/shop/checkout";

struct Family {
    code: &'static str,
    department: &'static str,
    items: &'static [(&'static str, i64)],
    variants: &'static [&'static str],
    vat_bp: i64,
}

const FAMILIES: &[Family] = &[
    Family {
        code: "TV",
        department: "TV & Audio",
        items: &[
            ("OLED TV", 1_299_000),
            ("QLED TV", 899_000),
            ("LED TV", 499_000),
            ("Soundbar", 299_000),
            ("Wireless speaker", 149_000),
            ("Over-ear headphones", 249_000),
            ("In-ear headphones", 99_000),
            ("TV wall mount", 79_000),
            ("HDMI cable", 19_900),
            ("AV receiver", 599_000),
        ],
        variants: &["32\"", "43\"", "50\"", "55\"", "65\"", "77\""],
        vat_bp: 2500,
    },
    Family {
        code: "KIT",
        department: "Kitchen",
        items: &[
            ("Café Crème espresso machine", 499_000),
            ("Kaffebryggare", 129_000),
            ("Stand mixer", 399_000),
            ("Chef's knife", 89_900),
            ("Cast-iron pan", 69_900),
            ("Kettle", 49_900),
            ("Blender", 99_900),
            ("Toaster", 39_900),
            ("Dinner plate set", 59_900),
            ("Crème brûlée torch", 29_900),
        ],
        variants: &["black", "white", "steel", "red", "sage", "sand"],
        vat_bp: 2500,
    },
    Family {
        code: "FUR",
        department: "Furniture",
        items: &[
            ("Sofa", 1_199_000),
            ("Armchair", 549_000),
            ("Dining table", 799_000),
            ("Dining chair", 129_000),
            ("Bookshelf", 249_000),
            ("Floor lamp", 99_000),
            ("Rug", 199_000),
            ("Coffee table", 299_000),
            ("Bed frame", 899_000),
            ("Desk", 349_000),
        ],
        variants: &["oak", "walnut", "birch", "grey", "blue", "beige"],
        vat_bp: 2500,
    },
    Family {
        code: "OUT",
        department: "Outdoor",
        items: &[
            ("Tent", 249_000),
            ("Sleeping bag", 149_000),
            ("Hiking backpack", 179_000),
            ("Camping stove", 69_900),
            ("Headlamp", 39_900),
            ("Rain jacket", 199_000),
            ("Trekking poles", 79_900),
            ("Cool box", 89_900),
            ("Hammock", 59_900),
            ("Water filter", 49_900),
        ],
        variants: &["1 person", "2 persons", "3 persons", "green", "orange", "navy"],
        vat_bp: 2500,
    },
    Family {
        code: "SHO",
        department: "Shoes",
        items: &[
            ("Running shoe", 129_900),
            ("Trail shoe", 149_900),
            ("Leather boot", 219_900),
            ("Sneaker", 99_900),
            ("Sandal", 59_900),
            ("Winter boot", 179_900),
            ("Loafer", 119_900),
            ("Hiking boot", 199_900),
            ("Slipper", 29_900),
            ("Shoe care kit", 19_900),
        ],
        variants: &["EU 38", "EU 39", "EU 40", "EU 41", "EU 42", "EU 43"],
        vat_bp: 2500,
    },
];

/// 300 products: 5 departments × 10 items × 6 variants, SKUs `TV-1001-55"`-style but
/// path-safe (`TV-1001-4`), one GTIN-13 each.
pub fn products(base: &str) -> Vec<ProductFields> {
    let mut out = Vec::new();
    for f in FAMILIES {
        for (i, (name, price)) in f.items.iter().enumerate() {
            for (v, variant) in f.variants.iter().enumerate() {
                let n = 1001 + i as i64;
                let sku = format!("{}-{n}-{}", f.code, v + 1);
                let gtin_body = format!(
                    "735{:03}{:03}{:03}",
                    FAMILIES.iter().position(|x| x.code == f.code).unwrap_or(0),
                    n % 1000,
                    v + 1
                );
                out.push(ProductFields {
                    sku: sku.clone(),
                    name: format!("{name} {variant}"),
                    description: Some(format!("{name} in {variant}, from our {} department.", f.department)),
                    // Larger variants cost a little more.
                    price_minor: price + (v as i64) * (price / 10 / 100 * 100),
                    currency: "SEK".into(),
                    vat_bp: f.vat_bp,
                    image_url: None,
                    product_url: Some(format!("{base}/shop/#{sku}")),
                    gtin: Some(with_check_digit(&gtin_body)),
                    stock: None,
                    active: true,
                });
            }
        }
    }
    out
}

/// GTIN-13 from 12 digits (the GS1 check digit).
fn with_check_digit(twelve: &str) -> String {
    let sum: u32 = twelve
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{twelve}{}", (10 - sum % 10) % 10)
}

/// Seed the demo merchant's catalogue and checkout (hosted, to the sample shop's checkout).
pub async fn seed(db: &Db, m: &MerchantId) -> anyhow::Result<()> {
    db.upsert_products(m, &products("")).await?;
    db.put_checkout_settings(
        m,
        &CheckoutSettings {
            mode: "hosted".into(),
            checkout_url: Some(SHOP_CHECKOUT.into()),
            reminder_hours: Some(24),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_catalogue_is_a_few_hundred_valid_products() {
        let p = super::products("");
        assert_eq!(p.len(), 300);
        let skus: std::collections::HashSet<_> = p.iter().map(|x| x.sku.clone()).collect();
        assert_eq!(skus.len(), 300, "SKUs are unique");
        assert!(p.iter().all(|x| x.gtin.as_ref().unwrap().len() == 13));
        assert_eq!(super::with_check_digit("400638133393"), "4006381333931");
    }
}
