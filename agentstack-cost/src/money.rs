//! Exact money: [`Usd`] amounts and [`TokenPrice`] per-token prices as integers of
//! femtodollars (10⁻¹⁵ USD), so that sums of millions of span costs never drift the way `f64`
//! sums do, and every figure can be printed to the last digit or rounded to the cent.
//!
//! Prices are written in data and config as decimal text in USD per million tokens
//! (`"2.5"` for $2.50 / 1M tokens), parsed exactly by [`TokenPrice::from_usd_per_million`].

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Femtodollars in one dollar.
pub const FEMTOS_PER_USD: i128 = 1_000_000_000_000_000;
/// Decimal digits of a dollar amount kept exactly (femtodollars).
const USD_SCALE: u32 = 15;
/// Decimal digits of a USD-per-million-tokens price kept exactly (femtodollars per token).
const PER_MILLION_SCALE: u32 = 9;

/// Why a decimal amount or price could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Not a decimal number.
    #[error(
        "{text:?} is not a decimal number; write an amount like \"2.5\", \"0.000125\" or \"1e-3\""
    )]
    NotANumber {
        /// The text given.
        text: String,
    },
    /// More decimal places than can be kept exactly.
    #[error(
        "{text:?} has more decimal places than can be kept exactly ({digits} after the point \
         at most); round it"
    )]
    TooPrecise {
        /// The text given.
        text: String,
        /// The most decimal places allowed.
        digits: u32,
    },
    /// A price below zero.
    #[error("{text:?} is negative; a price cannot be below zero")]
    Negative {
        /// The text given.
        text: String,
    },
    /// Too large to hold.
    #[error("{text:?} is too large for a price or an amount")]
    TooLarge {
        /// The text given.
        text: String,
    },
}

/// What to do with digits past the last one kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtraDigits {
    /// Refuse them ([`MoneyError::TooPrecise`]).
    Refuse,
    /// Round half to even (for LiteLLM's binary floating-point prices, whose shortest decimal
    /// form can carry noise such as `5.0000000000000004e-08`).
    Round,
}

/// Parses decimal text (`-1.25`, `3`, `2.5e-6`) into an integer of `10^-scale` units.
pub(crate) fn parse_scaled(text: &str, scale: u32, extra: ExtraDigits) -> Result<i128, MoneyError> {
    let not_a_number = || MoneyError::NotANumber {
        text: text.to_string(),
    };
    let too_large = || MoneyError::TooLarge {
        text: text.to_string(),
    };
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => {
            let exponent: i32 = s[at + 1..].parse().map_err(|_| not_a_number())?;
            (&s[..at], exponent)
        }
        None => (s, 0),
    };
    let (whole, fraction) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, ""),
    };
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(not_a_number());
    }
    // digits × 10^(exponent − fraction digits) in units of 10^-scale:
    // shift = scale + exponent − fraction digits.
    let digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .map(|b| b - b'0')
        .collect();
    let shift = i64::from(scale) + i64::from(exponent) - fraction.len() as i64;
    let mut value: i128 = 0;
    let (kept, dropped): (&[u8], &[u8]) = if shift >= 0 {
        (&digits, &[])
    } else {
        let drop = usize::try_from(-shift)
            .unwrap_or(usize::MAX)
            .min(digits.len());
        digits.split_at(digits.len() - drop)
    };
    for d in kept {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(*d)))
            .ok_or_else(too_large)?;
    }
    if shift > 0 {
        let factor = 10i128
            .checked_pow(u32::try_from(shift).map_err(|_| too_large())?)
            .ok_or_else(too_large)?;
        value = value.checked_mul(factor).ok_or_else(too_large)?;
    }
    // Digits below the unit, when the shift went past all the digits (e.g. 1e-40).
    let all_dropped_beyond =
        shift < 0 && usize::try_from(-shift).unwrap_or(usize::MAX) > digits.len();
    if dropped.iter().any(|d| *d != 0) || (all_dropped_beyond && digits.iter().any(|d| *d != 0)) {
        match extra {
            ExtraDigits::Refuse => {
                return Err(MoneyError::TooPrecise {
                    text: text.to_string(),
                    digits: scale,
                });
            }
            ExtraDigits::Round => {
                if !all_dropped_beyond {
                    // Round half to even on the dropped digits.
                    let first = dropped[0];
                    let rest_nonzero = dropped[1..].iter().any(|d| *d != 0);
                    let round_up = first > 5 || (first == 5 && (rest_nonzero || value % 2 == 1));
                    if round_up {
                        value = value.checked_add(1).ok_or_else(too_large)?;
                    }
                }
            }
        }
    }
    Ok(if negative { -value } else { value })
}

/// Writes `value` units of `10^-scale` to `out` as the shortest exact decimal text, in one
/// `write_str` and without allocating: the cost worker writes six amounts per priced span, and
/// a JSON serializer escapes each write it is given. An amount and unit within 64 bits (every
/// single span's cost: up to about $18,000 in femtodollars) take 64-bit arithmetic; a larger
/// one takes [`format_scaled_wide`].
fn write_scaled(out: &mut impl fmt::Write, value: i128, scale: u32) -> fmt::Result {
    let (Ok(magnitude), Ok(unit)) = (
        u64::try_from(value.unsigned_abs()),
        u64::try_from(10u128.pow(scale)),
    ) else {
        return out.write_str(&format_scaled_wide(value, scale));
    };
    // Filled from the right: a sign, up to 20 whole digits, a point and up to 19 decimals.
    let mut text = [0u8; 41];
    let mut at = text.len();
    let mut push = |byte: u8| {
        at -= 1;
        text[at] = byte;
    };
    let (mut whole, mut fraction) = (magnitude / unit, magnitude % unit);
    if fraction != 0 {
        // The fraction's `scale` digits, zero-padded on the left, without its trailing zeros.
        let mut width = scale;
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        for _ in 0..width {
            push(b'0' + (fraction % 10) as u8);
            fraction /= 10;
        }
        push(b'.');
    }
    loop {
        push(b'0' + (whole % 10) as u8);
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    if value < 0 {
        push(b'-');
    }
    out.write_str(std::str::from_utf8(&text[at..]).expect("digits, a point and a sign are ASCII"))
}

/// [`write_scaled`] of any `i128`, through 128-bit arithmetic and temporary strings.
fn format_scaled_wide(value: i128, scale: u32) -> String {
    let unit = 10i128.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let whole = magnitude / unit as u128;
    let fraction = magnitude % unit as u128;
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:0width$}", width = scale as usize);
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// An exact amount of US dollars, held as an integer count of femtodollars (10⁻¹⁵ USD).
///
/// Serialized as exact decimal text (`"0.0125"`), so the API and the store never round it; use
/// [`Usd::round_to_cents`] to show it, [`Usd::femtos`] to store it as an integer (ClickHouse
/// `Int128` or `Decimal128(15)`, SQLite as text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(i128);

impl Usd {
    /// Nothing.
    pub const ZERO: Usd = Usd(0);

    /// `femtos` femtodollars.
    pub const fn from_femtos(femtos: i128) -> Usd {
        Usd(femtos)
    }

    /// The amount in femtodollars.
    pub const fn femtos(self) -> i128 {
        self.0
    }

    /// A whole number of cents.
    pub const fn from_cents(cents: i64) -> Usd {
        Usd(cents as i128 * (FEMTOS_PER_USD / 100))
    }

    /// Parses decimal dollars (`"12.50"`, `"0.000001"`), exactly; more than 15 decimal places
    /// is an error.
    pub fn from_decimal_str(text: &str) -> Result<Usd, MoneyError> {
        parse_scaled(text, USD_SCALE, ExtraDigits::Refuse).map(Usd)
    }

    /// Converts a dollar amount that a producer sent as a floating-point attribute: its shortest
    /// decimal form, rounded to the femtodollar. `None` for NaN or infinities.
    pub fn from_f64_lossy(dollars: f64) -> Option<Usd> {
        if !dollars.is_finite() {
            return None;
        }
        // `Display` of f64 is the shortest text that reads back as the same f64.
        parse_scaled(&dollars.to_string(), USD_SCALE, ExtraDigits::Round)
            .ok()
            .map(Usd)
    }

    /// The amount in whole cents, rounded half away from zero ($0.005 → 1 cent).
    pub fn round_to_cents(self) -> i128 {
        let per_cent = FEMTOS_PER_USD / 100;
        let half = per_cent / 2;
        if self.0 >= 0 {
            (self.0 + half) / per_cent
        } else {
            (self.0 - half) / per_cent
        }
    }

    /// The amount as an `f64` of dollars, for charts only: never add these up.
    pub fn to_f64_lossy(self) -> f64 {
        self.0 as f64 / FEMTOS_PER_USD as f64
    }

    /// Adds, `None` on overflow (past 10⁸ trillion dollars).
    pub fn checked_add(self, other: Usd) -> Option<Usd> {
        self.0.checked_add(other.0).map(Usd)
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Usd {
    /// Exact decimal dollars, without trailing zeros: `0.0125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_scaled(f, self.0, USD_SCALE)
    }
}

impl FromStr for Usd {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Usd, MoneyError> {
        Usd::from_decimal_str(s)
    }
}

impl Add for Usd {
    type Output = Usd;
    fn add(self, other: Usd) -> Usd {
        Usd(self.0 + other.0)
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, other: Usd) {
        self.0 += other.0;
    }
}

impl Sub for Usd {
    type Output = Usd;
    fn sub(self, other: Usd) -> Usd {
        Usd(self.0 - other.0)
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Usd {
    /// Decimal text (`"0.0125"`), or a JSON number (read through its shortest decimal form).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Usd, D::Error> {
        let text = DecimalText::deserialize(deserializer)?;
        Usd::from_decimal_str(&text.0).map_err(serde::de::Error::custom)
    }
}

/// A price per token, held as an integer count of femtodollars per token.
///
/// Written in data and config as decimal USD per million tokens: `"2.5"` is $2.50 per 1M tokens,
/// 2,500,000,000 femtodollars per token. Nine decimal places per million tokens are kept exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenPrice(u64);

impl TokenPrice {
    /// Free.
    pub const ZERO: TokenPrice = TokenPrice(0);

    /// `femtos` femtodollars per token.
    pub const fn from_femtos_per_token(femtos: u64) -> TokenPrice {
        TokenPrice(femtos)
    }

    /// Femtodollars per token.
    pub const fn femtos_per_token(self) -> u64 {
        self.0
    }

    /// Parses decimal USD per million tokens, exactly.
    pub fn from_usd_per_million(text: &str) -> Result<TokenPrice, MoneyError> {
        Self::from_scaled(
            text,
            parse_scaled(text, PER_MILLION_SCALE, ExtraDigits::Refuse)?,
        )
    }

    /// Converts a LiteLLM price (USD per token, a binary float): its shortest decimal form,
    /// rounded half to even to the femtodollar per token.
    pub(crate) fn from_litellm_usd_per_token(dollars: f64) -> Result<TokenPrice, MoneyError> {
        let text = dollars.to_string();
        Self::from_scaled(&text, parse_scaled(&text, USD_SCALE, ExtraDigits::Round)?)
    }

    fn from_scaled(text: &str, value: i128) -> Result<TokenPrice, MoneyError> {
        if value < 0 {
            return Err(MoneyError::Negative {
                text: text.to_string(),
            });
        }
        u64::try_from(value)
            .map(TokenPrice)
            .map_err(|_| MoneyError::TooLarge {
                text: text.to_string(),
            })
    }

    /// The cost of `tokens` tokens at this price, exactly.
    pub fn cost_of(self, tokens: u64) -> Usd {
        Usd(i128::from(self.0) * i128::from(tokens))
    }

    /// The price as decimal USD per million tokens (`"2.5"`).
    pub fn usd_per_million(self) -> String {
        let mut text = String::new();
        write_scaled(&mut text, i128::from(self.0), PER_MILLION_SCALE)
            .expect("writing to a String cannot fail");
        text
    }
}

impl fmt::Display for TokenPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${} / 1M tokens", self.usd_per_million())
    }
}

impl Serialize for TokenPrice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.usd_per_million())
    }
}

impl<'de> Deserialize<'de> for TokenPrice {
    /// Decimal text of USD per million tokens (`"2.5"`), or a JSON number of the same.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TokenPrice, D::Error> {
        let text = DecimalText::deserialize(deserializer)?;
        TokenPrice::from_usd_per_million(&text.0).map_err(serde::de::Error::custom)
    }
}

/// A decimal number given as a JSON string or a JSON number (whose shortest form is taken).
struct DecimalText(String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DecimalText, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(serde_json::Number),
        }
        Ok(DecimalText(match Either::deserialize(deserializer)? {
            Either::Text(text) => text,
            Either::Number(number) => number.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_parses_exactly() {
        assert_eq!(Usd::from_decimal_str("1").unwrap().femtos(), FEMTOS_PER_USD);
        assert_eq!(
            Usd::from_decimal_str("0.000000000000001").unwrap().femtos(),
            1
        );
        assert_eq!(
            Usd::from_decimal_str("-2.5").unwrap().femtos(),
            -25 * FEMTOS_PER_USD / 10
        );
        assert_eq!(
            Usd::from_decimal_str("2.5e-6").unwrap().femtos(),
            2_500_000_000
        );
        assert_eq!(
            Usd::from_decimal_str("1E2").unwrap().femtos(),
            100 * FEMTOS_PER_USD
        );
        assert!(matches!(
            Usd::from_decimal_str("0.0000000000000001"),
            Err(MoneyError::TooPrecise { .. })
        ));
        for bad in ["", ".", "abc", "1.2.3", "1e", "--1", "1,5"] {
            assert!(
                matches!(
                    Usd::from_decimal_str(bad),
                    Err(MoneyError::NotANumber { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn prices_per_million_tokens() {
        let price = TokenPrice::from_usd_per_million("2.5").unwrap();
        assert_eq!(price.femtos_per_token(), 2_500_000_000);
        assert_eq!(price.usd_per_million(), "2.5");
        assert_eq!(
            price.cost_of(1_000_000),
            Usd::from_decimal_str("2.5").unwrap()
        );
        assert_eq!(
            TokenPrice::from_usd_per_million("0.000000001")
                .unwrap()
                .femtos_per_token(),
            1
        );
        assert!(matches!(
            TokenPrice::from_usd_per_million("-1"),
            Err(MoneyError::Negative { .. })
        ));
        assert!(matches!(
            TokenPrice::from_usd_per_million("0.0000000001"),
            Err(MoneyError::TooPrecise { .. })
        ));
    }

    #[test]
    fn litellm_float_noise_rounds_to_the_femtodollar() {
        // 5e-8 USD/token is stored by LiteLLM as the double 5.0000000000000004e-08.
        let price = TokenPrice::from_litellm_usd_per_token(5.000_000_000_000_000_4e-8).unwrap();
        assert_eq!(price.femtos_per_token(), 50_000_000);
        assert_eq!(
            TokenPrice::from_litellm_usd_per_token(3.75e-6)
                .unwrap()
                .usd_per_million(),
            "3.75"
        );
        // 3.59375e-08 needs the femtodollar: 35,937,500 femtodollars per token.
        assert_eq!(
            TokenPrice::from_litellm_usd_per_token(3.59375e-8)
                .unwrap()
                .femtos_per_token(),
            35_937_500
        );
    }

    #[test]
    fn display_and_cents() {
        let amount = Usd::from_decimal_str("0.0125").unwrap();
        assert_eq!(amount.to_string(), "0.0125");
        assert_eq!(amount.round_to_cents(), 1);
        assert_eq!(Usd::from_decimal_str("0.015").unwrap().round_to_cents(), 2);
        assert_eq!(Usd::from_decimal_str("0.0149").unwrap().round_to_cents(), 1);
        assert_eq!(
            Usd::from_decimal_str("-0.015").unwrap().round_to_cents(),
            -2
        );
        assert_eq!(Usd::from_cents(1234).to_string(), "12.34");
        assert_eq!(Usd::ZERO.to_string(), "0");
        assert_eq!(serde_json::to_string(&amount).unwrap(), "\"0.0125\"");
        let back: Usd = serde_json::from_str("\"0.0125\"").unwrap();
        assert_eq!(back, amount);
        let from_number: Usd = serde_json::from_str("0.0125").unwrap();
        assert_eq!(from_number, amount);
    }

    #[test]
    fn amounts_print_alike_within_and_beyond_64_bits() {
        let text = |femtos: i128| Usd::from_femtos(femtos).to_string();
        assert_eq!(text(1), "0.000000000000001");
        assert_eq!(text(-1), "-0.000000000000001");
        assert_eq!(text(10_000_000_000_000), "0.01");
        assert_eq!(text(-1_230_000_000_000_000), "-1.23");
        assert_eq!(text(1_000_000_000_000_000), "1");
        assert_eq!(text(1_000_000_000_000_001), "1.000000000000001");
        assert_eq!(text(-1_000_000_000_000_000), "-1");
        // Beyond 64 bits (above ~$18,446): the wide path, same text.
        assert_eq!(text(20_000_500_000_000_000_000), "20000.5");
        assert_eq!(text(-20_000_000_000_000_000_000), "-20000");
        assert_eq!(text(i128::MAX), "170141183460469231731687.303715884105727");
        for femtos in [
            0,
            7,
            -7,
            999_999_999_999_999,
            123_456_789_012_345_678,
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
            -i128::from(u64::MAX) - 1,
        ] {
            assert_eq!(
                text(femtos),
                format_scaled_wide(femtos, USD_SCALE),
                "{femtos}"
            );
        }
    }

    #[test]
    fn sums_do_not_drift() {
        // 0.1 added ten times is exactly 1 (in f64 it is 0.9999999999999999).
        let tenth = Usd::from_decimal_str("0.1").unwrap();
        let total: Usd = std::iter::repeat_n(tenth, 10).sum();
        assert_eq!(total, Usd::from_decimal_str("1").unwrap());
        assert_eq!(Usd::from_f64_lossy(0.1).unwrap(), tenth);
        assert_eq!(Usd::from_f64_lossy(f64::NAN), None);
    }
}
