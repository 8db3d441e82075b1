//! The catalog tests' starting point: a server with namespace `ns` and table `ns.t`
//! ([`fixture`]), and the check that a refused request changed nothing ([`Fx::rejects`]).

use std::future::Future;

use serde_json::{json, Value};

use crate::http::{ns_path, tables_path, Http, Resp};
use crate::server::TestEnv;
use crate::warehouse::list_files;

/// The namespace of the fixture's table.
pub const NS: &[&str] = &["ns"];

/// A server with namespace `ns` and table `ns.t` (one commit after the create).
pub struct Fx {
    /// The server and its directories.
    pub env: TestEnv,
    /// The uuid of `ns.t`.
    pub uuid: String,
}

/// Starts a server and creates `ns` (owner `ana`) and `ns.t` (property `k` = `v`).
pub async fn fixture() -> Fx {
    let env = TestEnv::start();
    env.http.create_namespace(NS, json!({"owner": "ana"})).await;
    let created = env.http.create_table(NS, "t").await;
    env.http
        .set_properties(NS, "t", json!({"k": "v"}))
        .await
        .ok();
    let uuid = created["metadata"]["table-uuid"]
        .as_str()
        .unwrap()
        .to_string();
    Fx { env, uuid }
}

impl Fx {
    /// The client of the server.
    pub fn http(&self) -> &Http {
        &self.env.http
    }

    /// Everything a bad request must leave alone.
    pub async fn state(&self) -> Value {
        let h = self.http();
        json!({
            "files": list_files(&self.env.warehouse()),
            "metadata-location": h.metadata_location(NS, "t").await,
            "namespaces": h.get("/v1/namespaces").await.ok(),
            "tables": h.get(&tables_path(NS)).await.ok(),
            "ns": h.get(&ns_path(NS)).await.ok(),
        })
    }

    /// Runs `request`, asserts the Iceberg error, and that nothing changed.
    pub async fn rejects(
        &self,
        request: impl Future<Output = Resp>,
        status: u16,
        kind: &str,
    ) -> Resp {
        let before = self.state().await;
        let resp = request.await;
        resp.error(status, kind);
        assert_eq!(
            self.state().await,
            before,
            "a refused request changed something: {}",
            resp.text
        );
        resp
    }

    /// A commit request body.
    pub fn commit_body(&self, requirements: Value, updates: Value) -> Value {
        json!({"requirements": requirements, "updates": updates})
    }
}

/// The updates of a commit that sets property `k` to `v`.
pub fn set_props(k: &str, v: &str) -> Value {
    json!([{"action": "set-properties", "updates": {k: v}}])
}
