//! `localcos keys add|list|revoke|rotate` and `localcos observability`.
//!
//! * Online (`--url http://127.0.0.1:9000`): signed calls to the running
//!   server's admin API, with the owner key from the same flags, environment
//!   and config file as `serve` (`--secret-id`/`--secret-key`,
//!   `LOCALCOS_SECRET_ID`/`LOCALCOS_SECRET_KEY`, `[[credentials]]`, or the
//!   generated pair in `<data-dir>/credentials`).
//! * Offline (no `--url`): directly on the data dir's index, with the server
//!   stopped (a running server holds the index's lock: the command says so).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::keys::{self, AddRequest, Created, KeyInfo, Rules};
use crate::config::{Config, ServeArgs, StorageMode};
use crate::storage::fs::RedbMeta;

/// Options shared by every `keys` action.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Manage the keys of the server at this URL (online; http:// or
    /// https://). Without it the command works offline on the data dir, with
    /// the server stopped.
    #[arg(long, global = true, env = "LOCALCOS_URL", value_name = "URL")]
    pub url: Option<String>,
    /// https:// URLs: trust the certificates in this PEM file (e.g. the
    /// `cert.pem` a `--tls-self-signed` server prints) instead of the
    /// system's CAs and the data dir's self-signed certificate.
    #[arg(long, global = true, env = "LOCALCOS_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The data dir (offline mode; online: where a generated owner key is read).
    #[arg(long, global = true, env = "LOCALCOS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The server's TOML configuration file.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "LOCALCOS_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// SecretId of the owner key that signs admin calls (online).
    #[arg(
        long,
        global = true,
        env = "LOCALCOS_SECRET_ID",
        hide_env_values = true
    )]
    pub secret_id: Option<String>,
    /// SecretKey of that owner key.
    #[arg(
        long,
        global = true,
        env = "LOCALCOS_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Master key sealing stored secrets (offline add/rotate).
    #[arg(
        long,
        global = true,
        env = "LOCALCOS_MASTER_KEY",
        hide_env_values = true
    )]
    pub master_key: Option<String>,
    /// A file holding the master key.
    #[arg(
        long,
        global = true,
        env = "LOCALCOS_MASTER_KEY_FILE",
        value_name = "FILE"
    )]
    pub master_key_file: Option<PathBuf>,
    /// APPID added to bucket names without one (offline; default 1250000000).
    #[arg(long, global = true, env = "LOCALCOS_APPID")]
    pub appid: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: Action,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create a key pair; its SecretKey is printed once.
    Add {
        /// Limit the key to this bucket (repeatable or comma-separated;
        /// `-<appid>` added when missing). Default: every bucket.
        #[arg(long = "bucket", value_delimiter = ',', value_name = "NAME")]
        buckets: Vec<String>,
        /// Reads only (GET, HEAD, listings, ACL reads).
        #[arg(long)]
        read_only: bool,
        /// A note shown by `list`.
        #[arg(long)]
        description: Option<String>,
        /// Use this SecretId instead of a generated one.
        #[arg(long, value_name = "ID")]
        new_secret_id: Option<String>,
        /// Use this SecretKey instead of a generated one.
        #[arg(long, value_name = "KEY", hide_env_values = true)]
        new_secret_key: Option<String>,
    },
    /// List stored keys (never their secrets).
    List,
    /// Revoke a stored key: its next request is refused (403 InvalidAccessKeyId).
    Revoke {
        /// The SecretId to revoke.
        #[arg(value_name = "SECRET_ID")]
        key_id: String,
    },
    /// Create a new key pair with the same scope as SECRET_ID. The old key
    /// keeps working until revoked, or until --grace-seconds pass.
    Rotate {
        /// The SecretId to replace.
        #[arg(value_name = "SECRET_ID")]
        key_id: String,
        /// Seconds the old key keeps working (0: revoke it now). Default:
        /// until `keys revoke`.
        #[arg(long, value_name = "SECONDS")]
        grace_seconds: Option<u64>,
    },
}

/// Runs the command; prints its result or the reason it failed.
pub fn run(args: KeysArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("localcos keys: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = args.common.json;
    match rt.block_on(execute(args)) {
        Ok(out) => {
            print!("{}", out.render(json));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("localcos keys: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What an action produced.
#[derive(Debug)]
pub enum Output {
    Created { created: Created, note: String },
    List(Vec<KeyInfo>),
    Revoked(KeyInfo),
}

impl Output {
    pub fn render(&self, json: bool) -> String {
        if json {
            let text = match self {
                Output::Created { created, .. } => serde_json::to_string_pretty(created),
                Output::List(list) => {
                    serde_json::to_string_pretty(&serde_json::json!({ "keys": list }))
                }
                Output::Revoked(info) => serde_json::to_string_pretty(info),
            };
            return text.unwrap_or_default() + "\n";
        }
        match self {
            Output::Created { created, note } => {
                let i = &created.info;
                format!(
                    "SecretId:  {}\nSecretKey: {}\n  {} on {}{}\n{note}The SecretKey is shown only now: store it safely.\n",
                    i.secret_id,
                    created.secret_key,
                    i.permission,
                    buckets_text(&i.buckets),
                    i.description
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default(),
                )
            }
            Output::Revoked(i) => format!("{} is {}\n", i.secret_id, i.status),
            Output::List(list) if list.is_empty() => "no stored keys\n".to_string(),
            Output::List(list) => {
                let mut out = format!(
                    "{:<38} {:<10} {:<11} {:<21} {}\n",
                    "SECRET_ID", "STATUS", "PERMISSION", "CREATED", "BUCKETS / NOTES"
                );
                for i in list {
                    let mut notes = vec![buckets_text(&i.buckets)];
                    if let Some(t) = &i.expires {
                        notes.push(format!("expires {t}"));
                    }
                    if let Some(r) = &i.replaced_by {
                        notes.push(format!("replaced by {r}"));
                    }
                    if let Some(d) = &i.description {
                        notes.push(d.clone());
                    }
                    out += &format!(
                        "{:<38} {:<10} {:<11} {:<21} {}\n",
                        i.secret_id,
                        i.status,
                        i.permission,
                        i.created,
                        notes.join("; ")
                    );
                }
                out
            }
        }
    }
}

fn buckets_text(b: &[String]) -> String {
    if b.is_empty() {
        "all buckets".to_string()
    } else {
        b.join(", ")
    }
}

fn rotate_note(old: &str, grace: Option<u64>) -> String {
    match grace {
        None => format!("{old} keeps working until `localcos keys revoke {old}`.\n"),
        Some(0) => format!("{old} is revoked.\n"),
        Some(s) => format!("{old} keeps working for {s} more seconds.\n"),
    }
}

fn load_config(c: &Common) -> Result<Config, String> {
    Config::load(&serve_args(c)).map_err(|e| format!("configuration: {e}"))
}

fn serve_args(c: &Common) -> ServeArgs {
    ServeArgs {
        data_dir: c.data_dir.clone(),
        config: c.config.clone(),
        secret_id: c.secret_id.clone(),
        secret_key: c.secret_key.clone(),
        master_key: c.master_key.clone(),
        master_key_file: c.master_key_file.clone(),
        appid: c.appid.clone(),
        ..Default::default()
    }
}

/// The configuration a command that calls a running server signs with. It
/// never generates a key pair (as `serve` does into `<data-dir>/credentials`
/// when none is configured): a client with no owner key is told so, and
/// leaves no data dir behind.
fn online_config(args: &ServeArgs) -> Result<Config, String> {
    // Where `Config::load` would write a pair it generates, if nothing is
    // there yet, and whether the data dir itself is new.
    let generated = match Config::storage_of(args) {
        Ok(StorageMode::Dir(dir)) => {
            Some((dir.join("credentials"), !dir.exists())).filter(|(file, _)| !file.exists())
        }
        _ => None,
    };
    let config = Config::load(args).map_err(|e| format!("configuration: {e}"))?;
    if config.generated_credentials {
        if let Some((file, new_dir)) = generated {
            let _ = std::fs::remove_file(&file);
            if let (true, Some(dir)) = (new_dir, file.parent()) {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(
                "no owner key to sign with: pass --secret-id and --secret-key \
                 (or LOCALCOS_SECRET_ID / LOCALCOS_SECRET_KEY), the server's --config, \
                 or the --data-dir holding its generated credentials"
                    .to_string(),
            );
        }
    }
    Ok(config)
}

async fn execute(args: KeysArgs) -> Result<Output, String> {
    // Offline on a dir that holds no index: say so before the configuration
    // is loaded (it would generate credentials into that dir).
    if let (None, Some(dir)) = (&args.common.url, &args.common.data_dir) {
        let db = dir.join("meta.redb");
        if !db.exists() {
            return Err(format!(
                "no localcos index at {}: is --data-dir right? (start the server once to create it)",
                db.display()
            ));
        }
    }
    match &args.common.url {
        Some(url) => {
            let config = online_config(&serve_args(&args.common))?;
            online(url, args.common.cacert.as_deref(), &config, args.action).await
        }
        None => offline(&load_config(&args.common)?, args.action).await,
    }
}

async fn offline(config: &Config, action: Action) -> Result<Output, String> {
    let dir = match &config.storage {
        StorageMode::Dir(d) => d.clone(),
        StorageMode::Cluster(_) => {
            return Err("a cluster keeps its keys in PostgreSQL: use --url with a running node".into())
        }
        StorageMode::Memory => {
            return Err("offline mode needs a data dir (an ephemeral server keeps no keys): pass --data-dir, or --url for a running server".into())
        }
    };
    let db = dir.join("meta.redb");
    if !db.exists() {
        return Err(format!(
            "no localcos index at {}: is --data-dir right? (start the server once to create it)",
            db.display()
        ));
    }
    let meta = RedbMeta::open(&db).await.map_err(|e| {
        // `RedbMeta::open` reports a lock held by another process as WouldBlock.
        let locked = matches!(&e, crate::storage::StorageError::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock)
            || e.to_string().to_ascii_lowercase().contains("already open");
        if locked {
            format!(
                "the data dir {} is in use by a running localcos server (its index is locked): \
                 stop the server, or manage keys through it with --url http://<its address>",
                dir.display()
            )
        } else {
            format!("cannot open {}: {e}", db.display())
        }
    })?;
    let rules = Rules::of(config);
    let fail = |e: keys::KeyError| e.to_string();
    match action {
        Action::List => Ok(Output::List(keys::list(&meta).await.map_err(fail)?)),
        Action::Revoke { key_id: secret_id } => Ok(Output::Revoked(
            keys::revoke(&meta, &rules, &secret_id)
                .await
                .map_err(fail)?
                .0,
        )),
        Action::Add {
            buckets,
            read_only,
            description,
            new_secret_id,
            new_secret_key,
        } => {
            keys::prepare(&meta, config.master_key.as_ref()).await?;
            let req = AddRequest {
                secret_id: new_secret_id,
                secret_key: new_secret_key,
                buckets,
                permission: read_only.then(|| "read-only".to_string()),
                description,
            };
            let (created, _) = keys::add(&meta, &rules, req).await.map_err(fail)?;
            Ok(Output::Created {
                created,
                note: String::new(),
            })
        }
        Action::Rotate {
            key_id: secret_id,
            grace_seconds,
        } => {
            keys::prepare(&meta, config.master_key.as_ref()).await?;
            let (created, _) = keys::rotate(
                &meta,
                &rules,
                &secret_id,
                grace_seconds.map(Duration::from_secs),
            )
            .await
            .map_err(fail)?;
            Ok(Output::Created {
                created,
                note: rotate_note(&secret_id, grace_seconds),
            })
        }
    }
}

/// The owner key that signs admin calls: the first configured permanent,
/// unscoped, read-write key.
fn owner(config: &Config) -> &crate::auth::Credential {
    config
        .credentials
        .iter()
        .filter(|c| c.token.is_none())
        .find(|c| {
            config
                .scopes
                .iter()
                .find(|(id, _)| *id == c.secret_id)
                .is_none_or(|(_, s)| s.is_owner())
        })
        .unwrap_or_else(|| config.default_credential())
}

/// A client signing admin calls to the server at `url` with the owner key.
fn client(url: &str, cacert: Option<&std::path::Path>, config: &Config) -> Result<Client, String> {
    let base = url::Url::parse(url).map_err(|e| format!("--url `{url}`: {e}"))?;
    let host = base
        .host_str()
        .ok_or_else(|| format!("--url `{url}` has no host"))?;
    let connect_host = host.trim_matches(|c| c == '[' || c == ']').to_string();
    let tls = match base.scheme() {
        "http" => None,
        "https" => Some(super::client_tls::connector(
            &connect_host,
            cacert,
            &config.storage,
        )?),
        other => {
            return Err(format!(
                "--url `{url}`: `{other}` is not a scheme localcos speaks (http or https)"
            ))
        }
    };
    let port = base.port_or_known_default().unwrap_or(80);
    let authority = match base.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    Ok(Client {
        connect: (connect_host, port),
        authority,
        cred: owner(config).clone(),
        tls,
    })
}

async fn online(
    url: &str,
    cacert: Option<&std::path::Path>,
    config: &Config,
    action: Action,
) -> Result<Output, String> {
    let client = client(url, cacert, config)?;
    match action {
        Action::List => {
            #[derive(serde::Deserialize)]
            struct List {
                keys: Vec<KeyInfo>,
            }
            let l: List = client.call("GET", "/-/admin/keys", &[], None).await?;
            Ok(Output::List(l.keys))
        }
        Action::Revoke { key_id: secret_id } => Ok(Output::Revoked(
            client
                .call("DELETE", &format!("/-/admin/keys/{secret_id}"), &[], None)
                .await?,
        )),
        Action::Add {
            buckets,
            read_only,
            description,
            new_secret_id,
            new_secret_key,
        } => {
            let req = AddRequest {
                secret_id: new_secret_id,
                secret_key: new_secret_key,
                buckets,
                permission: read_only.then(|| "read-only".to_string()),
                description,
            };
            let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
            let created = client
                .call("POST", "/-/admin/keys", &[], Some(body))
                .await?;
            Ok(Output::Created {
                created,
                note: String::new(),
            })
        }
        Action::Rotate {
            key_id: secret_id,
            grace_seconds,
        } => {
            let grace = grace_seconds.map(|g| g.to_string());
            let mut params = vec![("rotate", "")];
            if let Some(g) = &grace {
                params.push(("grace-seconds", g.as_str()));
            }
            let created = client
                .call("POST", &format!("/-/admin/keys/{secret_id}"), &params, None)
                .await?;
            Ok(Output::Created {
                created,
                note: rotate_note(&secret_id, grace_seconds),
            })
        }
    }
}

struct Client {
    connect: (String, u16),
    authority: String,
    cred: crate::auth::Credential,
    /// https:// URLs: how to open TLS (admin/client_tls.rs).
    tls: Option<super::client_tls::Connector>,
}

impl Client {
    /// One signed request; a 2xx JSON answer is decoded, an error's COS XML
    /// `Code` and `Message` are reported.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<T, String> {
        use crate::auth::presign::{authorization_with_headers, encode_path, Presign, Signer};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let body = body.unwrap_or_default();
        let md5 = {
            use md5::Digest;
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body))
        };
        let p = Presign {
            method,
            path,
            host: Some(&self.authority),
            params,
            start: now.saturating_sub(60),
            end: now + 600,
        };
        let signer = Signer {
            secret_id: &self.cred.secret_id,
            secret_key: self.cred.secret_key.expose(),
            token: self.cred.token.as_deref(),
        };
        let auth = authorization_with_headers(&p, &signer, &[("content-md5", &md5)]);
        let mut uri = encode_path(path);
        if !params.is_empty() {
            let q: Vec<String> = params
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.to_string()
                    } else {
                        format!("{k}={}", crate::auth::canonical::encode(v))
                    }
                })
                .collect();
            uri = format!("{uri}?{}", q.join("&"));
        }
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::HOST, &self.authority)
            .header(http::header::AUTHORIZATION, auth)
            .header("content-md5", &md5)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.cred.token {
            req = req.header("x-cos-security-token", token);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let target = format!("{}:{}", self.connect.0, self.connect.1);
        let stream = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect((self.connect.0.as_str(), self.connect.1)),
        )
        .await
        .map_err(|_| format!("cannot connect to {target}: timed out"))?
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
        let exchange = async {
            match &self.tls {
                None => exchange(stream, req, &target).await,
                Some(tls) => exchange(tls.connect(stream, &target).await?, req, &target).await,
            }
        };
        let (status, bytes) = tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .map_err(|_| format!("{target}: no answer within 30 s"))??;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| format!("unexpected answer from {target}: {e}"));
        }
        let text = String::from_utf8_lossy(&bytes);
        let field = |name: &str| {
            text.split_once(&format!("<{name}>"))
                .and_then(|(_, rest)| rest.split_once(&format!("</{name}>")))
                .map(|(v, _)| v.to_string())
        };
        Err(match (field("Code"), field("Message")) {
            (Some(code), Some(msg)) => format!("{} {code}: {msg}", status.as_u16()),
            _ => format!("{target} answered {status}"),
        })
    }
}

/// One HTTP/1.1 request on `stream` (plain or TLS): the status and the body.
async fn exchange<S>(
    stream: S,
    req: http::Request<Full<Bytes>>,
    target: &str,
) -> Result<(http::StatusCode, Bytes), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("{target}: {e}"))?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{target}: {e}"))?
        .to_bytes();
    Ok((status, bytes))
}

/// `localcos observability`: show, or switch until the server restarts, a
/// running server's access log and metrics (`/-/admin/observability`).
#[derive(Debug, clap::Args)]
pub struct ObservabilityArgs {
    /// Turn the per-request access log on or off.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub access_log: Option<String>,
    /// Turn metrics recording (and `/-/metrics`) on or off.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub metrics: Option<String>,
    /// The running server (http:// or https://).
    #[arg(long, env = "LOCALCOS_URL", value_name = "URL")]
    pub url: Option<String>,
    /// https:// URLs: trust the certificates in this PEM file (e.g. the
    /// `cert.pem` a `--tls-self-signed` server prints) instead of the
    /// system's CAs and the data dir's self-signed certificate.
    #[arg(long, env = "LOCALCOS_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where a generated owner key is read (`<DIR>/credentials`).
    #[arg(long, env = "LOCALCOS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The server's TOML configuration file.
    #[arg(long, short = 'c', env = "LOCALCOS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SecretId of the owner key that signs the call.
    #[arg(long, env = "LOCALCOS_SECRET_ID", hide_env_values = true)]
    pub secret_id: Option<String>,
    /// SecretKey of that owner key.
    #[arg(long, env = "LOCALCOS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
}

/// Runs `localcos observability`; prints the switches as they now are.
pub fn run_observability(args: ObservabilityArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("localcos observability: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(observability(&args)) {
        Ok(now) if args.json => {
            println!("{}", serde_json::to_string_pretty(&now).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(now) => {
            let word = |b: Option<bool>| match b {
                Some(true) => "on",
                Some(false) => "off",
                None => "not switchable",
            };
            println!("access log: {}", word(now.access_log));
            if let Some(note) = &now.access_log_note {
                println!("  ({note})");
            }
            println!("metrics:    {}", word(now.metrics));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("localcos observability: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn observability(args: &ObservabilityArgs) -> Result<super::Switches, String> {
    let url = args
        .url
        .as_deref()
        .ok_or("--url (or LOCALCOS_URL) is needed: the switches belong to a running server")?;
    let config = online_config(&ServeArgs {
        data_dir: args.data_dir.clone(),
        config: args.config.clone(),
        secret_id: args.secret_id.clone(),
        secret_key: args.secret_key.clone(),
        ..Default::default()
    })?;
    let client = client(url, args.cacert.as_deref(), &config)?;
    let on = |v: &Option<String>| v.as_deref().map(|v| v == "on");
    let want = super::Switches {
        access_log: on(&args.access_log),
        metrics: on(&args.metrics),
        access_log_note: None,
    };
    const PATH: &str = "/-/admin/observability";
    if want.access_log.is_none() && want.metrics.is_none() {
        return client.call("GET", PATH, &[], None).await;
    }
    let body = serde_json::to_vec(&want).map_err(|e| e.to_string())?;
    client.call("PUT", PATH, &[], Some(body)).await
}
