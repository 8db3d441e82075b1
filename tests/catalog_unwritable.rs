//! A warehouse that becomes unwritable in the middle of commits (the table's metadata
//! directory made immutable with `chattr +i`, which stops root too): the catalog's own
//! metadata write and an upsert checkpoint's manifest writes fail with a clear error, the
//! table stays at its previous snapshot, and once the directory is writable again the
//! writer commits the checkpoint and the table equals the model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use floe_client::RestClient;
use floe_test_support::changes::Rng;
use floe_test_support::upsert_model::*;
use floe_test_support::{table_path, TestEnv};
use serde_json::json;

/// Makes a directory immutable until dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Self {
        chattr("+i", dir);
        Self(dir.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

fn chattr(flag: &str, dir: &Path) {
    let out = Command::new("chattr").arg(flag).arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "chattr {flag} {}: {} (this test needs a file system with immutable attributes, such as ext4)",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_warehouse_leaves_the_table_at_its_snapshot() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "frozen", 2).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut rng = Rng(21);
    let mut model = BTreeMap::new();
    let first = random_checkpoint(&mut rng, &mut model, 60, 60, 1);
    writer
        .write(&batch(&first, 0..first.ids.len()))
        .await
        .unwrap();
    committed(writer.commit(Some(1), None).await.unwrap());
    let before = client.load_table(&ident).await.unwrap();
    let metadata_dir = Path::new(before.metadata.location()).join("metadata");

    let frozen = Immutable::set(&metadata_dir);
    // The catalog's commit cannot write its new metadata file.
    let change = json!({
        "requirements": [],
        "updates": [{"action": "set-properties", "updates": {"owner": "ops"}}],
    });
    let refused = env.http.post(&table_path(&["ns"], "frozen"), &change).await;
    refused.error(500, "ServerErrorException");
    assert!(refused.message().contains("metadata"), "{}", refused.text);
    // An upsert checkpoint: its data files are written, its manifests cannot be.
    let mut second_model = model.clone();
    let second = random_checkpoint(&mut rng, &mut second_model, 60, 60, 2);
    writer
        .write(&batch(&second, 0..second.ids.len()))
        .await
        .unwrap();
    let err = writer.commit(Some(2), None).await.unwrap_err();
    assert!(err.to_string().contains("writing files"), "{err}");
    let after = client.load_table(&ident).await.unwrap();
    assert_eq!(after.metadata_location, before.metadata_location);
    assert_eq!(scan(&after).await, model);
    assert!(!after.metadata.properties().contains_key("owner"));

    // Writable again: the checkpoint is written once more and lands.
    drop(frozen);
    writer.abort();
    writer
        .write(&batch(&second, 0..second.ids.len()))
        .await
        .unwrap();
    let report = committed(writer.commit(Some(2), None).await.unwrap());
    assert_eq!(report.checkpoint_id, Some(2));
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&table).await, second_model);
    env.http
        .post(&table_path(&["ns"], "frozen"), &change)
        .await
        .ok();
}
