//! The cart as the shopper sees it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::model::Item;
use crate::money::Currency;

/// The most different items one cart holds.
pub const MAX_LINES: usize = 50;
/// The most units of one item a cart holds.
pub const MAX_QUANTITY: u32 = 10;

/// One item in the cart, with what has changed since it was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CartLine {
    /// The item as it is now.
    pub item: Item,
    pub quantity: u32,
    /// The price when it was put in the cart.
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub price_when_added: Decimal,
    /// The line's total at today's price.
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub line_total: Decimal,
    /// Fewer units are in stock than the cart asks for (0: sold out).
    pub only_left: Option<u32>,
    /// The price is not what it was when the item was added.
    pub price_changed: bool,
}

/// What the cart adds up to in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CartTotal {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub currency: Currency,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub amount: Decimal,
}

/// The whole cart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Cart {
    pub lines: Vec<CartLine>,
    /// One total per currency in the cart.
    pub totals: Vec<CartTotal>,
    /// Items that were in the cart and no longer exist (they have been taken out).
    pub removed: u32,
}

impl Cart {
    /// How many units in all.
    pub fn units(&self) -> u32 {
        self.lines.iter().map(|line| line.quantity).sum()
    }
}

/// A quantity as a client sends it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuantityInput {
    /// 1 to 10; 0 takes the item out.
    pub quantity: i64,
}

/// Checks a quantity for a cart line: 0 (take it out) to [`MAX_QUANTITY`].
pub fn parse_quantity(quantity: i64) -> Result<u32, String> {
    u32::try_from(quantity)
        .ok()
        .filter(|q| *q <= MAX_QUANTITY)
        .ok_or_else(|| format!("must be between 0 and {MAX_QUANTITY}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_bounded() {
        assert_eq!(parse_quantity(0), Ok(0));
        assert_eq!(parse_quantity(10), Ok(10));
        assert!(parse_quantity(11).is_err());
        assert!(parse_quantity(-1).is_err());
    }
}
