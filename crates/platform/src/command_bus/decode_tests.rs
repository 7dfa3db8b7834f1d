//! Examples of the decoder's decisions, one per way a delivery can be refused.

use serde_json::json;

use super::*;

pub(super) const SERVICE: &str = "inventory";

/// The inventory's real command schemas, so the tests see what the bus sees.
pub(super) fn registry() -> SchemaRegistry {
    SchemaRegistry::compile(&[
        (
            "AddStock",
            include_str!("../../../../schemas/commands/inventory/AddStock.v1.json"),
        ),
        (
            "AddProduct",
            include_str!("../../../../schemas/commands/inventory/AddProduct.v1.json"),
        ),
        (
            "ReserveStock",
            include_str!("../../../../schemas/commands/inventory/ReserveStock.v1.json"),
        ),
    ])
    .expect("the inventory command schemas compile")
}

fn raw<'a>(routing_key: &'a str, content_type: Option<&'a str>, body: &'a [u8]) -> RawCommand<'a> {
    RawCommand {
        routing_key,
        content_type,
        body,
    }
}

fn decode_add_stock(content_type: Option<&str>, body: &[u8]) -> Result<Decoded, DecodeError> {
    decode(
        &registry(),
        SERVICE,
        raw("inventory.AddStock", content_type, body),
    )
}

const ADD_STOCK: &[u8] = br#"{"sku":"MUG-1","quantity":3}"#;

#[test]
fn a_valid_command_is_decoded_under_its_name() {
    let decoded = decode_add_stock(Some(JSON_CONTENT_TYPE), ADD_STOCK).expect("valid");
    assert_eq!(decoded.name, "AddStock");
    assert_eq!(decoded.body, json!({"sku": "MUG-1", "quantity": 3}));
}

#[test]
fn an_oversized_body_is_refused_before_it_is_parsed() {
    // Valid JSON (one padded string) and still refused: size comes first.
    let mut body = vec![b'"'];
    body.resize(MAX_COMMAND_BYTES, b'a');
    body.push(b'"');
    let err = decode_add_stock(None, &body).expect_err("too large");
    assert_eq!(
        err,
        DecodeError::TooLarge {
            size: MAX_COMMAND_BYTES + 1,
            limit: MAX_COMMAND_BYTES
        }
    );
    assert_eq!(err.code(), "message_too_large");
}

#[test]
fn a_body_of_exactly_the_limit_is_judged_on_its_content() {
    let mut body = ADD_STOCK[..ADD_STOCK.len() - 1].to_vec();
    body.resize(MAX_COMMAND_BYTES - 1, b' ');
    body.push(b'}');
    assert!(decode_add_stock(None, &body).is_ok());
}

#[test]
fn json_is_accepted_with_parameters_in_any_case_or_when_undeclared() {
    for content_type in [
        None,
        Some(""),
        Some("application/json"),
        Some("Application/JSON"),
        Some("application/json; charset=utf-8"),
    ] {
        assert!(
            decode_add_stock(content_type, ADD_STOCK).is_ok(),
            "{content_type:?}"
        );
    }
}

#[test]
fn any_other_content_type_is_refused() {
    for content_type in ["text/plain", "application/xml", "application/jsonx", "json"] {
        let err = decode_add_stock(Some(content_type), ADD_STOCK).expect_err(content_type);
        assert_eq!(
            err,
            DecodeError::UnsupportedContentType(content_type.into())
        );
        assert_eq!(err.code(), "unsupported_content_type");
    }
}

#[test]
fn invalid_utf8_is_refused_as_malformed_json_saying_why() {
    let err = decode_add_stock(None, &[b'{', 0xff, 0xfe, b'}']).expect_err("not UTF-8");
    assert!(matches!(err, DecodeError::InvalidUtf8(_)), "{err:?}");
    assert_eq!(err.code(), "malformed_json");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn broken_json_is_refused() {
    let err = decode_add_stock(None, b"{not json").expect_err("broken");
    assert!(matches!(err, DecodeError::MalformedJson(_)), "{err:?}");
}

#[test]
fn an_unknown_command_name_is_refused() {
    let err = decode(
        &registry(),
        SERVICE,
        raw("inventory.ShipEverything", None, b"{}"),
    )
    .expect_err("unknown");
    assert_eq!(err.code(), "unknown_command");
    assert!(err.to_string().contains("ShipEverything"), "{err}");
}

#[test]
fn a_command_of_another_service_is_unknown_here() {
    let err = decode(&registry(), SERVICE, raw("order.AddStock", None, ADD_STOCK))
        .expect_err("foreign routing key");
    assert_eq!(
        err,
        DecodeError::UnknownCommand {
            service: SERVICE.into(),
            name: "order.AddStock".into()
        }
    );
}

#[test]
fn a_schema_violation_names_the_field() {
    let err = decode_add_stock(None, br#"{"sku":"MUG-1","quantity":0}"#).expect_err("quantity 0");
    assert_eq!(err.code(), "schema_violation");
    assert!(err.to_string().contains("/quantity"), "{err}");
}

#[test]
fn the_command_name_follows_the_service_prefix() {
    assert_eq!(command_name("inventory.AddStock", "inventory"), "AddStock");
}

#[test]
fn a_foreign_routing_key_is_kept_whole() {
    assert_eq!(
        command_name("order.PlaceOrder", "inventory"),
        "order.PlaceOrder"
    );
    assert_eq!(
        command_name("inventoryX.AddStock", "inventory"),
        "inventoryX.AddStock"
    );
}
