//! Idempotency keys on ZooKeeper: `catalog/idempotency-keys/<uuid>`, data = JSON
//! `KeyRecord`. A claim creates the node, or takes over an abandoned claim by `setData`
//! on the version read, so two nodes never both run a request; every node of the ensemble
//! sees a kept answer.

use async_trait::async_trait;
use uuid::Uuid;
use zookeeper_client::Error as ZkError;

use super::{from_json, read_error, to_json, write_error, ZooKeeperStore, PERSISTENT};
use super::{StoreError, VERSION_RETRIES};
use crate::store::idempotency::{claim, on_arrival, IdempotencyStore, KeyRecord, KeyState};

impl ZooKeeperStore {
    fn key_path(&self, key: Uuid) -> String {
        format!("{}/{key}", self.keys)
    }
}

#[async_trait]
impl IdempotencyStore for ZooKeeperStore {
    async fn claim_key(
        &self,
        key: Uuid,
        fingerprint: &str,
        now_ms: i64,
    ) -> Result<KeyState, StoreError> {
        let path = self.key_path(key);
        let data = to_json(&claim(fingerprint, now_ms));
        for _ in 0..VERSION_RETRIES {
            let client = self.client().await?;
            let written = match self.get(&path).await? {
                None => client.create(&path, &data, &PERSISTENT).await.map(|_| ()),
                Some((found, version)) => {
                    let record: KeyRecord = from_json(&found)?;
                    let state = on_arrival(Some(&record), now_ms);
                    if state != KeyState::Claimed {
                        return Ok(state);
                    }
                    client
                        .set_data(&path, &data, Some(version))
                        .await
                        .map(|_| ())
                }
            };
            match written {
                Ok(()) => return Ok(KeyState::Claimed),
                // Another node claimed or changed it since the read: read again.
                Err(ZkError::NodeExists | ZkError::BadVersion | ZkError::NoNode) => continue,
                Err(e) => return Err(write_error(e)),
            }
        }
        Err(StoreError::Failed(
            "idempotency key kept changing; try again".into(),
        ))
    }

    async fn keep_answer(&self, key: Uuid, record: &KeyRecord) -> Result<(), StoreError> {
        let (path, data) = (self.key_path(key), to_json(record));
        let client = self.client().await?;
        match client.set_data(&path, &data, None).await {
            Ok(_) => Ok(()),
            // Pruned or released meanwhile: keep it all the same.
            Err(ZkError::NoNode) => match client.create(&path, &data, &PERSISTENT).await {
                Ok(_) | Err(ZkError::NodeExists) => Ok(()),
                Err(e) => Err(write_error(e)),
            },
            Err(e) => Err(write_error(e)),
        }
    }

    async fn release_key(&self, key: Uuid) -> Result<(), StoreError> {
        match self.client().await?.delete(&self.key_path(key), None).await {
            Ok(()) | Err(ZkError::NoNode) => Ok(()),
            Err(e) => Err(write_error(e)),
        }
    }

    async fn prune_keys(&self, before_ms: i64) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let ids = client.list_children(&self.keys).await.map_err(read_error)?;
        let mut pruned = 0;
        for id in ids {
            let path = format!("{}/{id}", self.keys);
            let Some((data, version)) = self.get(&path).await? else {
                continue;
            };
            let record: KeyRecord = from_json(&data)?;
            if record.at_ms >= before_ms {
                continue;
            }
            // At the version read: a key answered since stays.
            match client.delete(&path, Some(version)).await {
                Ok(()) => pruned += 1,
                Err(ZkError::NoNode | ZkError::BadVersion) => {}
                Err(e) => return Err(write_error(e)),
            }
        }
        Ok(pruned)
    }
}
