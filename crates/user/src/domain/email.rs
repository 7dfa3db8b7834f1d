//! Email addresses: a pure validator (no regex, no DNS look-up) and the key that makes
//! uniqueness case-insensitive.
//!
//! An address is well-formed when, after surrounding whitespace is removed:
//! - it has at most 254 characters (the longest forward path SMTP carries, RFC 5321
//!   §4.5.3.1.3), counted as JSON Schema counts string lengths (Unicode scalar values);
//! - it contains no whitespace and no control character;
//! - it contains exactly one `@`;
//! - its local part (before the `@`) has 1 to 64 characters;
//! - its domain (after the `@`) has at least two labels separated by dots, and no empty
//!   label (so no leading, trailing or doubled dot).
//!
//! This is deliberately narrower than RFC 5322, whose quoted local parts and comments
//! are legal but practically never real addresses, and wider than ASCII, so that
//! internationalised addresses pass. Whether the mailbox exists is not the validator's
//! business: only a confirmation mail could tell.

/// The longest address accepted, in characters.
pub const MAX_LENGTH: usize = 254;
/// The longest local part accepted, in characters.
pub const MAX_LOCAL_LENGTH: usize = 64;

/// Why an address is not well-formed: each rule of the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedEmail {
    #[error("it is empty")]
    Empty,
    #[error("it is longer than {MAX_LENGTH} characters")]
    TooLong,
    #[error("it contains whitespace or a control character")]
    Whitespace,
    #[error("it needs exactly one @")]
    AtSign,
    #[error("the part before the @ needs 1 to {MAX_LOCAL_LENGTH} characters")]
    LocalPart,
    #[error("the domain needs at least one dot and no empty label")]
    Domain,
}

/// A well-formed address, as given but without surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Checks `raw` against every rule, in the order the module documentation lists them.
    pub fn parse(raw: &str) -> Result<Self, MalformedEmail> {
        let address = raw.trim();
        if address.is_empty() {
            return Err(MalformedEmail::Empty);
        }
        if address.chars().count() > MAX_LENGTH {
            return Err(MalformedEmail::TooLong);
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MalformedEmail::Whitespace);
        }
        let (local, domain) = match address.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => (local, domain),
            _ => return Err(MalformedEmail::AtSign),
        };
        if local.is_empty() || local.chars().count() > MAX_LOCAL_LENGTH {
            return Err(MalformedEmail::LocalPart);
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(MalformedEmail::Domain);
        }
        Ok(Self(address.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the claim on this address.
    pub fn claim_key(&self) -> String {
        claim_key(&self.0)
    }
}

/// The id of the `EmailClaim` aggregate for an address: trimmed and lowercased, so
/// `Ann@Example.com` and `ann@example.com` are one address. Total, so the claim can be
/// loaded before the address is validated; the decision validates it.
pub fn claim_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(raw: &str) -> Option<MalformedEmail> {
        Email::parse(raw).err()
    }

    #[test]
    fn a_plain_address_is_well_formed() {
        let email = Email::parse("ann.lee+shop@mail.example.com").expect("well-formed");
        assert_eq!(email.as_str(), "ann.lee+shop@mail.example.com");
    }

    #[test]
    fn surrounding_whitespace_is_removed() {
        let email = Email::parse("  ann@example.com\n").expect("well-formed");
        assert_eq!(email.as_str(), "ann@example.com");
    }

    #[test]
    fn the_case_is_kept_but_the_claim_key_ignores_it() {
        let email = Email::parse("Ann@Example.COM").expect("well-formed");
        assert_eq!(email.as_str(), "Ann@Example.COM");
        assert_eq!(email.claim_key(), "ann@example.com");
        assert_eq!(claim_key(" ANN@example.com "), email.claim_key());
    }

    #[test]
    fn an_internationalised_address_is_well_formed() {
        assert_eq!(reason("josé@bücher.example"), None);
    }

    #[test]
    fn an_empty_or_blank_address_is_malformed() {
        assert_eq!(reason(""), Some(MalformedEmail::Empty));
        assert_eq!(reason(" \t "), Some(MalformedEmail::Empty));
    }

    #[test]
    fn an_address_of_254_characters_is_the_longest_accepted() {
        let domain = format!("{}.example.com", "d".repeat(MAX_LENGTH - 64 - 1 - 12));
        let longest = format!("{}@{domain}", "l".repeat(64));
        assert_eq!(longest.chars().count(), MAX_LENGTH);
        assert_eq!(reason(&longest), None);
        assert_eq!(
            reason(&format!("x{longest}")),
            Some(MalformedEmail::TooLong)
        );
    }

    #[test]
    fn whitespace_or_a_control_character_inside_is_malformed() {
        assert_eq!(
            reason("ann lee@example.com"),
            Some(MalformedEmail::Whitespace)
        );
        assert_eq!(
            reason("ann@exam\u{7}ple.com"),
            Some(MalformedEmail::Whitespace)
        );
    }

    #[test]
    fn an_address_needs_exactly_one_at_sign() {
        assert_eq!(reason("ann.example.com"), Some(MalformedEmail::AtSign));
        assert_eq!(reason("ann@lee@example.com"), Some(MalformedEmail::AtSign));
    }

    #[test]
    fn the_local_part_needs_1_to_64_characters() {
        assert_eq!(reason("@example.com"), Some(MalformedEmail::LocalPart));
        let local = "l".repeat(MAX_LOCAL_LENGTH);
        assert_eq!(reason(&format!("{local}@example.com")), None);
        assert_eq!(
            reason(&format!("{local}x@example.com")),
            Some(MalformedEmail::LocalPart)
        );
    }

    #[test]
    fn the_domain_needs_a_dot_and_no_empty_label() {
        for domain in [
            "localhost",
            "",
            ".example.com",
            "example.com.",
            "example..com",
        ] {
            assert_eq!(
                reason(&format!("ann@{domain}")),
                Some(MalformedEmail::Domain),
                "{domain:?}"
            );
        }
    }
}
