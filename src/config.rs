//! Configuration in two stages: [`RawConfig`] (permissive serde, from the TOML
//! file) merged with CLI flags and `LOCALCOS_*` environment variables
//! ([`ServeArgs`]), then validated once into [`Config`], whose fields are
//! ready to use. Precedence: flag > environment > file > default.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::auth::{Credential, Scope, SecretKey};
use crate::http::target::{Addressing, BucketName};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
pub const DEFAULT_APPID: &str = "1250000000";
pub const DEFAULT_REGION: &str = "ap-guangzhou";

/// `localcos serve` flags. Every flag also reads a `LOCALCOS_*` variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOCALCOS_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Where objects and the index live (default ./data).
    #[arg(long, env = "LOCALCOS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A TOML configuration file (see config/localcos.toml).
    #[arg(long, short = 'c', env = "LOCALCOS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A bucket to create at start-up (repeatable; `-<appid>` is added when missing).
    #[arg(
        long = "bucket",
        env = "LOCALCOS_BUCKETS",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub buckets: Vec<String>,
    /// Keep everything in memory; nothing touches the disk.
    #[arg(long, env = "LOCALCOS_EPHEMERAL")]
    pub ephemeral: bool,
    /// Cluster mode: the metadata lives in this PostgreSQL database
    /// (`postgres://USER[:PASS]@HOST:PORT/DB`), shared by every node;
    /// needs --blob-store. --data-dir is then node-local scratch.
    #[arg(long, env = "LOCALCOS_META_URL", value_name = "URL")]
    pub meta_url: Option<String>,
    /// Cluster mode: where blobs live, a directory shared by every node
    /// (NFS, CephFS) or `s3://BUCKET/PREFIX`.
    #[arg(
        long,
        env = "LOCALCOS_BLOB_STORE",
        value_name = "DIR|s3://BUCKET/PREFIX"
    )]
    pub blob_store: Option<String>,
    /// The S3 endpoint of an `s3://` blob store (default: AWS).
    #[arg(long, env = "LOCALCOS_BLOB_ENDPOINT", value_name = "URL")]
    pub blob_endpoint: Option<String>,
    /// Region reported for buckets.
    #[arg(long, env = "LOCALCOS_REGION")]
    pub region: Option<String>,
    /// AWS SigV4: refuse a credential scope whose region is not `region`
    /// (400 AuthorizationHeaderMalformed). Off: any region signs.
    #[arg(long, env = "LOCALCOS_STRICT_REGION")]
    pub strict_region: bool,
    /// APPID appended to bucket names created without one.
    #[arg(long, env = "LOCALCOS_APPID")]
    pub appid: Option<String>,
    /// Bucket served on bare hosts (IP, localhost): for SDK `Domain` modes.
    #[arg(long, env = "LOCALCOS_DEFAULT_BUCKET", value_name = "NAME")]
    pub default_bucket: Option<String>,
    /// Map a custom domain to a bucket: `HOST=BUCKET` (repeatable).
    #[arg(
        long = "domain",
        env = "LOCALCOS_DOMAINS",
        value_delimiter = ',',
        value_name = "HOST=BUCKET"
    )]
    pub domains: Vec<String>,
    /// Extra base domain for virtual-hosted buckets, e.g. `cos.local` (repeatable).
    #[arg(
        long = "base-domain",
        env = "LOCALCOS_BASE_DOMAINS",
        value_delimiter = ',',
        value_name = "DOMAIN"
    )]
    pub base_domains: Vec<String>,
    /// SecretId of the default credential pair.
    #[arg(long, env = "LOCALCOS_SECRET_ID", hide_env_values = true)]
    pub secret_id: Option<String>,
    /// SecretKey of the default credential pair.
    #[arg(long, env = "LOCALCOS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Log filter (also RUST_LOG), e.g. `info`, `localcos=debug`.
    #[arg(long, env = "LOCALCOS_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "LOCALCOS_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// One structured line per request (target `localcos::access`, level
    /// info): `on` (the default) or `off`; `--access-log` alone means on.
    #[arg(
        long,
        env = "LOCALCOS_ACCESS_LOG",
        num_args = 0..=1,
        default_missing_value = "on",
        value_name = "on|off"
    )]
    pub access_log: Option<String>,
    /// Prometheus metrics at `/-/metrics`: `on` (the default) or `off`.
    #[arg(long, env = "LOCALCOS_METRICS", value_name = "on|off")]
    pub metrics: Option<String>,
    /// Also serve `/-/metrics` (and the health checks) on this address,
    /// e.g. `127.0.0.1:9100`, for a scraper kept off the S3 port.
    #[arg(long, env = "LOCALCOS_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
    /// Seconds a POST ?restore of an archived object takes (default 2).
    #[arg(long, env = "LOCALCOS_RESTORE_SECONDS", value_name = "SECONDS")]
    pub restore_seconds: Option<u64>,
    /// Length of one "day" in seconds for every day-based rule: lifecycle,
    /// restore `Days`, inventory schedules, object-lock retention (default
    /// 86400; tests set a few seconds).
    #[arg(long, env = "LOCALCOS_DAY_SECONDS", value_name = "SECONDS")]
    pub day_seconds: Option<u64>,
    /// Abort multipart uploads not completed within this many seconds
    /// (default 604800, 7 days; 0 keeps them forever).
    #[arg(
        long,
        env = "LOCALCOS_MULTIPART_EXPIRY_SECONDS",
        value_name = "SECONDS"
    )]
    pub multipart_expiry_seconds: Option<u64>,
    /// Seconds between deliveries of bucket access logs (`PUT ?logging`)
    /// into their target buckets (default 300).
    #[arg(long, env = "LOCALCOS_LOG_INTERVAL_SECONDS", value_name = "SECONDS")]
    pub log_interval_seconds: Option<u64>,
    /// Allow loopback, private and link-local origin addresses (tests).
    #[arg(long, env = "LOCALCOS_ORIGIN_ALLOW_PRIVATE")]
    pub origin_allow_private: bool,
    /// Seconds an origin fetch (proxy/mirror) may take to connect and to
    /// send its response head, and may stay silent mid-body (default 10).
    #[arg(long, env = "LOCALCOS_ORIGIN_TIMEOUT_SECONDS", value_name = "SECONDS")]
    pub origin_timeout_seconds: Option<u64>,
    /// Seconds between scans for replication work left PENDING (default 60).
    #[arg(
        long,
        env = "LOCALCOS_REPLICATION_SCAN_SECONDS",
        value_name = "SECONDS"
    )]
    pub replication_scan_seconds: Option<u64>,
    /// Server-wide default CORS rule for local development (off when
    /// empty): origins it allows, e.g. `http://localhost:3000` or `*`.
    /// Applies to buckets without a CORS configuration of their own.
    #[arg(
        long = "cors-default-origin",
        env = "LOCALCOS_CORS_DEFAULT_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub cors_default_origins: Vec<String>,
    /// Active SSE-COS master key (base64 of 32 bytes); default: generated
    /// into <data-dir>/sse-master.key.
    #[arg(long, env = "LOCALCOS_SSE_MASTER_KEY", hide_env_values = true)]
    pub sse_master_key: Option<String>,
    /// Connection/request limits, timeouts and the shutdown grace.
    #[command(flatten)]
    pub limits: crate::http::limits::LimitArgs,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key);
    /// reloaded on SIGHUP.
    #[arg(long, env = "LOCALCOS_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "LOCALCOS_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for localhost, 127.0.0.1,
    /// ::1 and the bucket hosts, generated into <data-dir>/tls/.
    #[arg(long, env = "LOCALCOS_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,
    /// Master key sealing the SecretKeys of stored keys (`localcos keys`):
    /// base64 of 32 bytes. Without one they are stored in clear.
    #[arg(long, env = "LOCALCOS_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// A file holding the master key (base64 text or 32 raw bytes).
    #[arg(long, env = "LOCALCOS_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Background scrub: re-read every stored object at most this many
    /// bytes per second and check it against its recorded CRC-64/MD5 and
    /// AES-GCM tags (off when unset or 0; README "Integrity: scrub and fsck").
    #[arg(long, env = "LOCALCOS_SCRUB_RATE", value_name = "BYTES_PER_SEC")]
    pub scrub_rate: Option<u64>,
    /// Seconds the background scrub waits between passes (default 86400).
    #[arg(long, env = "LOCALCOS_SCRUB_PAUSE_SECONDS", value_name = "SECONDS")]
    pub scrub_pause_seconds: Option<u64>,
    /// Seconds a replaced, deleted or orphaned blob waits before it is
    /// deleted (default 0, at once, on the embedded store; 3600 in cluster
    /// mode). One node at a time collects (a lease in the index).
    #[arg(long, env = "LOCALCOS_GC_GRACE_SECONDS", value_name = "SECONDS")]
    pub gc_grace_seconds: Option<u64>,
}

/// The TOML file, permissive about absence, strict about unknown names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub listen: Option<String>,
    /// Length of one "day" in seconds (also accepted as `[archive] day_seconds`).
    pub day_seconds: Option<u64>,
    pub data_dir: Option<PathBuf>,
    pub ephemeral: Option<bool>,
    /// Cluster mode (`--meta-url`, `--blob-store`, `--blob-endpoint`).
    pub meta_url: Option<String>,
    pub blob_store: Option<String>,
    pub blob_endpoint: Option<String>,
    pub region: Option<String>,
    pub appid: Option<String>,
    pub buckets: Vec<String>,
    pub default_bucket: Option<String>,
    pub base_domains: Vec<String>,
    pub service_hosts: Vec<String>,
    pub domains: HashMap<String, String>,
    pub credentials: Vec<RawCredential>,
    pub temporary_credentials: Vec<RawTemporaryCredential>,
    pub auth: RawAuth,
    pub limits: RawLimits,
    pub log: RawLog,
    pub archive: RawArchive,
    pub origin: RawOrigin,
    pub replication: RawReplication,
    /// Per-bucket settings: `[bucket_settings."<name>"]`.
    pub bucket_settings: HashMap<String, RawBucketSettings>,
    pub sse: crate::storage::sse::keys::RawSse,
    pub cors: RawCors,
    pub tls: RawTls,
    /// `[keys]`: stored credentials (`localcos keys`).
    pub keys: RawKeys,
    pub metrics: RawMetrics,
    pub scrub: RawScrub,
    pub gc: RawGc,
}

/// `[gc]`: when freed blobs are deleted (`storage::gc`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGc {
    /// Seconds a freed or orphaned blob waits before deletion (default 0 on
    /// the embedded store, 3600 in cluster mode).
    pub grace_seconds: Option<u64>,
}

/// `[keys]`: the master key sealing stored SecretKeys (one of the two).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawKeys {
    /// base64 of 32 bytes.
    pub master_key: Option<String>,
    /// A file holding it (base64 text or 32 raw bytes).
    pub master_key_file: Option<PathBuf>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetrics {
    /// `/-/metrics` and the per-request counters (default true).
    pub enabled: Option<bool>,
    /// A second listener for `/-/metrics` and the health checks only.
    pub listen: Option<String>,
}

/// `[scrub]`: the background scrub (off unless `rate` is set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawScrub {
    /// Bytes per second the background scrub reads at most (0 or unset: off).
    pub rate: Option<u64>,
    /// Seconds between passes (default 86400).
    pub pause_seconds: Option<u64>,
}

/// `[tls]`: HTTPS on the listen address (off unless set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTls {
    /// PEM certificate chain, leaf first.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// Generate a self-signed certificate into `<data-dir>/tls/`.
    pub self_signed: Option<bool>,
}

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// PEM files, re-read on SIGHUP.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated (http/tls.rs), kept in `<data-dir>/tls/` or a temp dir.
    SelfSigned,
}

/// `[cors]`: the server-wide default CORS rule (off unless origins are set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCors {
    /// Origins allowed (`*` or `scheme://host[:port]`, one `*` wildcard each).
    pub default_origins: Vec<String>,
    /// Methods allowed (default GET, PUT, POST, DELETE, HEAD).
    pub default_methods: Vec<String>,
    /// Request headers allowed (default `*`).
    pub default_headers: Vec<String>,
    /// Response headers exposed (default ETag, Content-Length, x-cos-request-id, ...).
    pub default_expose_headers: Vec<String>,
    /// Access-Control-Max-Age (default 600).
    pub default_max_age_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawArchive {
    /// Seconds from POST ?restore to a readable copy (default 2).
    pub restore_seconds: Option<u64>,
    /// Seconds in one restore "day" (default 86400).
    pub day_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOrigin {
    /// Allow loopback, private and link-local origin addresses (default false).
    pub allow_private: Option<bool>,
    /// Origin fetch timeout in seconds (default 10).
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReplication {
    /// Seconds between scans for PENDING replication work (default 60).
    pub scan_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBucketSettings {
    /// `http(s)://host[:port][/base/]`: GET of a missing key → 302 there.
    pub origin: Option<String>,
    /// Image suffixes under original-image protection, e.g. ["jpg", "png"].
    pub original_image_protection: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredential {
    pub secret_id: String,
    pub secret_key: String,
    /// Buckets this key may use (`-<appid>` added when missing); empty: all.
    #[serde(default)]
    pub buckets: Vec<String>,
    /// `read-write` (default) or `read-only`.
    #[serde(default)]
    pub access: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemporaryCredential {
    pub secret_id: String,
    pub secret_key: String,
    pub token: String,
    /// RFC 3339 instant after which the token is refused (ExpiredToken).
    pub expires: Option<String>,
    /// As for `[[credentials]]`: bucket scope and access.
    #[serde(default)]
    pub buckets: Vec<String>,
    #[serde(default)]
    pub access: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuth {
    /// How far in the future a signature's start time may lie (default 900 s).
    pub leeway_seconds: Option<u64>,
    /// AWS SigV4: the credential scope's region must equal `region` (default false).
    pub strict_region: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    /// Largest single PUT (default 5 GiB, as COS).
    pub max_object_size: Option<u64>,
    /// Largest request header section (default 64 KiB).
    pub max_header_bytes: Option<usize>,
    /// Seconds a request body may send nothing before 400 RequestTimeout (default 30).
    pub body_idle_timeout_seconds: Option<u64>,
    /// Multipart uploads older than this are aborted and their parts freed
    /// (default 604800, 7 days; 0 keeps them forever).
    pub multipart_expiry_seconds: Option<u64>,
    /// The process limits (http/limits.rs, README "Limits and shutdown").
    pub shutdown_grace_seconds: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_concurrent_requests: Option<usize>,
    pub request_timeout_seconds: Option<u64>,
    pub idle_timeout_seconds: Option<u64>,
    pub min_body_rate: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
    /// One line per request (default true).
    pub access: Option<bool>,
    /// Seconds between bucket access-log deliveries (`PUT ?logging`, default 300).
    pub interval_seconds: Option<u64>,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageMode {
    Memory,
    Dir(PathBuf),
    /// Several nodes over PostgreSQL and a shared blob store (issue 10).
    Cluster(ClusterStorage),
}

/// Cluster mode's storage: every node gets the same values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStorage {
    /// `--meta-url` (may hold a password: never logged whole).
    pub meta_url: String,
    pub blobs: crate::storage::blobspec::BlobSpec,
    /// `--data-dir`: node-local scratch (TLS material, temp files).
    pub scratch: PathBuf,
}

impl StorageMode {
    /// The node-local directory, if any (the data dir, or a cluster
    /// node's scratch dir).
    pub fn local_dir(&self) -> Option<&Path> {
        match self {
            StorageMode::Memory => None,
            StorageMode::Dir(d) => Some(d),
            StorageMode::Cluster(c) => Some(&c.scratch),
        }
    }
}

/// Validated, ready-to-use configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub storage: StorageMode,
    pub addressing: Addressing,
    pub buckets: Vec<BucketName>,
    pub credentials: Vec<Credential>,
    /// True when the default pair was generated (the banner prints it).
    pub generated_credentials: bool,
    /// Bucket scopes of the credentials that have one (by SecretId).
    pub scopes: Vec<(String, Scope)>,
    pub auth_leeway: Duration,
    /// AWS SigV4 credential scopes must name `addressing.region`.
    pub auth_strict_region: bool,
    pub max_object_size: u64,
    pub max_header_bytes: usize,
    /// A request body silent for this long fails with 400 RequestTimeout.
    pub body_idle_timeout: Duration,
    /// Abandoned multipart uploads are aborted after this long (`None`: never).
    pub multipart_expiry: Option<Duration>,
    /// Connection/request limits, timeouts and the shutdown grace.
    pub serve: crate::http::limits::ServeLimits,
    pub log_level: String,
    pub log_json: bool,
    /// One `localcos::access` line per request.
    pub access_log: bool,
    /// How often bucket access logs (`?logging`) are delivered.
    pub log_interval: Duration,
    /// Restore duration and day length for archived objects.
    pub archive: crate::archive::RestoreTiming,
    /// The day clock of every day-based rule (clock.rs); its day is
    /// `archive.day`.
    pub days: crate::clock::DayClock,
    /// Per-bucket settings, by full bucket name.
    pub bucket_settings: HashMap<String, crate::bucket_settings::BucketSettings>,
    /// Server-side encryption keys (master keys, KMS keys).
    pub sse: crate::storage::sse::SseSettings,
    /// The default CORS rule for buckets without CORS rules (`[cors]`).
    pub default_cors: Option<crate::bucket_config::Cors>,
    /// Back-to-origin fetches (`?origin` proxy/mirror rules).
    pub origin: OriginSettings,
    /// How often the replication worker scans for PENDING work.
    pub replication_scan: Duration,
    /// HTTPS instead of plain HTTP on `listen` (`None`: plain HTTP).
    pub tls: Option<TlsMode>,
    /// Seals the SecretKeys of stored keys (`admin::seal`); `None`: clear.
    pub master_key: Option<crate::admin::seal::MasterKey>,
    /// `/-/metrics` and per-request counting (`--metrics`).
    pub metrics: bool,
    /// A second listener for `/-/metrics` and health (`--metrics-listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// The background scrub (`None`: off).
    pub scrub: Option<ScrubSettings>,
    /// `--gc-grace-seconds` as given (`None`: the storage mode's default,
    /// see [`Config::gc_grace`]).
    pub gc_grace_seconds: Option<u64>,
}

impl Config {
    /// How long freed blobs wait before deletion (`storage::gc`): as
    /// configured, else 0 on the embedded and memory stores (a blob goes as
    /// soon as nothing references it) and 3600 s on shared stores.
    pub fn gc_grace(&self) -> Duration {
        let default = if matches!(self.storage, StorageMode::Memory | StorageMode::Dir(_)) {
            0
        } else {
            3600
        };
        Duration::from_secs(self.gc_grace_seconds.unwrap_or(default))
    }
}

/// Background scrub settings (`--scrub-rate`, `[scrub]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubSettings {
    /// Bytes per second, > 0.
    pub rate: u64,
    /// Pause between passes.
    pub pause: Duration,
}

/// Back-to-origin fetch settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginSettings {
    /// Loopback, private and link-local origins allowed (`--origin-allow-private`).
    pub allow_private: bool,
    /// Connect / response-head / idle-body timeout of a fetch.
    pub timeout: Duration,
}

/// A configuration error, printed as is at start-up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// The `--config` file (an empty one when none is named).
fn read_raw(args: &ServeArgs) -> Result<RawConfig, ConfigError> {
    let Some(path) = &args.config else {
        return Ok(RawConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str::<RawConfig>(&text)
        .map_err(|e| ConfigError(format!("invalid config file {}: {e}", path.display())))
}

/// `--ephemeral`, the data dir (default `./data`), or cluster mode
/// (`--meta-url` with `--blob-store`, the data dir then node-local scratch).
fn storage_mode(args: &ServeArgs, raw: &RawConfig) -> Result<StorageMode, ConfigError> {
    let ephemeral = args.ephemeral || raw.ephemeral.unwrap_or(false);
    let meta_url = args.meta_url.clone().or(raw.meta_url.clone());
    let blob_store = args.blob_store.clone().or(raw.blob_store.clone());
    let blob_endpoint = args.blob_endpoint.clone().or(raw.blob_endpoint.clone());
    let storage = if let Some(meta_url) = meta_url.filter(|u| !u.trim().is_empty()) {
        if ephemeral {
            return err("--meta-url and --ephemeral exclude each other".to_string());
        }
        if !(meta_url.starts_with("postgres://") || meta_url.starts_with("postgresql://")) {
            return err("meta-url: must be postgres://USER[:PASS]@HOST:PORT/DB".to_string());
        }
        let Some(spec) = blob_store.filter(|s| !s.trim().is_empty()) else {
            return err(
                "--meta-url needs --blob-store (a shared directory or s3://BUCKET/PREFIX)"
                    .to_string(),
            );
        };
        let blobs = crate::storage::blobspec::BlobSpec::parse(&spec, blob_endpoint.as_deref())
            .map_err(ConfigError)?;
        StorageMode::Cluster(ClusterStorage {
            meta_url,
            blobs,
            scratch: args
                .data_dir
                .clone()
                .or(raw.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from("./data")),
        })
    } else if blob_store.is_some() || blob_endpoint.is_some() {
        return err("--blob-store and --blob-endpoint need --meta-url (cluster mode)".to_string());
    } else if ephemeral {
        StorageMode::Memory
    } else {
        StorageMode::Dir(
            args.data_dir
                .clone()
                .or_else(|| raw.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from("./data")),
        )
    };
    Ok(storage)
}

impl Config {
    /// Reads the config file (if any) and validates everything once.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        Config::from_parts(args, read_raw(args)?)
    }

    /// Only where the data lives, from the same sources as [`Config::load`]
    /// (flag > environment > config file > default): for the offline tools
    /// (`localcos fsck`), which must not write into the data dir (no
    /// credentials are generated here) nor need the rest to be valid.
    pub fn storage_of(args: &ServeArgs) -> Result<StorageMode, ConfigError> {
        storage_mode(args, &read_raw(args)?)
    }

    /// Merges flags/env over the file and validates.
    pub fn from_parts(args: &ServeArgs, raw: RawConfig) -> Result<Config, ConfigError> {
        let storage = storage_mode(args, &raw)?;
        let listen_text = args
            .listen
            .clone()
            .or(raw.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = match listen_text.parse() {
            Ok(a) => a,
            Err(_) => {
                return err(format!(
                "--listen: `{listen_text}` is not ADDR:PORT (e.g. 127.0.0.1:9000 or 0.0.0.0:9000)"
            ))
            }
        };
        let region = args
            .region
            .clone()
            .or(raw.region)
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return err(format!(
                "region: `{region}` is not a region name such as ap-guangzhou"
            ));
        }
        let appid = args
            .appid
            .clone()
            .or(raw.appid)
            .unwrap_or_else(|| DEFAULT_APPID.to_string());
        if appid.is_empty() || !appid.bytes().all(|b| b.is_ascii_digit()) {
            return err(format!("appid: `{appid}` must be digits, e.g. 1250000000"));
        }

        let parse_bucket = |name: &str, what: &str| -> Result<BucketName, ConfigError> {
            BucketName::parse(name.trim(), &appid, &region)
                .map_err(|e| ConfigError(format!("{what}: `{name}`: {}", e.message())))
        };
        let mut buckets = Vec::new();
        for name in args
            .buckets
            .iter()
            .chain(raw.buckets.iter())
            .filter(|n| !n.trim().is_empty())
        {
            let b = parse_bucket(name, "bucket")?;
            if !buckets.contains(&b) {
                buckets.push(b);
            }
        }
        let default_bucket = match args.default_bucket.clone().or(raw.default_bucket) {
            Some(b) => Some(parse_bucket(&b, "default bucket")?.as_str().to_string()),
            None => None,
        };
        let mut domains = HashMap::new();
        for (host, bucket) in raw
            .domains
            .iter()
            .map(|(h, b)| (h.clone(), b.clone()))
            .chain(args.domains.iter().map(|d| {
                let (h, b) = d.split_once('=').unwrap_or((d, ""));
                (h.to_string(), b.to_string())
            }))
        {
            if host.is_empty() || bucket.is_empty() {
                return err(format!(
                    "domain mapping `{host}={bucket}` must be HOST=BUCKET"
                ));
            }
            domains.insert(
                host.to_ascii_lowercase(),
                parse_bucket(&bucket, "domain mapping")?
                    .as_str()
                    .to_string(),
            );
        }
        let clean_domain = |d: &String| d.trim().trim_start_matches('.').to_ascii_lowercase();
        let base_domains: Vec<String> = args
            .base_domains
            .iter()
            .chain(raw.base_domains.iter())
            .map(clean_domain)
            .filter(|d| !d.is_empty())
            .collect();
        let service_hosts: Vec<String> = raw
            .service_hosts
            .iter()
            .map(clean_domain)
            .filter(|d| !d.is_empty())
            .collect();

        // Credentials: the default pair from flags/env, then the file's.
        let mut credentials = Vec::new();
        let mut generated_credentials = false;
        match (&args.secret_id, &args.secret_key) {
            (Some(id), Some(key)) if !id.is_empty() && !key.is_empty() => {
                credentials.push(permanent(id, key))
            }
            (None, None) => {}
            _ => return err("LOCALCOS_SECRET_ID and LOCALCOS_SECRET_KEY must be set together"),
        }
        let mut scopes = Vec::new();
        let scope_of = |id: &str, buckets: &[String], access: &Option<String>| {
            let read_only = match access.as_deref() {
                None | Some("read-write") => false,
                Some("read-only") => true,
                Some(other) => {
                    return err(format!(
                        "credential {id}: access `{other}` must be read-only or read-write"
                    ))
                }
            };
            let buckets = if buckets.is_empty() {
                None
            } else {
                Some(
                    buckets
                        .iter()
                        .map(|b| {
                            parse_bucket(b, &format!("credential {id}: bucket"))
                                .map(|b| b.as_str().to_string())
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )
            };
            Ok(Scope { buckets, read_only })
        };
        for c in &raw.credentials {
            if c.secret_id.is_empty() || c.secret_key.is_empty() {
                return err("credentials: secret_id and secret_key must not be empty");
            }
            credentials.push(permanent(&c.secret_id, &c.secret_key));
            let scope = scope_of(&c.secret_id, &c.buckets, &c.access)?;
            if !scope.is_owner() {
                scopes.push((c.secret_id.clone(), scope));
            }
        }
        for t in &raw.temporary_credentials {
            let expires = match &t.expires {
                Some(s) => Some(humantime::parse_rfc3339_weak(s).map_err(|e| {
                    ConfigError(format!(
                        "temporary credential {}: expires `{s}`: {e}",
                        t.secret_id
                    ))
                })?),
                None => None,
            };
            credentials.push(Credential {
                secret_id: t.secret_id.clone(),
                secret_key: SecretKey::new(t.secret_key.clone()),
                token: Some(t.token.clone()),
                expires,
            });
            let scope = scope_of(&t.secret_id, &t.buckets, &t.access)?;
            if !scope.is_owner() {
                scopes.push((t.secret_id.clone(), scope));
            }
        }
        if credentials.iter().all(|c| c.token.is_some()) {
            let (id, key) = match &storage {
                StorageMode::Dir(dir) => load_or_generate_credentials(dir)?,
                // A cluster shares the generated pair through the index
                // (`storage::secrets`, at start-up): nothing per node.
                StorageMode::Memory | StorageMode::Cluster(_) => generate_credentials(),
            };
            credentials.insert(0, permanent(&id, &key));
            generated_credentials = true;
        }

        let archive = crate::archive::RestoreTiming {
            restore: Duration::from_secs(
                args.restore_seconds
                    .or(raw.archive.restore_seconds)
                    .unwrap_or(2),
            ),
            day: Duration::from_secs(
                args.day_seconds
                    .or(raw.day_seconds)
                    .or(raw.archive.day_seconds)
                    .unwrap_or(86_400)
                    .max(1),
            ),
        };
        let allow_private = args.origin_allow_private || raw.origin.allow_private.unwrap_or(false);
        let mut bucket_settings = HashMap::new();
        for (name, s) in &raw.bucket_settings {
            let bucket = parse_bucket(name, "bucket_settings")?;
            let origin = match &s.origin {
                Some(url) => Some(
                    crate::origin::validate(url, allow_private, &crate::origin::system_resolver)
                        .map_err(|e| ConfigError(format!("bucket_settings.{name}.origin: {e}")))?,
                ),
                None => None,
            };
            let mut protected_suffixes = Vec::new();
            for suffix in &s.original_image_protection {
                match crate::bucket_settings::clean_suffix(suffix) {
                    Some(s) => protected_suffixes.push(s),
                    None => {
                        return err(format!(
                            "bucket_settings.{name}.original_image_protection: `{suffix}` is not a file suffix such as jpg"
                        ))
                    }
                }
            }
            bucket_settings.insert(
                bucket.as_str().to_string(),
                crate::bucket_settings::BucketSettings {
                    origin,
                    protected_suffixes,
                },
            );
        }

        let log = raw.log;
        let log_format = args
            .log_format
            .clone()
            .or(log.format)
            .unwrap_or_else(|| "text".to_string());
        if log_format != "text" && log_format != "json" {
            return err(format!("log format `{log_format}` must be text or json"));
        }
        let switch = |name: &str, flag: &Option<String>, toml: Option<bool>| match flag
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => Ok(toml.unwrap_or(true)),
            Some(v) => match v.as_str() {
                "on" | "true" | "1" | "yes" => Ok(true),
                "off" | "false" | "0" | "no" => Ok(false),
                _ => Err(ConfigError(format!("--{name} `{v}` must be on or off"))),
            },
        };
        let access_log = switch("access-log", &args.access_log, log.access)?;
        let metrics = switch("metrics", &args.metrics, raw.metrics.enabled)?;
        let metrics_listen = match args.metrics_listen.clone().or(raw.metrics.listen) {
            None => None,
            Some(text) => match text.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    return err(format!(
                        "--metrics-listen: `{text}` is not ADDR:PORT (e.g. 127.0.0.1:9100)"
                    ))
                }
            },
        };
        let sse =
            crate::storage::sse::SseSettings::from_raw(args.sse_master_key.as_deref(), &raw.sse)
                .map_err(ConfigError)?;
        let default_cors = default_cors(&args.cors_default_origins, &raw.cors)?;
        let serve = crate::http::limits::ServeLimits::resolve(&args.limits, &raw.limits)?;
        let tls = tls_mode(args, &raw.tls)?;
        let master_key = master_key(args, &raw.keys)?;
        Ok(Config {
            listen,
            storage,
            addressing: Addressing {
                appid,
                region,
                base_domains,
                service_hosts,
                domains,
                default_bucket,
            },
            buckets,
            credentials,
            generated_credentials,
            scopes,
            auth_leeway: Duration::from_secs(raw.auth.leeway_seconds.unwrap_or(900)),
            auth_strict_region: args.strict_region || raw.auth.strict_region.unwrap_or(false),
            max_object_size: raw.limits.max_object_size.unwrap_or(5 * 1024 * 1024 * 1024),
            max_header_bytes: raw.limits.max_header_bytes.unwrap_or(64 * 1024),
            multipart_expiry: Some(
                args.multipart_expiry_seconds
                    .or(raw.limits.multipart_expiry_seconds)
                    .unwrap_or(7 * 86_400),
            )
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
            body_idle_timeout: serve.body_window,
            serve,
            log_level: args
                .log_level
                .clone()
                .or(log.level)
                .unwrap_or_else(|| "info".to_string()),
            log_json: log_format == "json",
            access_log,
            metrics,
            metrics_listen,
            log_interval: Duration::from_secs(
                args.log_interval_seconds
                    .or(log.interval_seconds)
                    .unwrap_or(300)
                    .max(1),
            ),
            days: crate::clock::DayClock::starting_now(archive.day),
            archive,
            bucket_settings,
            sse,
            origin: OriginSettings {
                allow_private,
                timeout: Duration::from_secs(
                    args.origin_timeout_seconds
                        .or(raw.origin.timeout_seconds)
                        .unwrap_or(10)
                        .max(1),
                ),
            },
            replication_scan: Duration::from_secs(
                args.replication_scan_seconds
                    .or(raw.replication.scan_seconds)
                    .unwrap_or(60)
                    .max(1),
            ),
            default_cors,
            tls,
            master_key,
            gc_grace_seconds: args.gc_grace_seconds.or(raw.gc.grace_seconds),
            scrub: args
                .scrub_rate
                .or(raw.scrub.rate)
                .filter(|r| *r > 0)
                .map(|rate| ScrubSettings {
                    rate,
                    pause: Duration::from_secs(
                        args.scrub_pause_seconds
                            .or(raw.scrub.pause_seconds)
                            .unwrap_or(86_400),
                    ),
                }),
        })
    }

    /// The default (first permanent) credential pair.
    pub fn default_credential(&self) -> &Credential {
        self.credentials
            .iter()
            .find(|c| c.token.is_none())
            .unwrap_or(&self.credentials[0])
    }
}

/// The credential master key: flag/env over the file; a key beats a key file.
fn master_key(
    args: &ServeArgs,
    raw: &RawKeys,
) -> Result<Option<crate::admin::seal::MasterKey>, ConfigError> {
    use crate::admin::seal::MasterKey;
    let from_text = |what: &str, text: &str| {
        MasterKey::from_base64(text).map_err(|e| ConfigError(format!("{what}: {e}")))
    };
    let from_file = |what: &str, path: &Path| {
        MasterKey::from_file(path).map_err(|e| ConfigError(format!("{what}: {e}")))
    };
    Ok(Some(if let Some(k) = &args.master_key {
        from_text("--master-key / LOCALCOS_MASTER_KEY", k)?
    } else if let Some(f) = &args.master_key_file {
        from_file("--master-key-file / LOCALCOS_MASTER_KEY_FILE", f)?
    } else if let Some(k) = &raw.master_key {
        from_text("[keys] master_key", k)?
    } else if let Some(f) = &raw.master_key_file {
        from_file("[keys] master_key_file", f)?
    } else {
        return Ok(None);
    }))
}

/// The `[cors]` default rule (flag origins override the file's), checked
/// like a PUT ?cors document; `None` when no origin is configured.
fn default_cors(
    flag_origins: &[String],
    raw: &RawCors,
) -> Result<Option<crate::bucket_config::Cors>, ConfigError> {
    use crate::bucket_config::cors::{Cors, CorsRule};
    let origins: Vec<String> = if flag_origins.is_empty() {
        raw.default_origins.clone()
    } else {
        flag_origins.to_vec()
    };
    let origins: Vec<String> = origins
        .into_iter()
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let or = |v: &[String], d: &[&str]| -> Vec<String> {
        if v.is_empty() {
            d.iter().map(|s| s.to_string()).collect()
        } else {
            v.to_vec()
        }
    };
    let cors = Cors {
        rules: vec![CorsRule {
            id: Some("localcos-default".into()),
            allowed_origins: origins,
            allowed_methods: or(
                &raw.default_methods,
                &["GET", "PUT", "POST", "DELETE", "HEAD"],
            ),
            allowed_headers: or(&raw.default_headers, &["*"]),
            expose_headers: or(
                &raw.default_expose_headers,
                &[
                    "ETag",
                    "Content-Length",
                    "x-cos-request-id",
                    "x-cos-version-id",
                    "x-cos-hash-crc64ecma",
                ],
            ),
            max_age_seconds: Some(raw.default_max_age_seconds.unwrap_or(600).to_string()),
        }],
        response_vary: None,
    };
    // Checked exactly as a `PUT ?cors` body would be.
    use crate::bucket_config::BucketConfig;
    Cors::parse(cors.render().as_bytes()).map_err(|e| {
        ConfigError(format!(
            "[cors] default rule: {}",
            e.message.as_deref().unwrap_or(e.code.default_message())
        ))
    })?;
    Ok(Some(cors))
}

/// `--tls-cert`/`--tls-key` (each beating the file's), or `--tls-self-signed`.
fn tls_mode(args: &ServeArgs, raw: &RawTls) -> Result<Option<TlsMode>, ConfigError> {
    let cert = args.tls_cert.clone().or_else(|| raw.cert.clone());
    let key = args.tls_key.clone().or_else(|| raw.key.clone());
    let self_signed = args.tls_self_signed || raw.self_signed.unwrap_or(false);
    match (cert, key, self_signed) {
        (None, None, false) => Ok(None),
        (None, None, true) => Ok(Some(TlsMode::SelfSigned)),
        (Some(_), Some(_), true) => {
            err("--tls-self-signed and --tls-cert/--tls-key exclude each other; pick one")
        }
        (Some(cert), Some(key), false) => Ok(Some(TlsMode::Files { cert, key })),
        (Some(_), None, _) => err("--tls-cert needs --tls-key (LOCALCOS_TLS_KEY, [tls] key)"),
        (None, Some(_), _) => err("--tls-key needs --tls-cert (LOCALCOS_TLS_CERT, [tls] cert)"),
    }
}

fn permanent(id: &str, key: &str) -> Credential {
    Credential {
        secret_id: id.to_string(),
        secret_key: SecretKey::new(key),
        token: None,
        expires: None,
    }
}

fn random_text(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn generate_credentials() -> (String, String) {
    (format!("AKID{}", random_text(32)), random_text(32))
}

/// Generated credentials survive restarts in `<data-dir>/credentials` (0600),
/// so SDK configs keep working.
fn load_or_generate_credentials(dir: &Path) -> Result<(String, String), ConfigError> {
    let path = dir.join("credentials");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut lines = text.lines();
        if let (Some(id), Some(key)) = (lines.next(), lines.next()) {
            if !id.is_empty() && !key.is_empty() {
                return Ok((id.to_string(), key.to_string()));
            }
        }
    }
    let (id, key) = generate_credentials();
    std::fs::create_dir_all(dir)
        .map_err(|e| ConfigError(format!("cannot create data dir {}: {e}", dir.display())))?;
    let tmp = dir.join("credentials.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(format!("{id}\n{key}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    Ok((id, key))
}

impl Config {
    /// A config for tests: memory storage, fixed credentials.
    pub fn for_tests(secret_id: &str, secret_key: &str) -> Config {
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            ephemeral: true,
            secret_id: Some(secret_id.into()),
            secret_key: Some(secret_key.into()),
            ..Default::default()
        };
        Config::from_parts(&args, RawConfig::default()).expect("test config is valid")
    }
}

/// `now` for the auth layer; a function so tests can see where time enters.
pub fn now() -> SystemTime {
    SystemTime::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            ephemeral: true,
            secret_id: Some("id".into()),
            secret_key: Some("key".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let c = Config::from_parts(&args(), RawConfig::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.addressing.appid, "1250000000");
        assert_eq!(c.addressing.region, "ap-guangzhou");
        assert_eq!(c.storage, StorageMode::Memory);
        assert!(!c.generated_credentials);
    }

    /// `storage_of` (the offline tools) resolves the data dir exactly as
    /// `load` does: flag/env over the file over `./data`; ephemeral wins.
    #[test]
    fn storage_of_follows_flags_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "data_dir = \"/from/file\"\n").unwrap();
        let eph = dir.path().join("e.toml");
        std::fs::write(&eph, "ephemeral = true\n").unwrap();
        let dir_of = |p: &str| StorageMode::Dir(PathBuf::from(p));
        let cases: Vec<(Option<&str>, Option<&Path>, bool, StorageMode)> = vec![
            (None, None, false, dir_of("./data")),
            (None, Some(&file), false, dir_of("/from/file")),
            (Some("/flag"), Some(&file), false, dir_of("/flag")),
            (Some("/flag"), None, true, StorageMode::Memory),
            (None, Some(&eph), false, StorageMode::Memory),
        ];
        for (data_dir, config, ephemeral, want) in cases {
            let args = ServeArgs {
                data_dir: data_dir.map(PathBuf::from),
                config: config.map(Path::to_path_buf),
                ephemeral,
                ..Default::default()
            };
            let got = Config::storage_of(&args).unwrap();
            assert_eq!(got, want, "{data_dir:?} {config:?}");
        }
        let bad = ServeArgs {
            config: Some(dir.path().join("missing.toml")),
            ..Default::default()
        };
        let e = Config::storage_of(&bad).unwrap_err();
        assert!(e.to_string().contains("cannot read config file"), "{e}");
    }

    #[test]
    fn access_log_and_metrics_switches() {
        let c = Config::from_parts(&args(), RawConfig::default()).unwrap();
        assert!(c.access_log && c.metrics && c.metrics_listen.is_none());
        let raw = || -> RawConfig {
            toml::from_str(
                "[log]\naccess = false\n[metrics]\nenabled = false\nlisten = \"127.0.0.1:9100\"",
            )
            .unwrap()
        };
        let c = Config::from_parts(&args(), raw()).unwrap();
        assert!(!c.access_log && !c.metrics);
        assert_eq!(c.metrics_listen.unwrap().to_string(), "127.0.0.1:9100");
        // (flag value, on?) — flags beat the file.
        for (v, on) in [
            ("on", true),
            ("ON", true),
            ("true", true),
            ("1", true),
            ("off", false),
            ("no", false),
        ] {
            let mut a = args();
            a.access_log = Some(v.into());
            a.metrics = Some(v.into());
            let c = Config::from_parts(&a, raw()).unwrap();
            assert_eq!((c.access_log, c.metrics), (on, on), "{v}");
        }
        let mut a = args();
        a.access_log = Some("loud".into());
        let e = Config::from_parts(&a, RawConfig::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("--access-log `loud` must be on or off"),
            "{e}"
        );
        let mut a = args();
        a.metrics_listen = Some("nowhere".into());
        let e = Config::from_parts(&a, RawConfig::default()).unwrap_err();
        assert!(e.to_string().contains("--metrics-listen"), "{e}");
    }

    #[test]
    fn flags_beat_file() {
        let raw: RawConfig =
            toml::from_str("listen = \"0.0.0.0:1\"\nbuckets = [\"a\"]\nregion = \"ap-beijing\"")
                .unwrap();
        let mut a = args();
        a.listen = Some("127.0.0.1:2".into());
        a.buckets = vec!["b-1300000000".into()];
        let c = Config::from_parts(&a, raw).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:2");
        assert_eq!(c.addressing.region, "ap-beijing");
        let names: Vec<&str> = c.buckets.iter().map(|b| b.as_str()).collect();
        assert_eq!(names, ["b-1300000000", "a-1250000000"]);
    }

    #[test]
    fn clear_errors() {
        let mut a = args();
        a.listen = Some("nonsense".into());
        assert!(Config::from_parts(&a, RawConfig::default())
            .unwrap_err()
            .0
            .contains("--listen"));
        let mut a = args();
        a.buckets = vec!["Bad_Name".into()];
        assert!(Config::from_parts(&a, RawConfig::default())
            .unwrap_err()
            .0
            .contains("Bad_Name"));
        assert!(toml::from_str::<RawConfig>("lisen = 1").is_err());
        let mut a = args();
        a.secret_key = None;
        assert!(Config::from_parts(&a, RawConfig::default()).is_err());
    }

    #[test]
    fn generates_when_missing() {
        let a = ServeArgs {
            ephemeral: true,
            ..Default::default()
        };
        let c = Config::from_parts(&a, RawConfig::default()).unwrap();
        assert!(c.generated_credentials);
        assert!(c.default_credential().secret_id.starts_with("AKID"));
    }

    #[test]
    fn archive_and_bucket_settings() {
        let c = Config::from_parts(&args(), RawConfig::default()).unwrap();
        assert_eq!(c.archive, crate::archive::RestoreTiming::default());
        assert!(c.bucket_settings.is_empty());
        let raw: RawConfig = toml::from_str(
            "[archive]\nrestore_seconds = 0\nday_seconds = 3\n\
             [bucket_settings.photos]\norigin = \"http://203.0.113.7/base\"\n\
             original_image_protection = [\".JPG\", \"png\"]\n",
        )
        .unwrap();
        let mut a = args();
        a.restore_seconds = Some(1);
        let c = Config::from_parts(&a, raw.clone()).unwrap();
        assert_eq!(c.archive.restore, Duration::from_secs(1), "flag beats file");
        assert_eq!(c.archive.day, Duration::from_secs(3));
        let s = &c.bucket_settings["photos-1250000000"];
        assert_eq!(
            s.origin.as_ref().unwrap().base(),
            "http://203.0.113.7/base/"
        );
        assert_eq!(s.protected_suffixes, ["jpg", "png"]);

        // Loopback origins only behind the switch; metadata never.
        let local: RawConfig =
            toml::from_str("[bucket_settings.b]\norigin = \"http://127.0.0.1:8080/\"\n").unwrap();
        let e = Config::from_parts(&args(), local.clone()).unwrap_err().0;
        assert!(
            e.contains("bucket_settings.b.origin") && e.contains("loopback"),
            "{e}"
        );
        let mut a = args();
        a.origin_allow_private = true;
        assert!(Config::from_parts(&a, local).is_ok());
        let raw: RawConfig = toml::from_str(
            "[origin]\nallow_private = true\n[bucket_settings.b]\norigin = \"http://169.254.169.254/\"\n",
        )
        .unwrap();
        assert!(Config::from_parts(&args(), raw)
            .unwrap_err()
            .0
            .contains("metadata"));
        let raw: RawConfig =
            toml::from_str("[bucket_settings.b]\noriginal_image_protection = [\"a/b\"]\n").unwrap();
        assert!(Config::from_parts(&args(), raw).is_err());
        assert!(toml::from_str::<RawConfig>("[bucket_settings.b]\norigins = \"x\"").is_err());
    }

    #[test]
    fn credential_scopes() {
        let raw: RawConfig = toml::from_str(
            r#"
[[credentials]]
secret_id = "ro"
secret_key = "k"
buckets = ["alpha", "beta-1300000000"]
access = "read-only"

[[credentials]]
secret_id = "owner"
secret_key = "k"

[[temporary_credentials]]
secret_id = "tmp"
secret_key = "k"
token = "t"
access = "read-only"
"#,
        )
        .unwrap();
        let c = Config::from_parts(&args(), raw).unwrap();
        assert_eq!(
            c.scopes,
            vec![
                (
                    "ro".to_string(),
                    Scope {
                        buckets: Some(vec![
                            "alpha-1250000000".to_string(),
                            "beta-1300000000".to_string()
                        ]),
                        read_only: true,
                    }
                ),
                (
                    "tmp".to_string(),
                    Scope {
                        buckets: None,
                        read_only: true,
                    }
                ),
            ]
        );
        for bad in [
            "[[credentials]]\nsecret_id = \"x\"\nsecret_key = \"k\"\naccess = \"write\"",
            "[[credentials]]\nsecret_id = \"x\"\nsecret_key = \"k\"\nbuckets = [\"Bad_Name\"]",
        ] {
            let raw: RawConfig = toml::from_str(bad).unwrap();
            let e = Config::from_parts(&args(), raw).unwrap_err().0;
            assert!(e.contains("credential x"), "{e}");
        }
    }

    #[test]
    fn tls_modes() {
        let c = Config::from_parts(&args(), RawConfig::default()).unwrap();
        assert_eq!(c.tls, None, "plain HTTP by default");
        let files = |cert: &str, key: &str| TlsMode::Files {
            cert: cert.into(),
            key: key.into(),
        };
        let raw = |t: &str| -> RawConfig { toml::from_str(t).unwrap() };
        let with = |f: &dyn Fn(&mut ServeArgs)| {
            let mut a = args();
            f(&mut a);
            a
        };
        type Case = (ServeArgs, RawConfig, Result<Option<TlsMode>, &'static str>);
        let cases: Vec<Case> = vec![
            (
                with(&|a| {
                    a.tls_cert = Some("c.pem".into());
                    a.tls_key = Some("k.pem".into())
                }),
                RawConfig::default(),
                Ok(Some(files("c.pem", "k.pem"))),
            ),
            (
                args(),
                raw("[tls]\ncert = \"/etc/c.pem\"\nkey = \"/etc/k.pem\""),
                Ok(Some(files("/etc/c.pem", "/etc/k.pem"))),
            ),
            (
                with(&|a| a.tls_cert = Some("flag.pem".into())),
                raw("[tls]\ncert = \"/etc/c.pem\"\nkey = \"/etc/k.pem\""),
                Ok(Some(files("flag.pem", "/etc/k.pem"))),
            ),
            (
                with(&|a| a.tls_self_signed = true),
                RawConfig::default(),
                Ok(Some(TlsMode::SelfSigned)),
            ),
            (
                args(),
                raw("[tls]\nself_signed = true"),
                Ok(Some(TlsMode::SelfSigned)),
            ),
            (
                with(&|a| a.tls_cert = Some("c.pem".into())),
                RawConfig::default(),
                Err("--tls-cert needs --tls-key"),
            ),
            (
                args(),
                raw("[tls]\nkey = \"k.pem\""),
                Err("--tls-key needs --tls-cert"),
            ),
            (
                with(&|a| a.tls_self_signed = true),
                raw("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\""),
                Err("exclude each other"),
            ),
        ];
        for (i, (a, r, want)) in cases.into_iter().enumerate() {
            match (Config::from_parts(&a, r), want) {
                (Ok(c), Ok(mode)) => assert_eq!(c.tls, mode, "case {i}"),
                (Err(e), Err(text)) => assert!(e.0.contains(text), "case {i}: {e}"),
                (got, want) => panic!("case {i}: got {got:?}, want {want:?}"),
            }
        }
        assert!(toml::from_str::<RawConfig>("[tls]\ncertificate = \"x\"").is_err());
    }

    #[test]
    fn gc_grace_from_flag_file_or_default() {
        let raw = |t: &str| -> RawConfig { toml::from_str(t).unwrap() };
        let with = |flag: Option<u64>| ServeArgs {
            gc_grace_seconds: flag,
            ..args()
        };
        // (flag, file, want seconds)
        let cases: &[(Option<u64>, &str, u64)] = &[
            (None, "", 0),
            (None, "[gc]\ngrace_seconds = 60", 60),
            (Some(5), "[gc]\ngrace_seconds = 60", 5),
            (Some(0), "[gc]\ngrace_seconds = 60", 0),
        ];
        for (flag, file, want) in cases {
            let c = Config::from_parts(&with(*flag), raw(file)).unwrap();
            assert_eq!(
                c.gc_grace(),
                Duration::from_secs(*want),
                "{flag:?} {file:?}"
            );
        }
        let mut c = Config::from_parts(&args(), RawConfig::default()).unwrap();
        c.storage = StorageMode::Dir("/tmp/x".into());
        assert_eq!(c.gc_grace(), Duration::ZERO, "embedded default");
        assert!(toml::from_str::<RawConfig>("[gc]\ngrace = 1").is_err());
    }

    #[test]
    fn cluster_mode_flags() {
        use crate::storage::blobspec::BlobSpec;
        let with =
            |url: Option<&str>, blobs: Option<&str>, ep: Option<&str>, eph: bool| ServeArgs {
                meta_url: url.map(String::from),
                blob_store: blobs.map(String::from),
                blob_endpoint: ep.map(String::from),
                ephemeral: eph,
                data_dir: Some("/scratch".into()),
                ..args()
            };
        let url = "postgres://u:p@db:5432/localcos";
        let c = Config::from_parts(
            &with(Some(url), Some("/shared"), None, false),
            RawConfig::default(),
        )
        .unwrap();
        assert_eq!(
            c.storage,
            StorageMode::Cluster(ClusterStorage {
                meta_url: url.into(),
                blobs: BlobSpec::Dir("/shared".into()),
                scratch: "/scratch".into(),
            })
        );
        assert_eq!(
            c.gc_grace(),
            Duration::from_secs(3600),
            "cluster default grace"
        );
        let c = Config::from_parts(
            &with(Some(url), Some("s3://b/p"), Some("http://s3:8333"), false),
            RawConfig::default(),
        )
        .unwrap();
        assert!(matches!(
            c.storage,
            StorageMode::Cluster(ClusterStorage {
                blobs: BlobSpec::S3 { .. },
                ..
            })
        ));
        // From the file too.
        let raw: RawConfig =
            toml::from_str("meta_url = \"postgresql://db/x\"\nblob_store = \"/shared\"\n").unwrap();
        let c = Config::from_parts(&with(None, None, None, false), raw).unwrap();
        assert!(matches!(c.storage, StorageMode::Cluster(_)));
        // Refused combinations.
        for (u, b, e, eph) in [
            (Some(url), None, None, false),
            (Some(url), Some("/shared"), None, true),
            (Some("mysql://db/x"), Some("/shared"), None, false),
            (None, Some("/shared"), None, false),
            (None, None, Some("http://s3"), false),
            (Some(url), Some("/shared"), Some("http://s3"), false),
        ] {
            assert!(
                Config::from_parts(&with(u, b, e, eph), RawConfig::default()).is_err(),
                "{u:?} {b:?} {e:?} {eph}"
            );
        }
    }

    #[test]
    fn shipped_example_config_parses() {
        let text = include_str!("../config/localcos.toml");
        let raw: RawConfig = toml::from_str(text).unwrap();
        Config::from_parts(&args(), raw).unwrap();
    }
}
