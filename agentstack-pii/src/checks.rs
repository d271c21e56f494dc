//! Checksums and range rules that turn a regex candidate into a confirmed match.
//!
//! Each check is a plain function on a string or numbers, public so it can be tested (and reused by the
//! server's scanner) on its own: Luhn for payment cards, ISO 13616 mod-97 for IBANs, SSA rules for SSNs.
//! Written here rather than taken from crates such as `luhn` or `iban_validate`: each check is a dozen
//! lines, and the crate keeps its dependencies to `regex`.

/// Whether `digits` passes the Luhn (mod-10) checksum used by payment card numbers.
///
/// Spaces and dashes are ignored, so `"4111 1111 1111 1111"` and `"4111-1111-1111-1111"` both pass.
/// Any other character, or fewer than two digits, makes the number invalid.
///
/// ```
/// assert!(agentstack_pii::luhn_valid("4111 1111 1111 1111"));
/// assert!(!agentstack_pii::luhn_valid("4111 1111 1111 1112"));
/// ```
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    let mut count = 0usize;
    for c in digits.chars().rev() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            ' ' | '-' => continue,
            _ => return false,
        };
        let d = if count % 2 == 1 {
            let doubled = d * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        } else {
            d
        };
        sum += d;
        count += 1;
    }
    count >= 2 && sum.is_multiple_of(10)
}

/// Whether `s` is a valid IBAN: a known country code, that country's length, two check digits and an
/// alphanumeric BBAN that together pass the ISO 13616 mod-97 checksum.
///
/// Spaces are ignored and letters may be in either case, so the paper form
/// `"DE89 3704 0044 0532 0130 00"` and the electronic form `"DE89370400440532013000"` are both accepted.
///
/// ```
/// assert!(agentstack_pii::iban_valid("GB82 WEST 1234 5698 7654 32"));
/// assert!(!agentstack_pii::iban_valid("GB83 WEST 1234 5698 7654 32"));
/// ```
pub fn iban_valid(s: &str) -> bool {
    let compact: Vec<u8> = s
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() < 15 || compact.len() > 34 {
        return false;
    }
    if !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
        || !compact[4..].iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // Country code and length must agree with the IBAN registry; this alone rejects most random
    // "two letters + digits" tokens before the checksum is even computed.
    let country = [compact[0], compact[1]];
    if iban_length(&country) != Some(compact.len()) {
        return false;
    }
    // Check digits 00, 01 and 99 can never be produced by the algorithm.
    let check = (compact[2] - b'0') * 10 + (compact[3] - b'0');
    if !(2..=98).contains(&check) {
        return false;
    }
    // Move the first four characters to the end, read letters as 10..=35, and take the number mod 97.
    let mut remainder = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        if b.is_ascii_digit() {
            remainder = (remainder * 10 + u32::from(b - b'0')) % 97;
        } else {
            remainder = (remainder * 100 + u32::from(b - b'A' + 10)) % 97;
        }
    }
    remainder == 1
}

/// Total IBAN length for a country, from the SWIFT IBAN registry. `None` for countries without IBANs.
fn iban_length(country: &[u8; 2]) -> Option<usize> {
    let len = match country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FK" | b"FO" | b"GL" | b"NL" | b"SD" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"MN" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"OM" | b"SO" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"LY" | b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"BI" | b"DJ" | b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HN" | b"HU" | b"LB" | b"NI" | b"PL"
        | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" | b"YE" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => return None,
    };
    Some(len)
}

/// Whether the three parts of a US Social Security Number `AAA-GG-SSSS` can have been issued.
///
/// The SSA never issues area 000, 666 or 900–999 (the last are ITINs), group 00, or serial 0000.
///
/// ```
/// assert!(agentstack_pii::ssn_valid(123, 45, 6789));
/// assert!(!agentstack_pii::ssn_valid(666, 45, 6789));
/// ```
pub fn ssn_valid(area: u16, group: u8, serial: u16) -> bool {
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && group < 100
        && serial != 0
        && serial < 10_000
}

/// Whether a digit string has the length and issuer prefix (IIN) of a real card scheme.
///
/// This is what keeps a 16-digit integer that happens to pass Luhn (one in ten do) from being called a
/// card unless it also starts like a Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay or Maestro.
pub(crate) fn card_issuer_plausible(digits: &str) -> bool {
    let len = digits.len();
    let prefix = |n: usize| -> u32 { digits.get(..n).and_then(|p| p.parse().ok()).unwrap_or(0) };
    let p1 = prefix(1);
    let p2 = prefix(2);
    let p3 = prefix(3);
    let p4 = prefix(4);
    match p1 {
        // Visa.
        4 => matches!(len, 13 | 16 | 19),
        // Mastercard 2-series.
        2 => (2221..=2720).contains(&p4) && len == 16,
        // Amex, Diners, JCB.
        3 => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&len))
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&len))
        }
        // Mastercard 51-55, Maestro 50 and 56-59.
        5 => {
            ((51..=55).contains(&p2) && len == 16)
                || ((p2 == 50 || (56..=59).contains(&p2)) && (13..=19).contains(&len))
        }
        // Discover, UnionPay, Maestro 6-series.
        6 => (13..=19).contains(&len),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_known_test_cards() {
        for card in [
            "4111111111111111",
            "4012888888881881",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "4111-1111-1111-1111",
        ] {
            assert!(luhn_valid(card), "{card} should pass Luhn");
        }
    }

    #[test]
    fn luhn_rejects_altered_and_malformed_numbers() {
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid("1234567812345678"));
        assert!(!luhn_valid("4111x111111111111"));
        assert!(!luhn_valid("0"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn iban_accepts_registry_examples() {
        for iban in [
            "DE89 3704 0044 0532 0130 00",
            "DE89370400440532013000",
            "GB82WEST12345698765432",
            "GB82 WEST 1234 5698 7654 32",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "BE68539007547034",
            "NO9386011117947",
            "CH9300762011623852957",
            "gb82west12345698765432",
        ] {
            assert!(iban_valid(iban), "{iban} should be a valid IBAN");
        }
    }

    #[test]
    fn iban_rejects_bad_checksum_length_or_country() {
        // One digit changed.
        assert!(!iban_valid("DE89 3704 0044 0532 0130 01"));
        // Check digits changed.
        assert!(!iban_valid("GB81WEST12345698765432"));
        // Right checksum arithmetic is irrelevant when the length is wrong for the country.
        assert!(!iban_valid("DE8937040044053201300"));
        // Not a country with IBANs.
        assert!(!iban_valid("US12345678901234567"));
        assert!(!iban_valid("DE89-3704-0044-0532-0130-00"));
        assert!(!iban_valid(""));
    }

    #[test]
    fn ssn_ranges() {
        assert!(ssn_valid(123, 45, 6789));
        assert!(ssn_valid(899, 99, 9999));
        assert!(!ssn_valid(0, 45, 6789));
        assert!(!ssn_valid(666, 45, 6789));
        assert!(!ssn_valid(900, 45, 6789));
        assert!(!ssn_valid(999, 45, 6789));
        assert!(!ssn_valid(123, 0, 6789));
        assert!(!ssn_valid(123, 45, 0));
    }

    #[test]
    fn issuer_prefixes() {
        assert!(card_issuer_plausible("4111111111111111"));
        assert!(card_issuer_plausible("378282246310005"));
        assert!(card_issuer_plausible("2221000000000009"));
        assert!(!card_issuer_plausible("1111111111111117"));
        assert!(!card_issuer_plausible("9111111111111111"));
        // Amex prefix with a Visa length.
        assert!(!card_issuer_plausible("3782822463100050"));
    }
}
