//! A fuzz target for command decoding, as property tests so it runs in `cargo test`:
//! arbitrary bytes, arbitrary JSON values and mutated valid commands, under valid and
//! foreign routing keys and content types. Whatever comes in, [`decode`] returns, and
//! what it returns is either a command its schema accepts or a rejection with a known
//! code and a message.

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::tests::{registry, SERVICE};
use super::*;

/// Compiled once: compiling the schemas' patterns dominates a case otherwise.
static SCHEMAS: LazyLock<SchemaRegistry> = LazyLock::new(registry);

const CODES: [&str; 5] = [
    "message_too_large",
    "unsupported_content_type",
    "malformed_json",
    "unknown_command",
    "schema_violation",
];

/// The fuzz oracle: a decoded command re-validates and re-parses to the same body; a
/// rejection carries a known code and says something.
fn assert_clean(raw: RawCommand<'_>, result: &Result<Decoded, DecodeError>) {
    match result {
        Ok(decoded) => {
            assert!(raw.body.len() <= MAX_COMMAND_BYTES);
            let reparsed: Value = serde_json::from_slice(raw.body).expect("decoded means JSON");
            assert_eq!(reparsed, decoded.body);
            assert_eq!(decoded.name, command_name(raw.routing_key, SERVICE));
            assert!(SCHEMAS.validate(&decoded.name, &decoded.body).is_ok());
        }
        Err(err) => {
            assert!(CODES.contains(&err.code()), "unknown code {}", err.code());
            assert!(!err.to_string().trim().is_empty(), "silent rejection");
            if raw.body.len() > MAX_COMMAND_BYTES {
                assert_eq!(err.code(), "message_too_large");
            }
        }
    }
}

fn routing_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("inventory.AddStock".to_string()),
        Just("inventory.ReserveStock".to_string()),
        Just("inventory.AddProduct".to_string()),
        Just("inventory.".to_string()),
        Just("order.PlaceOrder".to_string()),
        ".{0,40}",
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_string())),
        Just(Some("application/json; charset=utf-8".to_string())),
        Just(Some("text/plain".to_string())),
        proptest::option::of(".{0,30}"),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::from),
        "[A-Z]{1,4}-[0-9]{1,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Field names the schemas know, so objects often get past the first checks.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("sku".to_string()),
        Just("quantity".to_string()),
        Just("order_id".to_string()),
        Just("lines".to_string()),
        Just("name".to_string()),
        Just("price_cents".to_string()),
        "[a-z_]{1,10}",
    ]
}

fn valid_command() -> impl Strategy<Value = (&'static str, Value)> {
    let sku = "[A-Za-z0-9][A-Za-z0-9._:-]{0,20}";
    prop_oneof![
        (sku, 1u64..=1_000_000).prop_map(|(sku, quantity)| {
            (
                "inventory.AddStock",
                json!({"sku": sku, "quantity": quantity}),
            )
        }),
        (sku, prop::collection::vec((sku, 1u64..=1_000_000), 1..5)).prop_map(|(order, lines)| {
            let lines: Vec<Value> = lines
                .into_iter()
                .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
                .collect();
            (
                "inventory.ReserveStock",
                json!({"order_id": order, "lines": lines}),
            )
        }),
        (sku, ".{1,30}", 0i64..=1_000_000).prop_map(|(sku, name, price)| {
            let product = json!({"sku": sku, "name": name, "category": "c", "price_cents": price});
            ("inventory.AddProduct", product)
        }),
    ]
}

/// One way of breaking a valid command.
#[derive(Debug, Clone)]
enum Mutation {
    Keep,
    DropField(prop::sample::Index),
    ReplaceField(prop::sample::Index, Value),
    AddField(String, Value),
    Truncate(prop::sample::Index),
    FlipByte(prop::sample::Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Keep),
        any::<prop::sample::Index>().prop_map(Mutation::DropField),
        (any::<prop::sample::Index>(), any_json()).prop_map(|(i, v)| Mutation::ReplaceField(i, v)),
        (field_name(), any_json()).prop_map(|(f, v)| Mutation::AddField(f, v)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
    ]
}

fn mutate(command: Value, mutation: Mutation) -> Vec<u8> {
    let Value::Object(mut fields) = command else {
        return command.to_string().into_bytes();
    };
    let keys: Vec<String> = fields.keys().cloned().collect();
    let bytes = |fields: Map<String, Value>| Value::Object(fields).to_string().into_bytes();
    match mutation {
        Mutation::Keep => bytes(fields),
        Mutation::DropField(i) => {
            fields.remove(i.get(&keys));
            bytes(fields)
        }
        Mutation::ReplaceField(i, value) => {
            fields.insert(i.get(&keys).clone(), value);
            bytes(fields)
        }
        Mutation::AddField(name, value) => {
            fields.insert(name, value);
            bytes(fields)
        }
        Mutation::Truncate(i) => {
            let mut body = bytes(fields);
            body.truncate(i.index(body.len()));
            body
        }
        Mutation::FlipByte(i, byte) => {
            let mut body = bytes(fields);
            let at = i.index(body.len());
            body[at] ^= byte;
            body
        }
    }
}

fn run(routing_key: &str, content_type: Option<&str>, body: &[u8]) -> Result<Decoded, DecodeError> {
    let raw = RawCommand {
        routing_key,
        content_type,
        body,
    };
    let result = decode(&SCHEMAS, SERVICE, raw);
    assert_clean(raw, &result);
    result
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_are_decoded_or_cleanly_refused(
        key in routing_key(),
        content in content_type(),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        run(&key, content.as_deref(), &body).ok();
    }

    #[test]
    fn arbitrary_json_is_decoded_only_when_its_schema_accepts_it(
        key in routing_key(),
        value in any_json(),
    ) {
        let body = value.to_string().into_bytes();
        let result = run(&key, Some(JSON_CONTENT_TYPE), &body);
        let name = command_name(&key, SERVICE);
        prop_assert_eq!(result.is_ok(), SCHEMAS.validate(name, &value).is_ok());
    }

    #[test]
    fn a_mutated_valid_command_is_decoded_or_refused_never_misread(
        (key, command) in valid_command(),
        mutation in mutation(),
    ) {
        let unchanged = matches!(mutation, Mutation::Keep);
        let body = mutate(command, mutation);
        let result = run(key, Some(JSON_CONTENT_TYPE), &body);
        if unchanged {
            prop_assert!(result.is_ok(), "a valid command was refused: {:?}", result);
        }
    }

    #[test]
    fn a_valid_command_in_the_wrong_content_type_is_refused(
        (key, command) in valid_command(),
        content in "(text|image|application)/[a-z]{1,10}",
    ) {
        prop_assume!(content != JSON_CONTENT_TYPE);
        let body = command.to_string().into_bytes();
        let result = run(key, Some(&content), &body);
        prop_assert_eq!(result.err().map(|e| e.code()), Some("unsupported_content_type"));
    }
}

proptest! {
    // Each case allocates a quarter of a mebibyte: a few are enough.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn any_body_over_the_limit_is_refused_for_its_size_alone(
        (key, command) in valid_command(),
        extra in 1usize..4096,
        filler in any::<u8>(),
    ) {
        let mut body = command.to_string().into_bytes();
        body.resize(MAX_COMMAND_BYTES + extra, filler);
        let result = run(key, Some(JSON_CONTENT_TYPE), &body);
        prop_assert_eq!(result.err().map(|e| e.code()), Some("message_too_large"));
    }
}
