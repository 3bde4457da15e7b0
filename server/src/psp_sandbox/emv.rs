//! EMVCo merchant-presented QR payloads: what a payment QR code holds.
//!
//! A payload is a string of TLV fields: a two-digit ID, a two-digit length, then the value. The
//! fields used here: 00 payload format indicator (`01`), 01 point of initiation (`12`: dynamic,
//! for one payment), 26 merchant account information (a template: 00 the processor's identifier,
//! 01 the virtual account), 52 merchant category code, 53 currency (ISO 4217 numeric), 54 amount,
//! 58 country, 59 merchant name, 60 merchant city, 62 additional data (a template: 05 the
//! reference label), and last 63, the CRC-16/CCITT (polynomial 0x1021, initial value 0xFFFF) of
//! everything before it including `6304`, as four upper-case hex digits.

use std::collections::BTreeMap;

use app::money::Currency;
use rust_decimal::Decimal;

/// The identifier of the sandbox processor in field 26.
pub const PROCESSOR_ID: &str = "SURGE.SANDBOX";

/// A dynamic payment request as a QR code carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPayload {
    pub processor: String,
    pub account: String,
    pub merchant_category: String,
    pub currency: Currency,
    pub amount: Decimal,
    pub country: String,
    pub merchant_name: String,
    pub merchant_city: String,
    pub reference: String,
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the payload is cut short or a field length is wrong at position {0}")]
    Malformed(usize),
    #[error("the checksum (field 63) does not match: the payload was changed or mistyped")]
    Checksum,
    #[error("field {0} is missing")]
    Missing(&'static str),
    #[error("field {0} is invalid")]
    Invalid(&'static str),
    #[error("field {id} is longer than {max} characters")]
    TooLong { id: &'static str, max: usize },
}

/// CRC-16/CCITT-FALSE, as EMVCo asks.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn field(out: &mut String, id: &'static str, value: &str, max: usize) -> Result<(), PayloadError> {
    let length = value.chars().count();
    if length > max || length > 99 {
        return Err(PayloadError::TooLong { id, max });
    }
    out.push_str(id);
    out.push_str(&format!("{length:02}"));
    out.push_str(value);
    Ok(())
}

impl PaymentPayload {
    /// The payload text, with its checksum.
    pub fn encode(&self) -> Result<String, PayloadError> {
        let mut account = String::new();
        field(&mut account, "00", &self.processor, 32)?;
        field(&mut account, "01", &self.account, 32)?;
        let mut additional = String::new();
        field(&mut additional, "05", &self.reference, 25)?;
        let mut amount = self.amount;
        amount.rescale(self.currency.minor_units());
        let mut out = String::new();
        field(&mut out, "00", "01", 2)?;
        field(&mut out, "01", "12", 2)?;
        field(&mut out, "26", &account, 99)?;
        field(&mut out, "52", &self.merchant_category, 4)?;
        field(
            &mut out,
            "53",
            &format!("{:03}", self.currency.numeric()),
            3,
        )?;
        field(&mut out, "54", &amount.to_string(), 13)?;
        field(&mut out, "58", &self.country, 2)?;
        field(&mut out, "59", &self.merchant_name, 25)?;
        field(&mut out, "60", &self.merchant_city, 15)?;
        field(&mut out, "62", &additional, 99)?;
        out.push_str("6304");
        let crc = crc16(out.as_bytes());
        out.push_str(&format!("{crc:04X}"));
        Ok(out)
    }

    /// Reads a payload: every length checked, the checksum verified, the fields a payment needs
    /// present and valid.
    pub fn parse(text: &str) -> Result<Self, PayloadError> {
        let text = text.trim();
        let fields = tlv(text, 0)?;
        let crc_at = text
            .len()
            .checked_sub(4)
            .ok_or(PayloadError::Malformed(0))?;
        match fields.last() {
            Some(("63", crc)) if crc.len() == 4 => {
                let expected = format!("{:04X}", crc16(&text.as_bytes()[..crc_at]));
                if !crc.eq_ignore_ascii_case(&expected) {
                    return Err(PayloadError::Checksum);
                }
            }
            _ => return Err(PayloadError::Missing("63")),
        }
        let map: BTreeMap<&str, &str> = fields.iter().copied().collect();
        let get = |id: &'static str| map.get(id).copied().ok_or(PayloadError::Missing(id));
        if fields.first().map(|f| f.0) != Some("00") || get("00")? != "01" {
            return Err(PayloadError::Invalid("00"));
        }
        let account: BTreeMap<&str, &str> = tlv(get("26")?, 0)?.into_iter().collect();
        let additional: BTreeMap<&str, &str> = tlv(get("62")?, 0)?.into_iter().collect();
        let currency = get("53")?
            .parse::<u16>()
            .ok()
            .and_then(Currency::from_numeric)
            .ok_or(PayloadError::Invalid("53"))?;
        let amount: Decimal = get("54")?
            .parse()
            .map_err(|_| PayloadError::Invalid("54"))?;
        if amount <= Decimal::ZERO {
            return Err(PayloadError::Invalid("54"));
        }
        let sub = |map: &BTreeMap<&str, &str>, id: &str, name: &'static str| {
            map.get(id)
                .map(|v| (*v).to_owned())
                .ok_or(PayloadError::Missing(name))
        };
        Ok(PaymentPayload {
            processor: sub(&account, "00", "26.00")?,
            account: sub(&account, "01", "26.01")?,
            merchant_category: get("52")?.to_owned(),
            currency,
            amount,
            country: get("58")?.to_owned(),
            merchant_name: get("59")?.to_owned(),
            merchant_city: get("60")?.to_owned(),
            reference: sub(&additional, "05", "62.05")?,
        })
    }
}

/// Splits TLV fields; `offset` places errors in the whole payload.
fn tlv(text: &str, offset: usize) -> Result<Vec<(&str, &str)>, PayloadError> {
    let mut fields = Vec::new();
    let mut rest = text;
    let mut at = offset;
    while !rest.is_empty() {
        let head = rest.get(..4).ok_or(PayloadError::Malformed(at))?;
        let (id, length) = head.split_at(2);
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PayloadError::Malformed(at));
        }
        let length: usize = length.parse().map_err(|_| PayloadError::Malformed(at))?;
        let value_end = rest[4..]
            .char_indices()
            .nth(length)
            .map(|(i, _)| 4 + i)
            .or_else(|| (rest[4..].chars().count() == length).then_some(rest.len()))
            .ok_or(PayloadError::Malformed(at))?;
        fields.push((id, &rest[4..value_end]));
        at += value_end;
        rest = &rest[value_end..];
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PaymentPayload {
        PaymentPayload {
            processor: PROCESSOR_ID.into(),
            account: "VA0000012345".into(),
            merchant_category: "5311".into(),
            currency: Currency::EUR,
            amount: Decimal::new(4250, 2),
            country: "DE".into(),
            merchant_name: "Surge Shop".into(),
            merchant_city: "Berlin".into(),
            reference: "pr_7".into(),
        }
    }

    #[test]
    fn the_checksum_is_crc16_ccitt_false() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn a_payload_has_every_field_in_order_and_reads_back() {
        let text = sample().encode().unwrap();
        assert!(text.starts_with("000201010212"), "{text}");
        assert!(text.contains("5303978"), "currency 978: {text}");
        assert!(text.contains("540542.50"), "amount: {text}");
        assert!(text.contains("62080504pr_7"), "reference: {text}");
        assert_eq!(&text[text.len() - 8..text.len() - 4], "6304");
        assert_eq!(PaymentPayload::parse(&text), Ok(sample()));
    }

    #[test]
    fn a_changed_or_cut_payload_is_refused() {
        let text = sample().encode().unwrap();
        let changed = text.replace("42.50", "02.50");
        assert_eq!(PaymentPayload::parse(&changed), Err(PayloadError::Checksum));
        assert!(PaymentPayload::parse(&text[..text.len() - 10]).is_err());
        assert!(PaymentPayload::parse("hello").is_err());
    }

    #[test]
    fn fields_longer_than_the_standard_allows_are_refused() {
        let mut long = sample();
        long.merchant_name = "A merchant name longer than 25".into();
        assert_eq!(
            long.encode(),
            Err(PayloadError::TooLong { id: "59", max: 25 })
        );
    }
}
