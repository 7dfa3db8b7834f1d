//! The published contract: every event this service emits matches its JSON Schema in
//! `schemas/events/user/`, and the command schemas accept what the domain should judge.

use cqrs_es::DomainEvent;
use platform::schema::SchemaRegistry;
use serde_json::json;

use crate::domain::{EmailClaimEvent, UserEvent};

const EVENT_SCHEMAS: &[(&str, &str)] = &[
    (
        "UserRegistered",
        include_str!("../../../schemas/events/user/UserRegistered.v1.json"),
    ),
    (
        "ProfileUpdated",
        include_str!("../../../schemas/events/user/ProfileUpdated.v1.json"),
    ),
    (
        "UserDeactivated",
        include_str!("../../../schemas/events/user/UserDeactivated.v1.json"),
    ),
    (
        "EmailClaimed",
        include_str!("../../../schemas/events/user/EmailClaimed.v1.json"),
    ),
];

fn assert_matches_schema<E: DomainEvent>(registry: &SchemaRegistry, event: &E) {
    if let Err(err) = registry.validate_event(event) {
        panic!("{} does not match its schema: {err}", event.event_type());
    }
}

#[test]
fn every_event_matches_its_published_schema() {
    let registry = SchemaRegistry::compile(EVENT_SCHEMAS).expect("event schemas compile");
    let user_events = [
        UserEvent::UserRegistered {
            user_id: "u1".into(),
            email: "Ann@Example.com".into(),
            name: "Ann".into(),
        },
        UserEvent::ProfileUpdated {
            user_id: "u1".into(),
            name: "Ann Lee".into(),
        },
        UserEvent::UserDeactivated {
            user_id: "u1".into(),
        },
    ];
    user_events
        .iter()
        .for_each(|e| assert_matches_schema(&registry, e));
    assert_matches_schema(
        &registry,
        &EmailClaimEvent::EmailClaimed {
            email: "ann@example.com".into(),
            user_id: "u1".into(),
        },
    );
}

#[test]
fn the_register_schema_leaves_the_address_to_the_domain_but_bounds_it() {
    let registry =
        SchemaRegistry::compile(crate::application::SCHEMAS).expect("command schemas compile");
    let register = |email: &str| json!({"user_id": "u1", "email": email, "name": "Ann"});
    // Malformed, but for the domain to answer `invalid_email`: the schema has no "format".
    for email in [
        "not-an-email",
        "ann@localhost",
        &format!("{}@x.io", "a".repeat(300)),
    ] {
        assert!(registry.validate("RegisterUser", &register(email)).is_ok());
    }
    assert!(registry.validate("RegisterUser", &register("")).is_err());
    let oversized = format!("{}@example.com", "a".repeat(320));
    assert!(registry
        .validate("RegisterUser", &register(&oversized))
        .is_err());
}

#[test]
fn command_schemas_refuse_extra_fields_and_bad_ids() {
    let registry =
        SchemaRegistry::compile(crate::application::SCHEMAS).expect("command schemas compile");
    let extra = json!({"user_id": "u1", "name": "Ann", "email": "ann@example.com"});
    assert!(registry.validate("UpdateProfile", &extra).is_err());
    let bad_id = json!({"user_id": " u1"});
    assert!(registry.validate("DeactivateUser", &bad_id).is_err());
    assert!(registry
        .validate("DeactivateUser", &json!({"user_id": "u1"}))
        .is_ok());
}
