//! Item pictures, generated: nothing may be fetched from elsewhere, and a picture that is drawn
//! from the item's own data is always there. Each item gets a colour from its ID and its initials.

use super::model::Item;

/// Escapes text for an SVG text node.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// FNV-1a: a stable hash, so an item keeps its colour across releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The first letter of the first two words, uppercase.
fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// The item's picture: a square SVG.
pub fn item_svg(item: &Item) -> String {
    let hash = fnv1a(&item.id.to_string());
    let hue = hash % 360;
    let accent = (hue + 40) % 360;
    let label = escape(&initials(&item.name));
    let title = escape(&item.name);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" role="img" aria-label="{title}"><title>{title}</title><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl({hue},70%,55%)"/><stop offset="1" stop-color="hsl({accent},60%,35%)"/></linearGradient></defs><rect width="400" height="400" fill="url(#g)"/><circle cx="300" cy="90" r="120" fill="#fff" fill-opacity="0.12"/><rect x="60" y="250" width="280" height="24" rx="12" fill="#fff" fill-opacity="0.18"/><text x="200" y="215" font-family="system-ui,sans-serif" font-size="120" font-weight="700" fill="#fff" text-anchor="middle">{label}</text></svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::CategoryId;
    use crate::money::Currency;

    #[test]
    fn the_picture_shows_the_initials_and_escapes_the_name() {
        let item = Item {
            id: "item-1-7".parse().unwrap(),
            category_id: CategoryId(1),
            name: "sonic <boom> & co".into(),
            description: String::new(),
            price: "1".parse().unwrap(),
            currency: Currency::EUR,
            stock: 0,
            location: String::new(),
            created_at: Default::default(),
            updated_at: Default::default(),
        };
        let svg = item_svg(&item);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(">SB</text>"));
        assert!(svg.contains("sonic &lt;boom&gt; &amp; co"));
        assert_eq!(svg, item_svg(&item), "the same item gets the same picture");
    }
}
