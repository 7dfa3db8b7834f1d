//! JSON Schema registry: command bodies are validated against `schemas/` before they
//! reach a domain. Services embed their schema files at compile time, so a deployed
//! binary never runs against a schema it was not built with.

use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::Value;

use crate::payload::Payload;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown command {0}")]
    UnknownCommand(String),
    #[error("{}", .0.join("; "))]
    Violations(Vec<String>),
    #[error("schema {name} is invalid: {reason}")]
    InvalidSchema { name: String, reason: String },
}

/// Compiled validators, by command name.
#[derive(Default)]
pub struct SchemaRegistry {
    validators: HashMap<String, Validator>,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.validators.keys().collect();
        names.sort();
        f.debug_struct("SchemaRegistry")
            .field("commands", &names)
            .finish()
    }
}

impl SchemaRegistry {
    /// Compiles `(command name, schema text)` pairs; a broken schema is a start-up error.
    pub fn compile(schemas: &[(&str, &str)]) -> Result<Self, SchemaError> {
        let mut validators = HashMap::new();
        for (name, text) in schemas {
            let invalid = |reason: String| SchemaError::InvalidSchema {
                name: (*name).to_string(),
                reason,
            };
            let schema: Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
            let validator =
                jsonschema::validator_for(&schema).map_err(|e| invalid(e.to_string()))?;
            validators.insert((*name).to_string(), validator);
        }
        Ok(Self { validators })
    }

    pub fn knows(&self, name: &str) -> bool {
        self.validators.contains_key(name)
    }

    /// Validates an event's wire payload (as the relay publishes it) against the schema
    /// registered under its event type: the check behind every contract test.
    pub fn validate_event<E: cqrs_es::DomainEvent>(&self, event: &E) -> Result<(), SchemaError> {
        let event_type = event.event_type();
        let stored = serde_json::to_value(event)
            .map_err(|e| SchemaError::Violations(vec![e.to_string()]))?;
        self.validate(&event_type, &stored.untagged(&event_type))
    }

    /// Validates `body` against the schema of command `name`, listing every violation.
    pub fn validate(&self, name: &str, body: &Value) -> Result<(), SchemaError> {
        let validator = self
            .validators
            .get(name)
            .ok_or_else(|| SchemaError::UnknownCommand(name.to_string()))?;
        let violations: Vec<String> = validator
            .iter_errors(body)
            .map(|error| {
                let path = error.instance_path().to_string();
                let at = if path.is_empty() {
                    "/".to_string()
                } else {
                    path
                };
                format!("{at}: {error}")
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(SchemaError::Violations(violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SCHEMA: &str = r#"{"type":"object","required":["sku"],"additionalProperties":false,
        "properties":{"sku":{"type":"string","minLength":1}}}"#;

    fn registry() -> SchemaRegistry {
        SchemaRegistry::compile(&[("AddStock", SCHEMA)]).expect("schema compiles")
    }

    #[test]
    fn a_valid_body_passes() {
        assert!(registry()
            .validate("AddStock", &json!({"sku": "A"}))
            .is_ok());
    }

    #[test]
    fn a_violation_names_the_offending_field() {
        let err = registry()
            .validate("AddStock", &json!({"sku": 3}))
            .expect_err("wrong type");
        assert!(err.to_string().contains("/sku"), "{err}");
    }

    #[test]
    fn an_unknown_command_is_reported() {
        let err = registry()
            .validate("Nope", &json!({}))
            .expect_err("unknown");
        assert!(matches!(err, SchemaError::UnknownCommand(_)));
    }
}
