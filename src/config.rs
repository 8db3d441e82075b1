//! The service configuration: built-in defaults (the embedded setup), overridden by a TOML
//! file (`--config`), overridden by command-line flags. Each flag of [`ServeArgs`] is
//! named as its key in the file and merged over it by that name, so a setting is declared
//! once as a flag and once as a key, never copied by hand.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use floe_rest_catalog::AuthConfig;
use floe_table::storage::S3Settings;
use serde::{Deserialize, Serialize};

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
    /// How long a node keeps a table's commit lock after a commit, in milliseconds, so a
    /// burst of its commits skips creating and deleting the lock's znode; another node's
    /// commit waits at most one lease more. 0: off.
    #[serde(default = "default_zk_lock_lease")]
    pub zk_lock_lease_ms: u64,
    /// How often every table is compacted and its old snapshots expired (`1h`, `90s`);
    /// off when unset.
    #[serde(default)]
    pub compaction_interval: Option<String>,
    /// How often every table whose partitions hold `floe.convert-deletes.min-files`
    /// equality-delete files gets them converted into position deletes (`5m`); off when
    /// unset.
    #[serde(default)]
    pub maintenance_interval: Option<String>,
    /// Authentication (`[auth]`, or a file given with `--auth`); off when unset.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// How to reach an `s3://` warehouse (`[s3]`); unset fields come from the standard
    /// AWS environment variables.
    #[serde(default)]
    pub s3: S3Settings,
    /// How long an `Idempotency-Key` is kept and advertised (ISO-8601 like `PT30M`, or
    /// `30m`).
    #[serde(default = "default_idempotency_key_lifetime")]
    pub idempotency_key_lifetime: String,
}

/// The interval option `name` (`1h`, `90s`), checked: longer than zero; `None` when unset.
fn interval(name: &str, text: Option<&str>) -> anyhow::Result<Option<std::time::Duration>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let interval = humantime::parse_duration(text)
        .map_err(|e| anyhow::anyhow!("{name} {text:?} is not a duration like 1h or 90s: {e}"))?;
    if interval.is_zero() {
        anyhow::bail!("{name} must be longer than zero");
    }
    Ok(Some(interval))
}

impl ServeConfig {
    /// The compaction interval, checked.
    pub fn compaction_interval(&self) -> anyhow::Result<Option<std::time::Duration>> {
        interval("compaction-interval", self.compaction_interval.as_deref())
    }

    /// The maintenance (delete conversion) interval, checked.
    pub fn maintenance_interval(&self) -> anyhow::Result<Option<std::time::Duration>> {
        interval("maintenance-interval", self.maintenance_interval.as_deref())
    }

    /// The idempotency key lifetime, checked.
    pub fn idempotency_key_lifetime(&self) -> anyhow::Result<std::time::Duration> {
        let text = &self.idempotency_key_lifetime;
        let lifetime: jiff::SignedDuration = text.parse().map_err(|e| {
            anyhow::anyhow!(
                "idempotency-key-lifetime {text:?} is not a duration like PT30M or PT24H: {e}"
            )
        })?;
        match std::time::Duration::try_from(lifetime) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => anyhow::bail!("idempotency-key-lifetime must be longer than zero"),
        }
    }
}

fn default_idempotency_key_lifetime() -> String {
    "PT30M".into()
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
/// The root znode of a catalog unless configured.
pub const DEFAULT_ZK_ROOT: &str = "/floe";

fn default_zk_root() -> String {
    DEFAULT_ZK_ROOT.into()
}

/// The ZooKeeper session timeout (milliseconds) unless configured.
pub fn default_zk_session_timeout() -> u64 {
    10_000
}

/// The commit-lock lease (milliseconds) unless configured.
pub fn default_zk_lock_lease() -> u64 {
    50
}

impl Default for ServeConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults parse")
    }
}

/// `floe serve`'s flags: each overrides the key of the same name in the `--config` file.
#[derive(clap::Args, Clone, Debug, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServeArgs {
    /// TOML config file; flags override its values.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// Warehouse: a local path, a file:// URL or s3://bucket/prefix.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// Directory of the embedded catalog store.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// ZooKeeper connect string (host:port[,host:port...]): store and locks in
    /// ZooKeeper, so several nodes can serve one warehouse.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zookeeper: Option<String>,
    /// Root znode of this catalog (default /floe).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zk_root: Option<String>,
    /// ZooKeeper session timeout in milliseconds (how long a dead node's locks last).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zk_session_timeout_ms: Option<u64>,
    /// How long a node keeps a table's commit lock after its commits, in milliseconds
    /// (default 50; 0: off); another node's commit waits at most one lease more.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zk_lock_lease_ms: Option<u64>,
    /// Compact every table (and expire its old snapshots) this often: 1h, 15m, 30s.
    /// Off by default; a table opts out with floe.compaction.enabled=false.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compaction_interval: Option<String>,
    /// Convert equality deletes into position deletes this often (5m), in every table
    /// with a partition of floe.convert-deletes.min-files (default 16) equality-delete
    /// files. Off by default.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_interval: Option<String>,
    /// How long an Idempotency-Key is kept, advertised in /v1/config: PT30M (default),
    /// PT24H.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key_lifetime: Option<String>,
    /// Authentication settings (TOML: signing-key, clients, tokens); see the README.
    #[arg(long)]
    #[serde(skip)]
    pub auth: Option<PathBuf>,
}

impl ServeArgs {
    /// The configuration: the defaults, the `--config` file over them, the flags over
    /// both, and the `--auth` file as `[auth]`.
    pub fn load(&self) -> Result<ServeConfig, ConfigError> {
        let mut table = match &self.config {
            Some(path) => {
                let text = read(path)?;
                // The file alone first, so its errors name its lines.
                parse_toml::<ServeConfig>(path, &text)?;
                parse_toml::<toml::Table>(path, &text)?
            }
            None => toml::Table::new(),
        };
        table.extend(toml::Table::try_from(self).map_err(ConfigError::Flags)?);
        let mut config = ServeConfig::deserialize(table).map_err(ConfigError::Merge)?;
        if let Some(path) = &self.auth {
            config.auth = Some(auth_from_file(path)?);
        }
        Ok(config)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Says where and what, never the line itself (it may hold a secret).
    #[error("invalid config file {path}, line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line of the error (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The flags cannot be written as configuration keys.
    #[error("invalid flags: {0}")]
    Flags(toml::ser::Error),
    /// The flags do not fit over the file.
    #[error("the flags do not fit the configuration: {0}")]
    Merge(toml::de::Error),
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        line: e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        }),
        message: e.message().to_string(),
    })
}

/// Reads the authentication settings from a TOML file of their own (`--auth FILE`).
pub fn auth_from_file(path: &Path) -> Result<AuthConfig, ConfigError> {
    parse_toml(path, &read(path)?)
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
    fn idempotency_key_lifetimes_are_durations_longer_than_zero() {
        let lifetime = |text: &str| {
            let c = ServeConfig {
                idempotency_key_lifetime: text.into(),
                ..Default::default()
            };
            c.idempotency_key_lifetime().map_err(|e| e.to_string())
        };
        assert_eq!(ServeConfig::default().idempotency_key_lifetime, "PT30M");
        let secs = std::time::Duration::from_secs;
        assert_eq!(lifetime("PT30M"), Ok(secs(1800)));
        assert_eq!(lifetime("PT24H"), Ok(secs(86400)));
        assert_eq!(lifetime("2s"), Ok(secs(2)));
        for bad in ["soon", "PT0S", "-PT1M", ""] {
            let e = lifetime(bad).unwrap_err();
            assert!(e.contains("idempotency-key-lifetime"), "{bad}: {e}");
        }
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
    fn flags_win_over_the_file_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("floe.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\nwarehouse = \"/file\"\nlock-timeout-secs = 7\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            warehouse: Some("/flag".into()),
            zk_session_timeout_ms: Some(500),
            ..Default::default()
        };
        let c = args.load().unwrap();
        assert_eq!(c.bind.port(), 9000, "from the file");
        assert_eq!(c.warehouse, "/flag", "the flag wins");
        assert_eq!(c.lock_timeout_secs, 7, "a key without a flag");
        assert_eq!(
            c.zk_session_timeout_ms, 500,
            "a flag without a key in the file"
        );
        assert_eq!(ServeArgs::default().load().unwrap(), ServeConfig::default());
        std::fs::write(&path, "bind = 5\n").unwrap();
        let err = args.load().unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
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
