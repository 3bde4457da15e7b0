//! Money: an exact decimal amount in an ISO 4217 currency.
//!
//! Amounts are `rust_decimal::Decimal` (never floats, never integers of an unknown unit) and are
//! `DECIMAL(19,4)` in SQL. A price is parsed once, at the edge, by [`Price::parse`]: positive, at
//! most [`MAX_PRICE`], and with no more decimal places than the currency has minor units.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The highest price one item may have, in any currency: a guard against typos (an extra zero or
/// three), not a business rule.
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The currencies the shop accepts, with their number of minor units and numeric code (ISO 4217).
const CURRENCIES: &[(&str, u32, u16)] = &[
    ("EUR", 2, 978),
    ("USD", 2, 840),
    ("GBP", 2, 826),
    ("CHF", 2, 756),
    ("SEK", 2, 752),
    ("PLN", 2, 985),
    ("CZK", 2, 203),
    ("JPY", 0, 392),
];

/// An ISO 4217 currency the shop accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    index: u8,
}

impl Currency {
    /// The euro, the shop's default.
    pub const EUR: Currency = Currency { index: 0 };

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        CURRENCIES[usize::from(self.index)].0
    }

    /// How many decimal places an amount in this currency may have.
    pub fn minor_units(self) -> u32 {
        CURRENCIES[usize::from(self.index)].1
    }

    /// The ISO 4217 numeric code (978 for the euro), as payment QR codes carry it.
    pub fn numeric(self) -> u16 {
        CURRENCIES[usize::from(self.index)].2
    }

    /// The currency of an ISO 4217 numeric code, if the shop accepts it.
    pub fn from_numeric(numeric: u16) -> Option<Self> {
        CURRENCIES
            .iter()
            .position(|(_, _, n)| *n == numeric)
            .and_then(|index| u8::try_from(index).ok())
            .map(|index| Currency { index })
    }

    /// Every accepted currency's code.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(code, _, _)| *code)
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        CURRENCIES
            .iter()
            .position(|(code, _, _)| *code == text)
            .and_then(|index| u8::try_from(index).ok())
            .map(|index| Currency { index })
            .ok_or_else(|| {
                format!(
                    "must be one of {}",
                    Currency::codes().collect::<Vec<_>>().join(", ")
                )
            })
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> String {
        currency.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A validated price: an amount and its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    amount: Decimal,
    currency: Currency,
}

impl Price {
    /// Checks an amount for a currency: positive, at most [`MAX_PRICE`], and with no more decimal
    /// places than the currency allows. Trailing zeros (`19.900`) are fine.
    pub fn parse(amount: Decimal, currency: Currency) -> Result<Self, String> {
        let amount = amount.normalize();
        if amount <= Decimal::ZERO {
            return Err("must be more than zero".into());
        }
        if amount > MAX_PRICE {
            return Err(format!("must be at most {MAX_PRICE}"));
        }
        if amount.scale() > currency.minor_units() {
            return Err(match currency.minor_units() {
                0 => format!("{currency} has no decimal places"),
                1 => format!("{currency} allows one decimal place"),
                n => format!("{currency} allows at most {n} decimal places"),
            });
        }
        Ok(Price { amount, currency })
    }

    /// The amount, exact.
    pub fn amount(self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(self) -> Currency {
        self.currency
    }
}

/// Formats an amount for people: the currency's decimal places and the code (`1299.00 EUR`).
pub fn format_amount(amount: Decimal, currency: Currency) -> String {
    let mut rounded = amount.round_dp(currency.minor_units());
    rounded.rescale(currency.minor_units());
    format!("{rounded} {currency}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_price_has_at_most_the_currencys_decimal_places() {
        let eur = Currency::EUR;
        assert!(Price::parse(dec("19.99"), eur).is_ok());
        assert!(Price::parse(dec("19.900"), eur).is_ok());
        assert_eq!(
            Price::parse(dec("19.999"), eur),
            Err("EUR allows at most 2 decimal places".into())
        );
        let yen: Currency = "JPY".parse().unwrap();
        assert_eq!(
            Price::parse(dec("100.5"), yen),
            Err("JPY has no decimal places".into())
        );
    }

    #[test]
    fn zero_negative_and_absurd_prices_are_refused() {
        for bad in ["0", "-1", "-0.01", "1000000.01", "99999999999"] {
            assert!(Price::parse(dec(bad), Currency::EUR).is_err(), "{bad}");
        }
        assert!(Price::parse(dec("1000000"), Currency::EUR).is_ok());
    }

    #[test]
    fn currencies_are_iso_codes_from_the_list() {
        assert_eq!("USD".parse::<Currency>().unwrap().code(), "USD");
        assert!("usd".parse::<Currency>().is_err());
        assert!("XXX".parse::<Currency>().is_err());
        let json = serde_json::to_string(&Currency::EUR).unwrap();
        assert_eq!(json, "\"EUR\"");
        assert!(serde_json::from_str::<Currency>("\"EURO\"").is_err());
    }

    #[test]
    fn amounts_are_formatted_with_the_currencys_places() {
        assert_eq!(format_amount(dec("5"), Currency::EUR), "5.00 EUR");
        assert_eq!(format_amount(dec("5.1"), Currency::EUR), "5.10 EUR");
        let yen: Currency = "JPY".parse().unwrap();
        assert_eq!(format_amount(dec("1200"), yen), "1200 JPY");
    }

    proptest! {
        #[test]
        fn every_accepted_price_is_positive_bounded_and_exact(cents in 1i64..=100_000_000) {
            let amount = Decimal::new(cents, 2);
            let price = Price::parse(amount, Currency::EUR).unwrap();
            prop_assert_eq!(price.amount(), amount);
            prop_assert!(price.amount() > Decimal::ZERO && price.amount() <= MAX_PRICE);
        }

        #[test]
        fn sub_cent_amounts_are_always_refused_in_euros(units in 1i64..=1_000_000, frac in 1i64..=9) {
            let amount = Decimal::new(units * 1000 + frac, 3);
            prop_assert!(Price::parse(amount, Currency::EUR).is_err());
        }
    }
}
