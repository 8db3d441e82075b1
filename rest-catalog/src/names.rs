//! Namespace and table names: what a valid name is, and how names are encoded as keys of
//! the catalog store and in URLs. Names become directory names in the warehouse, so
//! anything that could escape a directory or confuse a client is refused.

use iceberg::{NamespaceIdent, TableIdent};

use crate::error::{CatalogError, Failure, Result};

/// The longest name part accepted, in bytes (a common file-name limit).
pub const MAX_NAME_BYTES: usize = 255;
/// The deepest namespace nesting accepted.
pub const MAX_NAMESPACE_DEPTH: usize = 16;

pub use floe_table::NAMESPACE_SEPARATOR;

fn check_part(kind: &str, part: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(CatalogError::bad_request(format!(
            "invalid {kind} name {part:?}: {why}"
        )))
    };
    if part.is_empty() {
        return bad("it is empty");
    }
    if part.len() > MAX_NAME_BYTES {
        return bad(&format!("it is longer than {MAX_NAME_BYTES} bytes"));
    }
    if part.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if part.contains('/') || part.contains('\\') {
        return bad("it contains a path separator ('/' or '\\')");
    }
    if part == "." || part.contains("..") {
        return bad("it contains '..' or is '.'");
    }
    Ok(())
}

/// Validates every level of a namespace. Levels may not contain '.', which clients use
/// to join levels into one identifier.
pub fn validate_namespace(ns: &NamespaceIdent) -> Result<()> {
    if ns.is_empty() {
        return Err(CatalogError::bad_request(
            "invalid namespace: it has no levels",
        ));
    }
    if ns.len() > MAX_NAMESPACE_DEPTH {
        return Err(CatalogError::bad_request(format!(
            "namespace {} is nested deeper than {MAX_NAMESPACE_DEPTH} levels",
            ns
        )));
    }
    for part in ns.iter() {
        check_part("namespace", part)?;
        if part.contains('.') {
            return Err(CatalogError::bad_request(format!(
                "invalid namespace name {part:?}: it contains '.', which separates levels"
            )));
        }
    }
    Ok(())
}

pub fn validate_table_name(name: &str) -> Result<()> {
    check_part("table", name)
}

pub fn validate_table(ident: &TableIdent) -> Result<()> {
    validate_namespace(&ident.namespace)?;
    validate_table_name(&ident.name)
}

/// Parses a namespace from its URL form (levels separated by `%1F`, already decoded).
pub fn parse_namespace(encoded: &str) -> Result<NamespaceIdent> {
    let parts: Vec<String> = encoded
        .split(NAMESPACE_SEPARATOR)
        .map(str::to_string)
        .collect();
    let ns = NamespaceIdent::from_vec(parts)
        .map_err(|e| CatalogError::BadRequest(Failure::because("invalid namespace", e)))?;
    validate_namespace(&ns)?;
    Ok(ns)
}

/// The store key of a namespace: its levels joined by the unit separator.
pub fn namespace_key(ns: &NamespaceIdent) -> String {
    ns.as_ref().join(&NAMESPACE_SEPARATOR.to_string())
}

pub fn namespace_from_key(key: &str) -> NamespaceIdent {
    NamespaceIdent::from_vec(key.split(NAMESPACE_SEPARATOR).map(str::to_string).collect())
        .expect("store keys are never empty")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_or_confuse_are_refused() {
        let cases: &[(&str, bool)] = &[
            ("orders", true),
            ("orders_2024", true),
            ("Über-Tabelle", true),
            ("", false),
            ("a/b", false),
            ("a\\b", false),
            ("..", false),
            ("a..b", false),
            (".", false),
            ("tab\tle", false),
            ("nul\0", false),
            ("sep\u{1f}x", false),
        ];
        for (name, ok) in cases {
            assert_eq!(
                validate_table_name(name).is_ok(),
                *ok,
                "table name {name:?}"
            );
        }
        assert!(validate_table_name(&"x".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(validate_table_name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn namespace_levels_round_trip_through_keys_and_urls() {
        let ns = parse_namespace("a\u{1f}b\u{1f}c").unwrap();
        assert_eq!(ns.as_ref(), &vec!["a", "b", "c"]);
        assert_eq!(namespace_from_key(&namespace_key(&ns)), ns);
        assert!(
            parse_namespace("a.b").is_err(),
            "dots inside a level are refused"
        );
        assert!(parse_namespace("a\u{1f}\u{1f}b").is_err(), "empty level");
        let deep = vec!["x"; MAX_NAMESPACE_DEPTH + 1].join("\u{1f}");
        assert!(parse_namespace(&deep).is_err());
    }
}
