//! Misuse of `#[observe]` is a compile error that points at the offending tokens.

#[test]
fn misuse_is_a_compile_error_pointing_at_the_tokens() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
