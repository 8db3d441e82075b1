//! The view rules on requests as clients send them (the spec's JSON bodies).

use serde_json::json;

use super::*;

fn version(id: i32, schema_id: i32, sql: &str) -> serde_json::Value {
    json!({
        "version-id": id, "schema-id": schema_id, "timestamp-ms": 1_700_000_000_000_i64,
        "summary": {"engine-name": "test"}, "default-namespace": ["ns"],
        "representations": [{"type": "sql", "sql": sql, "dialect": "spark"}]
    })
}

fn schema(id: i32, columns: &[&str]) -> serde_json::Value {
    let fields: Vec<_> = columns
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"id": i + 1, "name": name, "required": false, "type": "long"}))
        .collect();
    json!({"type": "struct", "schema-id": id, "fields": fields})
}

/// A view made from the spec's create request: schema 0, version 1.
fn created() -> ViewMetadata {
    let request: CreateViewRequest = serde_json::from_value(json!({
        "name": "v",
        "schema": schema(7, &["id"]),
        "view-version": version(1, 7, "SELECT id FROM t"),
        "properties": {"comment": "first"}
    }))
    .unwrap();
    let uuid = Uuid::now_v7();
    let metadata = new_view_metadata(request, "/w/ns/v".into(), uuid).unwrap();
    assert_eq!(metadata.uuid(), uuid);
    metadata
}

#[test]
fn a_new_view_has_its_schema_and_first_version() {
    let metadata = created();
    assert_eq!(metadata.location(), "/w/ns/v");
    assert_eq!(metadata.current_version_id(), 1);
    let schema_id = metadata.current_version().schema_id();
    assert_eq!(schema_id, metadata.current_schema().schema_id());
    assert_eq!(metadata.properties()["comment"], "first");
    assert_eq!(metadata.history().len(), 1);
}

fn updates(value: serde_json::Value) -> Vec<ViewUpdate> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn view_commits_apply_or_say_what_is_wrong() {
    let base = created();
    let replace = json!([
        {"action": "add-schema", "schema": schema(1, &["id", "name"]), "last-column-id": 2},
        {"action": "add-view-version", "view-version": version(2, -1, "SELECT id, name FROM t")},
        {"action": "set-current-view-version", "view-version-id": -1}
    ]);
    // (updates, whether the view changes, or the text the refusal contains)
    let cases: Vec<(serde_json::Value, Result<bool, &str>)> = vec![
        (replace, Ok(true)),
        (
            json!([{"action": "set-properties", "updates": {"k": "v"}}]),
            Ok(true),
        ),
        (
            json!([{"action": "remove-properties", "removals": ["comment"]}]),
            Ok(true),
        ),
        (json!([]), Ok(false)),
        (
            json!([{"action": "assign-uuid", "uuid": base.uuid()}]),
            Ok(false),
        ),
        (
            json!([{"action": "assign-uuid", "uuid": Uuid::new_v4()}]),
            Err("cannot change"),
        ),
        (
            json!([{"action": "set-current-view-version", "view-version-id": 99}]),
            Err("set-current-view-version"),
        ),
        (
            json!([{"action": "add-view-version", "view-version": version(2, 42, "SELECT 1")}]),
            Err("add-view-version"),
        ),
    ];
    for (update, want) in cases {
        let got = apply_view_commit(&base, &[], updates(update.clone()));
        match (got, want) {
            (Ok(changed), Ok(want)) => assert_eq!(changed.is_some(), want, "{update}"),
            (Err(CommitRuleError::InvalidUpdate { what, .. }), Err(text)) => {
                assert!(what.contains(text), "{update}: {what}")
            }
            (got, want) => panic!("{update}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_replaced_view_has_the_new_version_current() {
    let base = created();
    let replace = json!([
        {"action": "add-schema", "schema": schema(1, &["id", "name"]), "last-column-id": 2},
        {"action": "add-view-version", "view-version": version(2, -1, "SELECT id, name FROM t")},
        {"action": "set-current-view-version", "view-version-id": -1}
    ]);
    let requirement = ViewRequirement::AssertViewUuid { uuid: base.uuid() };
    let new = apply_view_commit(&base, &[requirement], updates(replace))
        .unwrap()
        .expect("changed");
    assert_eq!(new.current_version_id(), 2);
    assert_eq!(new.current_schema().as_struct().fields().len(), 2);
    assert_eq!(new.uuid(), base.uuid());
}

#[test]
fn a_commit_for_another_view_uuid_is_a_conflict() {
    let base = created();
    let stale = ViewRequirement::AssertViewUuid {
        uuid: Uuid::new_v4(),
    };
    let got = apply_view_commit(&base, &[stale], Vec::new());
    assert!(
        matches!(got, Err(CommitRuleError::RequirementFailed(_))),
        "{got:?}"
    );
    let requirement: ViewRequirement =
        serde_json::from_value(json!({"type": "assert-view-uuid", "uuid": base.uuid()})).unwrap();
    assert!(check_view_requirements(&base, &[requirement]).is_ok());
}
