//! Behaviour of the built-in detectors through the public API: what each one finds, what it must leave
//! alone in ordinary agent traffic, and the exact output of redaction.
//!
//! Each negative case is a string that a looser detector would flag; together they pin the false-positive
//! rules in `src/detectors.rs`.

use std::borrow::Cow;

use agentstack_pii::{PiiKind, PiiMatch, PiiScanner};

/// The substrings of `text` found by the built-in scanner, with their kinds.
fn found(text: &str) -> Vec<(PiiKind, &str)> {
    PiiScanner::builtin()
        .find_all(text)
        .into_iter()
        .map(|m| (m.kind.clone(), &text[m.range()]))
        .collect()
}

/// Asserts that `text` contains exactly one match, of `kind`, covering `expected`.
#[track_caller]
fn assert_one(text: &str, kind: PiiKind, expected: &str) {
    assert_eq!(found(text), vec![(kind, expected)], "in {text:?}");
}

#[track_caller]
fn assert_none(text: &str) {
    assert_eq!(found(text), vec![], "expected no match in {text:?}");
}

// --- email -------------------------------------------------------------------------------------------

#[test]
fn email_positive() {
    assert_one(
        "mail alice@example.com now",
        PiiKind::Email,
        "alice@example.com",
    );
    assert_one(
        "<john.doe+agents@mail.example.co.uk>",
        PiiKind::Email,
        "john.doe+agents@mail.example.co.uk",
    );
    assert_one(
        "Ends a sentence: bob@corp.io.",
        PiiKind::Email,
        "bob@corp.io",
    );
    assert_one(
        r#"{"to":"carol_99@x-y.org"}"#,
        PiiKind::Email,
        "carol_99@x-y.org",
    );
    assert_one("josé@exemple.fr", PiiKind::Email, "josé@exemple.fr");
    // JSON-escaped newline right before the address.
    assert_one(
        r"line one\nalice@example.com",
        PiiKind::Email,
        "alice@example.com",
    );
}

#[test]
fn email_negative() {
    assert_none("@alice mentioned me");
    assert_none("npm install lodash@4.17.21 and react@latest");
    assert_none("user@localhost");
    assert_none("see icon@2x.png and logo@3x.jpeg");
    assert_none("decorator @app.route('/x')");
}

// --- phone -------------------------------------------------------------------------------------------

#[test]
fn phone_positive() {
    for (text, phone) in [
        ("call (555) 123-4567 today", "(555) 123-4567"),
        ("call 555-123-4567 today", "555-123-4567"),
        ("call 555.123.4567 today", "555.123.4567"),
        ("toll free 1-800-555-0199", "1-800-555-0199"),
        ("uk +44 20 7946 0958", "+44 20 7946 0958"),
        ("us +1 (555) 123-4567", "+1 (555) 123-4567"),
        ("fr +33 1 23 45 67 89.", "+33 1 23 45 67 89"),
        ("de +49-30-901820", "+49-30-901820"),
        ("e164 +14155552671", "+14155552671"),
    ] {
        assert_one(text, PiiKind::Phone, phone);
    }
}

#[test]
fn phone_negative() {
    // Bare digit runs, without + or separators.
    assert_none("call 5551234567 or 15551234567");
    // Short + numbers: deltas, not phones.
    assert_none("tokens +1500, cost +12345678");
    // Timestamp offsets.
    assert_none("2024-01-15T10:30:00+05:30 and 2024-01-15T10:30:00+0000");
    // Area codes cannot start with 0 or 1.
    assert_none("ids 055-123-4567 and 155-123-4567");
    // Part of longer dotted or dashed tokens: IPs, versions, UUID-like ids.
    assert_none("10.555.123.4567 and 555-123-4567-89 and v2.555.123.4567");
}

// --- SSN ---------------------------------------------------------------------------------------------

#[test]
fn ssn_positive() {
    assert_one("SSN: 123-45-6789.", PiiKind::Ssn, "123-45-6789");
    assert_one("ssn=078-05-1121", PiiKind::Ssn, "078-05-1121");
}

#[test]
fn ssn_invalid_ranges_are_not_flagged() {
    for ssn in [
        "000-45-6789",
        "666-45-6789",
        "900-45-6789",
        "999-45-6789",
        "123-00-6789",
        "123-45-0000",
    ] {
        assert_none(&format!("SSN: {ssn}"));
    }
}

#[test]
fn ssn_needs_dashes_and_standalone_token() {
    assert_none("ssn 123456789");
    assert_none("ssn 123 45 6789");
    assert_none("order 9123-45-6789 and 123-45-67890");
}

// --- payment cards -----------------------------------------------------------------------------------

#[test]
fn card_positive() {
    for (text, card) in [
        ("card 4111111111111111 exp", "4111111111111111"),
        ("card 4111 1111 1111 1111 exp", "4111 1111 1111 1111"),
        ("card 4111-1111-1111-1111 exp", "4111-1111-1111-1111"),
        ("mc 5555555555554444", "5555555555554444"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
        ("amex 378282246310005", "378282246310005"),
        ("discover 6011111111111117", "6011111111111117"),
        ("diners 30569309025904", "30569309025904"),
        // A following number is not swallowed into the card, nor a preceding one.
        ("card 4111 1111 1111 1111 2024", "4111 1111 1111 1111"),
        ("qty 1234 4111 1111 1111 1111", "4111 1111 1111 1111"),
    ] {
        assert_one(text, PiiKind::PaymentCard, card);
    }
}

#[test]
fn card_negative() {
    // Luhn fails.
    assert_none("card 4111111111111112");
    assert_none("card 4111 1111 1111 1112");
    // Luhn passes but no card scheme starts with 1, 7, 8, 9 or 0.
    assert_none("id 1111111111111117");
    assert_none("id 9111111111111113");
    // Mixed separators.
    assert_none("card 4111 1111-1111 1111 and amex 3782 822463-10005");
    // Too long to be a card, and decimals.
    assert_none("id 41111111111111111111111 and 0.4111111111111111");
}

// --- IBAN --------------------------------------------------------------------------------------------

#[test]
fn iban_positive() {
    for (text, iban) in [
        (
            "pay to DE89 3704 0044 0532 0130 00 please",
            "DE89 3704 0044 0532 0130 00",
        ),
        ("pay to DE89370400440532013000.", "DE89370400440532013000"),
        ("iban: GB82WEST12345698765432", "GB82WEST12345698765432"),
        (
            "iban: GB82 WEST 1234 5698 7654 32",
            "GB82 WEST 1234 5698 7654 32",
        ),
        ("BE68 5390 0754 7034 CASH", "BE68 5390 0754 7034"),
        ("NL91ABNA0417164300", "NL91ABNA0417164300"),
    ] {
        assert_one(text, PiiKind::Iban, iban);
    }
}

#[test]
fn iban_bad_checksum_is_not_flagged() {
    assert_none("pay to DE89 3704 0044 0532 0130 01");
    assert_none("iban: GB83WEST12345698765432");
    // Wrong length for the country.
    assert_none("iban: DE8937040044053201300");
    // Looks like an IBAN, but is an identifier.
    assert_none("build AB12CDEFGHIJKLMNOPQR");
}

// --- secrets -----------------------------------------------------------------------------------------

#[test]
fn secret_positive() {
    let aws = "AKIAIOSFODNN7EXAMPLE";
    let aws_tmp = "ASIAY34FZKBOKMUTVV7A";
    let openai = "sk-abcdefghij1234567890ABCDEFGHIJ1234567890abcdefgh";
    let openai_proj = "sk-proj-Ab3dEf6hIj9kLmN0pQr5tUv8wXyZ_12-34ab";
    let anthropic = "sk-ant-api03-Ab3dEf6hIj9kLmN0pQr5tUv8wXyZ12345-abcdefAA";
    let github = "ghp_1234567890abcdefghijABCDEFGHIJ123456";
    let github_o = "gho_1234567890abcdefghijABCDEFGHIJ123456";
    let github_pat =
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU";
    let google = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY";
    let slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
    let stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let stripe_rk = "rk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    for secret in [
        aws,
        aws_tmp,
        openai,
        openai_proj,
        anthropic,
        github,
        github_o,
        github_pat,
        google,
        slack,
        stripe,
        stripe_rk,
        jwt,
    ] {
        assert_one(&format!("key = \"{secret}\";"), PiiKind::Secret, secret);
        assert_one(&format!("key: {secret}"), PiiKind::Secret, secret);
    }
}

#[test]
fn bearer_keeps_the_word_and_redacts_the_token() {
    let text = "Authorization: Bearer 8f2b1c9d7e6a5f4b3c2d1e0f9a8b7c6d, then";
    assert_eq!(
        PiiScanner::builtin().redact(text).text,
        "Authorization: Bearer [REDACTED:secret], then"
    );
    assert_one(
        "authorization: bearer AbCdEfGhIjKlMnOp.QrStUv~xyz+/==.",
        PiiKind::Secret,
        "AbCdEfGhIjKlMnOp.QrStUv~xyz+/==",
    );
    // A JWT after Bearer is one match, not two.
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz";
    assert_one(&format!("Bearer {jwt}"), PiiKind::Secret, jwt);
}

#[test]
fn pem_private_key_block_multiline() {
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onL\n-----END RSA PRIVATE KEY-----";
    let text = format!("here is my key:\n{key}\nthanks");
    assert_one(&text, PiiKind::Secret, key);
    assert_eq!(
        PiiScanner::builtin().redact(&text).text,
        "here is my key:\n[REDACTED:secret]\nthanks"
    );
    // OpenSSH and PKCS#8 headers, and JSON-escaped newlines.
    let escaped = r"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    assert_one(
        &format!("{{\"k\":\"{escaped}\"}}"),
        PiiKind::Secret,
        escaped,
    );
    // A block cut off before its END line (a truncated capture) is still redacted.
    let truncated = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    assert_one(truncated, PiiKind::Secret, truncated);
    // Public keys and certificates are not secrets.
    assert_none("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEF\n-----END PUBLIC KEY-----");
}

#[test]
fn secret_negative() {
    // Prose and identifiers that share a prefix.
    assert_none("use a Bearer token in the header; Bearer authentication is standard");
    assert_none("pip install sk-learn-tutorial-for-beginners");
    assert_none("task-1234567890abcdefghijklmn and disk-1234567890abcdefghijklmn");
    assert_none("AKIA is the prefix; AKIAIOSFODNN7EXAMPLEEXTRA is too long");
    assert_none("ghp_short and xoxb-notatoken-word");
    assert_none("placeholder Bearer $OPENAI_API_KEY");
}

// --- traffic that must stay untouched ----------------------------------------------------------------

#[test]
fn ordinary_agent_traffic_is_not_flagged() {
    let traffic = [
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
        "trace_id=12345678901234567890123456789012",
        "uuid 550e8400-e29b-41d4-a716-446655440000 and 12345678-1234-1234-1234-123456789012",
        "2024-01-15T10:30:00.123Z 2024-01-15 10:30:00 1705314600 1705314600123 1705314600123456789",
        "model gpt-4o-2024-08-06 v1.2.3 version 10.11.12 semver 1.0.0-rc.1",
        "input_tokens=1532 output_tokens=4096 total=5628 cost=$0.0123 price $1,234.56",
        "latency 123.456 ms, 4111 spans, 1234567890 bytes, 9999999999999",
        "ip 192.168.1.100 port 8080 pid 12345",
        r#"{"gen_ai.usage.input_tokens": 1200, "gen_ai.request.model": "claude-3-5-sonnet-20241022"}"#,
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "call_id toolu_01A09q90qw90lq917835lq9 and chatcmpl-8XyZ123abc456",
    ];
    for text in traffic {
        assert_none(text);
        let redaction = PiiScanner::builtin().redact(text);
        assert!(
            matches!(redaction.text, Cow::Borrowed(_)),
            "copied {text:?}"
        );
        assert!(redaction.counts.is_empty());
    }
}

// --- redaction, counts, overlaps, UTF-8 --------------------------------------------------------------

#[test]
fn redaction_output_and_counts() {
    let text = "Alice <alice@example.com>, bob@example.org, 555-123-4567, SSN 123-45-6789, \
                card 4111 1111 1111 1111, IBAN DE89370400440532013000, key AKIAIOSFODNN7EXAMPLE.";
    let redaction = PiiScanner::builtin().redact(text);
    assert_eq!(
        redaction.text,
        "Alice <[REDACTED:email]>, [REDACTED:email], [REDACTED:phone], SSN [REDACTED:ssn], \
         card [REDACTED:payment_card], IBAN [REDACTED:iban], key [REDACTED:secret]."
    );
    assert!(matches!(redaction.text, Cow::Owned(_)));
    let counts: Vec<(&str, usize)> = redaction
        .counts
        .iter()
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("email", 2),
            ("phone", 1),
            ("ssn", 1),
            ("payment_card", 1),
            ("iban", 1),
            ("secret", 1),
        ]
    );
    assert_eq!(redaction.total(), 7);
}

#[test]
fn find_all_is_sorted_with_byte_ranges() {
    let text = "a@b.io then 555-123-4567";
    assert_eq!(
        PiiScanner::builtin().find_all(text),
        vec![
            PiiMatch {
                kind: PiiKind::Email,
                start: 0,
                end: 6
            },
            PiiMatch {
                kind: PiiKind::Phone,
                start: 12,
                end: 24
            },
        ]
    );
}

#[test]
fn adjacent_matches_are_all_found() {
    assert_eq!(
        PiiScanner::builtin()
            .redact("555-123-4567 555-123-4568,a@b.io;c@d.io")
            .text,
        "[REDACTED:phone] [REDACTED:phone],[REDACTED:email];[REDACTED:email]"
    );
}

#[test]
fn overlapping_matches_become_one_with_the_longer_kind() {
    // The phone number is the start of an email address: one email, not a phone plus a fragment.
    let text = "write to 555-123-4567@sms.example.com";
    assert_one(text, PiiKind::Email, "555-123-4567@sms.example.com");
    assert_eq!(
        PiiScanner::builtin().redact(text).text,
        "write to [REDACTED:email]"
    );

    // A custom pattern overlapping a built-in one: the longer one names the match, and the match covers
    // both so no fragment of either is left.
    let scanner = PiiScanner::builder()
        .custom("ticket", r"TICKET-[0-9]+ alice")
        .build()
        .unwrap();
    let text = "TICKET-42 alice@example.com";
    let matches = scanner.find_all(text);
    assert_eq!(matches.len(), 1);
    assert_eq!(matches[0].kind, PiiKind::Email);
    assert_eq!(matches[0].range(), 0..text.len());
}

#[test]
fn multibyte_text_around_matches() {
    let text = "Été: écrivez à josé@exemple.fr ou appelez le +33 1 23 45 67 89 — merci 🙏";
    let redaction = PiiScanner::builtin().redact(text);
    assert_eq!(
        redaction.text,
        "Été: écrivez à [REDACTED:email] ou appelez le [REDACTED:phone] — merci 🙏"
    );
    // CJK written right against the data, without spaces.
    let text = "邮箱alice@example.com电话555-123-4567谢谢";
    assert_eq!(
        PiiScanner::builtin().redact(text).text,
        "邮箱[REDACTED:email]电话[REDACTED:phone]谢谢"
    );
    for m in PiiScanner::builtin().find_all(text) {
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
    }
}

#[test]
fn scanner_is_send_sync_and_shared() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<PiiScanner>();
    let scanner = PiiScanner::builtin();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let scanner = scanner.clone();
            std::thread::spawn(move || scanner.redact(&format!("user{i}@example.com")).total())
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 1);
    }
}

/// Deterministic pseudo-random texts built from fragments that trip the detectors' edge cases: every
/// match must lie on char boundaries, be sorted and disjoint, and redaction must not panic.
#[test]
fn invariants_on_generated_text() {
    const FRAGMENTS: &[&str] = &[
        "4",
        "1",
        "5",
        "0",
        "9",
        " ",
        "-",
        ".",
        "@",
        "a",
        "Z",
        "é",
        "電",
        "🙏",
        "+",
        "(",
        ")",
        r"\n",
        "\n",
        "sk-",
        "ghp_",
        "eyJ",
        "Bearer ",
        "=",
        "_",
        "DE89",
        "GB82",
        "4111",
        "555-",
        "123-45-",
        ".com",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "AKIA",
        "xoxb-",
    ];
    let scanner = PiiScanner::builtin();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
            .collect();
        let matches = scanner.find_all(&text);
        let mut last_end = 0;
        for m in &matches {
            assert!(m.start < m.end, "empty match in {text:?}");
            assert!(
                m.start >= last_end,
                "unsorted or overlapping in {text:?}: {matches:?}"
            );
            assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            last_end = m.end;
        }
        let redaction = scanner.redact(&text);
        assert_eq!(redaction.total(), matches.len());
        assert_eq!(
            matches!(redaction.text, Cow::Borrowed(_)),
            matches.is_empty()
        );
    }
}
