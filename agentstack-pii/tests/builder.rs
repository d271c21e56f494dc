//! [`PiiScannerBuilder`](agentstack_pii::PiiScannerBuilder): custom patterns, turning detectors off,
//! and the error for a pattern that does not compile.

use std::error::Error;

use agentstack_pii::{PiiKind, PiiScanner};

#[test]
fn custom_pattern_is_found_and_named() {
    let scanner = PiiScanner::builder()
        .custom("employee_id", r"\bEMP-[0-9]{6}\b")
        .build()
        .unwrap();
    let redaction = scanner.redact("EMP-004211 wrote to alice@example.com; EMP-12 did not");
    assert_eq!(
        redaction.text,
        "[REDACTED:employee_id] wrote to [REDACTED:email]; EMP-12 did not"
    );
    assert_eq!(
        redaction.counts.get(&PiiKind::Custom("employee_id".into())),
        Some(&1)
    );
    assert_eq!(redaction.counts.get(&PiiKind::Email), Some(&1));
    assert!(
        scanner
            .kinds()
            .contains(&PiiKind::Custom("employee_id".into()))
    );
}

#[test]
fn only_custom_patterns_when_builtins_are_off() {
    let scanner = PiiScanner::builder()
        .builtin(false)
        .custom("project", r"project-[a-z]+")
        .custom("project", r"proj#[0-9]+")
        .build()
        .unwrap();
    assert_eq!(scanner.kinds(), vec![PiiKind::Custom("project".into())]);
    let redaction = scanner.redact("project-apollo proj#7 alice@example.com");
    assert_eq!(
        redaction.text,
        "[REDACTED:project] [REDACTED:project] alice@example.com"
    );
    assert_eq!(redaction.total(), 2);
}

#[test]
fn empty_custom_matches_are_ignored() {
    let scanner = PiiScanner::builder()
        .builtin(false)
        .custom("maybe", r"x*")
        .build()
        .unwrap();
    assert_eq!(
        scanner.redact("abc xx def").text,
        "abc [REDACTED:maybe] def"
    );
    assert!(scanner.find_all("abc").is_empty());
}

#[test]
fn disable_builtin_and_custom_kinds() {
    let scanner = PiiScanner::builder()
        .disable(PiiKind::Phone)
        .disable(PiiKind::Custom("noisy".into()))
        .custom("noisy", r"[a-z]+")
        .build()
        .unwrap();
    assert!(!scanner.kinds().contains(&PiiKind::Phone));
    assert!(scanner.kinds().contains(&PiiKind::Email));
    assert_eq!(
        scanner.redact("call 555-123-4567 or a@b.io").text,
        "call 555-123-4567 or [REDACTED:email]"
    );
}

#[test]
fn malformed_custom_pattern_names_the_pattern() {
    let err = PiiScanner::builder()
        .custom("fine", r"[0-9]+")
        .custom("order_id", r"ORD-([0-9]+")
        .build()
        .unwrap_err();
    assert_eq!(err.name(), "order_id");
    let message = err.to_string();
    assert!(message.contains("`order_id`"), "{message}");
    assert!(message.contains("unclosed group"), "{message}");
    assert!(err.source().is_some());
    assert!(matches!(err.regex_error(), regex::Error::Syntax(_)));
}

#[test]
fn builtin_scanner_is_shared_and_debuggable() {
    let a = PiiScanner::builtin();
    let b = PiiScanner::default();
    assert_eq!(a.kinds(), b.kinds());
    assert_eq!(
        a.kinds(),
        vec![
            PiiKind::Email,
            PiiKind::Phone,
            PiiKind::Ssn,
            PiiKind::PaymentCard,
            PiiKind::Iban,
            PiiKind::Secret,
        ]
    );
    assert!(format!("{a:?}").contains("PiiScanner"));
    assert_eq!(PiiKind::PaymentCard.to_string(), "payment_card");
    assert_eq!(PiiKind::Custom("x".into()).as_str(), "x");
}
