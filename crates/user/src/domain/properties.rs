//! Property tests of the user domain: the email validator against its documented rules
//! on arbitrary and near-miss addresses, and arbitrary sequences of registrations,
//! profile updates and deactivations run in memory through `handle`/`apply`.

use platform::cqrs::handle_in_memory;
use proptest::prelude::*;

use super::email::{claim_key, MAX_LENGTH, MAX_LOCAL_LENGTH};
use super::{Email, User, UserCommand, UserStatus};

/// The module documentation's rules, written again independently of the validator.
fn well_formed(raw: &str) -> bool {
    let address = raw.trim();
    let parts: Vec<&str> = address.split('@').collect();
    let [local, domain] = parts.as_slice() else {
        return false;
    };
    !address.is_empty()
        && address.chars().count() <= MAX_LENGTH
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && (1..=MAX_LOCAL_LENGTH).contains(&local.chars().count())
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

/// Addresses near the rules' edges: parts that are empty, long, dotted, spaced,
/// doubled `@`s, non-ASCII letters and control characters.
fn address() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[a-z]{1,8}",
        "[a-zA-Z0-9.+-]{0,12}",
        "[a-z]{60,70}",
        "[a-zé\\. @\t\u{7}]{0,10}",
        Just(String::new()),
    ];
    let structured = (part.clone(), part.clone(), part, "[ \t\n]{0,2}")
        .prop_map(|(local, label, tld, pad)| format!("{pad}{local}@{label}.{tld}{pad}"));
    let plausible = (
        "[a-zA-Z0-9.+_-]{1,10}",
        prop::collection::vec("[a-zé]{1,6}", 2..4),
        "[ \t]{0,1}",
    )
        .prop_map(|(local, labels, pad)| format!("{pad}{local}@{}{pad}", labels.join(".")));
    prop_oneof![3 => plausible, 3 => structured, 1 => ".{0,40}", 1 => "[a-z@.]{0,12}"]
}

fn command() -> impl Strategy<Value = UserCommand> {
    let name = prop_oneof![Just(""), Just("  "), Just("Ann")].prop_map(String::from);
    prop_oneof![
        (address(), name.clone()).prop_map(|(email, name)| UserCommand::RegisterUser {
            user_id: "u1".into(),
            email,
            name
        }),
        name.prop_map(|name| UserCommand::UpdateProfile {
            user_id: "u1".into(),
            name
        }),
        Just(UserCommand::DeactivateUser {
            user_id: "u1".into()
        }),
    ]
}

fn allowed(from: UserStatus, to: UserStatus) -> bool {
    from == to
        || matches!(
            (from, to),
            (UserStatus::New, UserStatus::Active) | (UserStatus::Active, UserStatus::Deactivated)
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_address_is_accepted_exactly_when_it_follows_the_documented_rules(raw in address()) {
        let parsed = Email::parse(&raw);
        prop_assert_eq!(parsed.is_ok(), well_formed(&raw), "{:?}: {:?}", raw, parsed);
        if let Ok(email) = parsed {
            prop_assert_eq!(email.as_str(), raw.trim());
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            prop_assert_eq!(email.claim_key(), claim_key(&raw.to_ascii_uppercase()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_user_keeps_a_well_formed_email_and_a_deactivated_one_stays_deactivated(
        commands in prop::collection::vec(command(), 0..12),
    ) {
        let mut user = User::default();
        for command in commands {
            let (after, result) = handle_in_memory(&user, command, &());
            if result.is_err() {
                prop_assert_eq!(&after, &user, "a rejected command changed the user");
            }
            prop_assert!(allowed(user.status, after.status), "{:?} -> {:?}", user.status, after.status);
            if after.status != UserStatus::New {
                prop_assert!(well_formed(&after.email), "{:?}", after.email);
                prop_assert!(!after.name.trim().is_empty());
            }
            user = after;
        }
    }
}
