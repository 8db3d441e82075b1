//! Table-driven tests of the commit rules.

use iceberg::spec::{
    FormatVersion, NestedField, PrimitiveType, Schema, SortOrder, TableMetadata,
    TableMetadataBuilder, Type, UnboundPartitionSpec,
};
use iceberg::{TableRequirement, TableUpdate};
use std::collections::HashMap;
use uuid::Uuid;

use super::*;

fn schema(extra: bool) -> Schema {
    let mut fields = vec![
        NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
        NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
    ];
    if extra {
        fields.push(NestedField::optional(3, "v", Type::Primitive(PrimitiveType::Double)).into());
    }
    Schema::builder().with_fields(fields).build().unwrap()
}

fn table() -> TableMetadata {
    TableMetadataBuilder::new(
        schema(false),
        UnboundPartitionSpec::builder().build(),
        SortOrder::unsorted_order(),
        "/w/ns/t".into(),
        FormatVersion::V2,
        HashMap::new(),
    )
    .unwrap()
    .build()
    .unwrap()
    .metadata
}

const BASE: &str = "/w/ns/t/metadata/00003-aaaa.metadata.json";

#[test]
fn each_requirement_passes_on_a_match_and_fails_on_a_mismatch() {
    let t = table();
    let cases: Vec<(TableRequirement, bool)> = vec![
        (TableRequirement::NotExist, false),
        (TableRequirement::UuidMatch { uuid: t.uuid() }, true),
        (TableRequirement::UuidMatch { uuid: Uuid::nil() }, false),
        (
            TableRequirement::RefSnapshotIdMatch {
                r#ref: "main".into(),
                snapshot_id: None,
            },
            true,
        ),
        (
            TableRequirement::RefSnapshotIdMatch {
                r#ref: "main".into(),
                snapshot_id: Some(7),
            },
            false,
        ),
        (
            TableRequirement::LastAssignedFieldIdMatch {
                last_assigned_field_id: 2,
            },
            true,
        ),
        (
            TableRequirement::LastAssignedFieldIdMatch {
                last_assigned_field_id: 5,
            },
            false,
        ),
        (
            TableRequirement::CurrentSchemaIdMatch {
                current_schema_id: 0,
            },
            true,
        ),
        (
            TableRequirement::CurrentSchemaIdMatch {
                current_schema_id: 1,
            },
            false,
        ),
        (
            TableRequirement::LastAssignedPartitionIdMatch {
                last_assigned_partition_id: 999,
            },
            true,
        ),
        (
            TableRequirement::LastAssignedPartitionIdMatch {
                last_assigned_partition_id: 1000,
            },
            false,
        ),
        (
            TableRequirement::DefaultSpecIdMatch { default_spec_id: 0 },
            true,
        ),
        (
            TableRequirement::DefaultSpecIdMatch { default_spec_id: 1 },
            false,
        ),
        (
            TableRequirement::DefaultSortOrderIdMatch {
                default_sort_order_id: 0,
            },
            true,
        ),
        (
            TableRequirement::DefaultSortOrderIdMatch {
                default_sort_order_id: 1,
            },
            false,
        ),
    ];
    for (requirement, ok) in cases {
        let got = check_requirements(Some(&t), std::slice::from_ref(&requirement));
        assert_eq!(got.is_ok(), ok, "{requirement:?}: {got:?}");
        if let Err(e) = got {
            assert!(matches!(e, CommitRuleError::RequirementFailed(_)));
        }
    }
    // Against a missing table only assert-create holds.
    assert!(check_requirements(None, &[TableRequirement::NotExist]).is_ok());
    assert!(check_requirements(None, &[TableRequirement::UuidMatch { uuid: t.uuid() }]).is_err());
}

#[test]
fn updates_apply_in_order_and_keep_the_metadata_log() {
    let t = table();
    let updates = vec![
        TableUpdate::AddSchema {
            schema: schema(true),
        },
        TableUpdate::SetCurrentSchema { schema_id: -1 },
        TableUpdate::SetProperties {
            updates: HashMap::from([("k".to_string(), "v".to_string())]),
        },
    ];
    let AppliedCommit::Changed(new) = apply_to_existing(&t, BASE, &[], updates).unwrap() else {
        panic!("updates changed nothing");
    };
    assert_eq!(new.current_schema_id(), 1);
    assert_eq!(new.last_column_id(), 3);
    assert_eq!(new.properties().get("k").map(String::as_str), Some("v"));
    assert_eq!(new.metadata_log().last().unwrap().metadata_file, BASE);
}

#[test]
fn metadata_log_is_trimmed_to_previous_versions_max() {
    let mut t = table();
    let set_max = TableUpdate::SetProperties {
        updates: HashMap::from([(
            "write.metadata.previous-versions-max".to_string(),
            "2".to_string(),
        )]),
    };
    for i in 0..5 {
        let update = if i == 0 {
            set_max.clone()
        } else {
            TableUpdate::SetProperties {
                updates: HashMap::from([("i".to_string(), i.to_string())]),
            }
        };
        let location = format!("/w/ns/t/metadata/{i:05}-x.metadata.json");
        let AppliedCommit::Changed(new) =
            apply_to_existing(&t, &location, &[], vec![update]).unwrap()
        else {
            panic!("no change");
        };
        t = *new;
    }
    let log: Vec<_> = t
        .metadata_log()
        .iter()
        .map(|l| l.metadata_file.clone())
        .collect();
    assert_eq!(
        log,
        vec![
            "/w/ns/t/metadata/00003-x.metadata.json",
            "/w/ns/t/metadata/00004-x.metadata.json"
        ]
    );
}

#[test]
fn invalid_updates_and_empty_commits() {
    let t = table();
    let bad: Vec<Vec<TableUpdate>> = vec![
        vec![TableUpdate::SetCurrentSchema { schema_id: 42 }],
        vec![TableUpdate::SetDefaultSpec { spec_id: 9 }],
        vec![TableUpdate::UpgradeFormatVersion {
            format_version: FormatVersion::V1,
        }],
    ];
    for updates in bad {
        let got = apply_to_existing(&t, BASE, &[], updates.clone());
        assert!(
            matches!(got, Err(CommitRuleError::InvalidUpdate { .. })),
            "{updates:?}: {got:?}"
        );
    }
    assert!(matches!(
        apply_to_existing(&t, BASE, &[], vec![]),
        Ok(AppliedCommit::Unchanged)
    ));
    // A requirement failure wins over updates: nothing is applied.
    let got = apply_to_existing(
        &t,
        BASE,
        &[TableRequirement::CurrentSchemaIdMatch {
            current_schema_id: 5,
        }],
        vec![TableUpdate::SetCurrentSchema { schema_id: 42 }],
    );
    assert!(matches!(got, Err(CommitRuleError::RequirementFailed(_))));
}

#[test]
fn create_commit_builds_the_table_the_updates_describe() {
    let staged = table();
    let uuid = Uuid::now_v7();
    let updates = vec![
        TableUpdate::AssignUuid { uuid },
        TableUpdate::UpgradeFormatVersion {
            format_version: FormatVersion::V2,
        },
        TableUpdate::AddSchema {
            schema: staged.current_schema().as_ref().clone(),
        },
        TableUpdate::SetCurrentSchema { schema_id: -1 },
        TableUpdate::AddSpec {
            spec: staged
                .default_partition_spec()
                .as_ref()
                .clone()
                .into_unbound(),
        },
        TableUpdate::SetDefaultSpec { spec_id: -1 },
        TableUpdate::AddSortOrder {
            sort_order: SortOrder::unsorted_order(),
        },
        TableUpdate::SetDefaultSortOrder { sort_order_id: -1 },
        TableUpdate::SetLocation {
            location: "/w/ns/staged".into(),
        },
        TableUpdate::SetProperties {
            updates: HashMap::from([("owner".to_string(), "me".to_string())]),
        },
    ];
    let created = apply_create(&[TableRequirement::NotExist], updates, "/w/ns/default").unwrap();
    assert_eq!(created.uuid(), uuid);
    assert_eq!(created.location(), "/w/ns/staged");
    assert_eq!(
        created.schemas_iter().len(),
        1,
        "re-adding the same schema is a no-op"
    );
    assert_eq!(
        created.current_schema().as_struct(),
        staged.current_schema().as_struct()
    );
    assert_eq!(
        created.properties().get("owner").map(String::as_str),
        Some("me")
    );
    assert!(matches!(
        apply_create(&[TableRequirement::NotExist], vec![], "/w/x"),
        Err(CommitRuleError::InvalidUpdate { .. })
    ));
    assert!(matches!(
        apply_create(&[TableRequirement::UuidMatch { uuid }], vec![], "/w/x"),
        Err(CommitRuleError::RequirementFailed(_))
    ));
}

#[test]
fn metadata_file_names_count_up_and_never_repeat() {
    let cases = [
        (None, 0),
        (Some("/w/t/metadata/00000-abc.metadata.json"), 1),
        (Some("/w/t/metadata/00041-abc.metadata.json"), 42),
        (Some("/w/t/metadata/v3.metadata.json"), 0),
    ];
    for (current, version) in cases {
        let name = next_metadata_file_name(current);
        assert_eq!(
            metadata_file_version(&name),
            Some(version),
            "{current:?} -> {name}"
        );
    }
    assert_ne!(next_metadata_file_name(None), next_metadata_file_name(None));
}
