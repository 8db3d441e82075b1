//! The service configuration: built-in defaults (the embedded setup), overridden by a TOML
//! file (`--config`), overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use floe_rest_catalog::auth::AuthConfig;
use floe_rest_catalog::storage::S3Settings;
use serde::Deserialize;

/// Where `floe serve` listens by default.
pub const DEFAULT_BIND: &str = "127.0.0.1:8181";

/// Everything `floe serve` needs. Unknown keys in the file are refused, so a typo is an
/// error rather than a silently ignored setting.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeConfig {
    /// Address to listen on.
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// The warehouse: a local path, a `file://` URL or `s3://bucket/prefix`.
    #[serde(default = "default_warehouse")]
    pub warehouse: String,
    /// Where the embedded catalog store keeps its file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// How long a commit waits for its table lock, in seconds.
    #[serde(default = "default_lock_timeout")]
    pub lock_timeout_secs: u64,
    /// ZooKeeper connect string (`host:port[,host:port...]`). When set, the catalog
    /// store and the table locks live in ZooKeeper and several nodes may share them.
    #[serde(default)]
    pub zookeeper: Option<String>,
    /// The root znode of this catalog.
    #[serde(default = "default_zk_root")]
    pub zk_root: String,
    /// The ZooKeeper session timeout in milliseconds: how long a crashed node's locks
    /// outlive it.
    #[serde(default = "default_zk_session_timeout")]
    pub zk_session_timeout_ms: u64,
    /// How often every table is compacted and its old snapshots expired (`1h`, `90s`);
    /// off when unset.
    #[serde(default)]
    pub compaction_interval: Option<String>,
    /// Authentication (`[auth]`, or a file given with `--auth`); off when unset.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// How to reach an `s3://` warehouse (`[s3]`); unset fields come from the standard
    /// AWS environment variables.
    #[serde(default)]
    pub s3: S3Settings,
}

impl ServeConfig {
    /// The compaction interval, checked.
    pub fn compaction_interval(&self) -> anyhow::Result<Option<std::time::Duration>> {
        match &self.compaction_interval {
            None => Ok(None),
            Some(text) => {
                let interval = humantime::parse_duration(text).map_err(|e| {
                    anyhow::anyhow!(
                        "compaction-interval {text:?} is not a duration like 1h or 90s: {e}"
                    )
                })?;
                if interval.is_zero() {
                    anyhow::bail!("compaction-interval must be longer than zero");
                }
                Ok(Some(interval))
            }
        }
    }
}

fn default_bind() -> SocketAddr {
    DEFAULT_BIND.parse().expect("valid default address")
}
fn default_warehouse() -> String {
    "./warehouse".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_lock_timeout() -> u64 {
    30
}
fn default_zk_root() -> String {
    "/floe".into()
}
fn default_zk_session_timeout() -> u64 {
    10_000
}

impl Default for ServeConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults parse")
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Says where and what, never the line itself (it may hold a secret).
    #[error("invalid config file {path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        line: e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        }),
        message: e.message().to_string(),
    })
}

/// Reads the authentication settings from a TOML file of their own (`--auth FILE`).
pub fn auth_from_file(path: &Path) -> Result<AuthConfig, ConfigError> {
    read_toml(path)
}

impl ServeConfig {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        read_toml(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = ServeConfig::default();
        assert_eq!(c.bind.to_string(), DEFAULT_BIND);
        assert_eq!(c.warehouse, "./warehouse");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn file_values_override_defaults_and_typos_are_refused() {
        let c: ServeConfig =
            toml::from_str("bind = \"127.0.0.1:9000\"\nwarehouse = \"/w\"").unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.warehouse, "/w");
        assert!(toml::from_str::<ServeConfig>("warehous = \"/w\"").is_err());
    }

    #[test]
    fn s3_settings_are_read_from_their_table() {
        let c: ServeConfig = toml::from_str(
            "warehouse = \"s3://b/wh\"\n[s3]\nendpoint = \"http://127.0.0.1:9000\"\n\
             path-style-access = true\naccess-key-id = \"k\"\nsecret-access-key = \"s\"\n",
        )
        .unwrap();
        assert_eq!(c.s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.s3.secret_access_key.as_deref(), Some("s"));
        assert_eq!(c.s3.path_style_access, Some(true));
        assert!(toml::from_str::<ServeConfig>("[s3]\nendpont = \"x\"").is_err());
        assert_eq!(ServeConfig::default().s3, S3Settings::default());
    }

    #[test]
    fn a_bad_line_is_named_but_not_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.toml");
        std::fs::write(
            &path,
            "signing-key = \"k\"\nsigning_key = \"top-secret-value\"\n",
        )
        .unwrap();
        let err = auth_from_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("top-secret-value"), "{err}");
    }
}
