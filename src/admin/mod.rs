//! localcos's own administration: the `/-/admin/` API on service hosts
//! (NOTES 6) and the commands that use it.
//!
//! Every admin call is a COS (or S3/OSS) signed request by an owner key from
//! the configuration (unscoped, read-write, permanent): stored keys, however
//! broad, cannot manage keys. Others get 403 AccessDenied.
//!
//! | request | does |
//! |---|---|
//! | `GET /-/admin/keys` | list stored keys (`{"keys": [...]}`, never secrets) |
//! | `POST /-/admin/keys` + JSON [`keys::AddRequest`] | add a key; the answer holds its SecretKey |
//! | `GET /-/admin/keys/<SecretId>` | one key |
//! | `DELETE /-/admin/keys/<SecretId>` | revoke |
//! | `POST /-/admin/keys/<SecretId>?rotate[&grace-seconds=N]` | rotate |
//! | `GET /-/admin/observability` | the switches: `{"access_log": true, "metrics": true}` |
//! | `PUT /-/admin/observability` + JSON [`Switches`] (either field) | turn the access log or the metrics on or off, until the next start |
//!
//! A JSON body may carry `Content-MD5` (signed by `localcos keys`); it is checked.

pub mod cli;
pub mod client_tls;
pub mod keys;
pub mod seal;

use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Request, StatusCode};

use crate::auth::{self, AuthOptions, RequestParts};
use crate::error::{Error, ErrorCode};
use crate::http::body::Body;
use crate::http::query::Query;
use crate::op::AppState;
use crate::storage::ByteStream;

/// Largest admin request body.
const MAX_BODY: usize = 64 * 1024;

type Answer = Result<(http::Response<Body>, Option<String>), (Error, Option<String>)>;

/// Serves `path` (under `/-/admin/`): authenticates, then dispatches.
pub async fn serve(
    state: &AppState,
    opts: &AuthOptions,
    req: Request<ByteStream>,
    path: &str,
    query: &Query,
) -> Answer {
    let keys = state.keys.current().await;
    let parts = RequestParts {
        method: req.method(),
        path,
        query: query.pairs(),
        headers: req.headers(),
    };
    let identity = auth::verify_resource(
        &parts,
        auth::Resource::default(),
        &keys,
        crate::config::now(),
        opts,
    )
    .map_err(|e| (e.into(), None))?;
    let Some(who) = identity.identity.map(|i| i.secret_id) else {
        return Err((
            Error::with_message(
                ErrorCode::AccessDenied,
                "Admin calls must be signed by an owner key from the configuration.",
            ),
            None,
        ));
    };
    if !state.keys.is_admin(&who) {
        return Err((
            Error::with_message(
                ErrorCode::AccessDenied,
                "Only an owner key from the configuration (unscoped, read-write) may call the admin API.",
            ),
            Some(who),
        ));
    }
    let who = Some(who);
    match route(state, req, path, query).await {
        Ok(resp) => Ok((resp, who)),
        Err(e) => Err((e, who)),
    }
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> http::Response<Body> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    let mut resp = http::Response::new(Body::Full(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

fn not_allowed() -> Error {
    Error::new(ErrorCode::MethodNotAllowed)
}

async fn read_body(req: Request<ByteStream>) -> Result<Bytes, Error> {
    let md5 = req
        .headers()
        .get("content-md5")
        .map(|v| v.as_bytes().to_vec());
    let mut body = req.into_body();
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Error::from)?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "Admin request bodies are limited to 64 KiB.",
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    if let Some(sent) = md5 {
        use md5::Digest;
        let want = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&buf));
        if sent.trim_ascii() != want.as_bytes() {
            return Err(Error::new(ErrorCode::BadDigest));
        }
    }
    Ok(Bytes::from(buf))
}

async fn route(
    state: &AppState,
    req: Request<ByteStream>,
    path: &str,
    query: &Query,
) -> Result<http::Response<Body>, Error> {
    let rules = keys::Rules::of(&state.config);
    let meta = state.store.meta().as_ref();
    let installed = |table: &crate::storage::keys::KeyTable| state.keys.install(table);
    let method = req.method().clone();
    if path == "/-/admin/observability" {
        return observability(state, req).await;
    }
    match path.strip_prefix("/-/admin/keys") {
        Some("") | Some("/") => match method {
            Method::GET | Method::HEAD => {
                let list = keys::list(meta).await?;
                Ok(json(StatusCode::OK, &serde_json::json!({ "keys": list })))
            }
            Method::POST => {
                let body = read_body(req).await?;
                let add: keys::AddRequest = if body.is_empty() {
                    Default::default()
                } else {
                    serde_json::from_slice(&body).map_err(|e| {
                        Error::with_message(
                            ErrorCode::InvalidArgument,
                            format!("The request body is not a key request: {e}"),
                        )
                    })?
                };
                let (created, table) = keys::add(meta, &rules, add).await?;
                installed(&table);
                tracing::info!(secret_id = %created.info.secret_id, "stored key added");
                Ok(json(StatusCode::OK, &created))
            }
            _ => Err(not_allowed()),
        },
        Some(rest) if rest.starts_with('/') && rest.len() > 1 && !rest[1..].contains('/') => {
            let id = &rest[1..];
            match method {
                Method::GET | Method::HEAD => Ok(json(StatusCode::OK, &keys::get(meta, id).await?)),
                Method::DELETE => {
                    let (info, table) = keys::revoke(meta, &rules, id).await?;
                    installed(&table);
                    tracing::info!(secret_id = %id, "stored key revoked");
                    Ok(json(StatusCode::OK, &info))
                }
                Method::POST if query.has("rotate") => {
                    let grace = match query.get("grace-seconds") {
                        None | Some("") => None,
                        Some(s) => {
                            Some(std::time::Duration::from_secs(s.parse().map_err(|_| {
                                Error::with_message(
                                    ErrorCode::InvalidArgument,
                                    "grace-seconds must be a whole number of seconds.",
                                )
                            })?))
                        }
                    };
                    let (created, table) = keys::rotate(meta, &rules, id, grace).await?;
                    installed(&table);
                    tracing::info!(secret_id = %id, new = %created.info.secret_id, "stored key rotated");
                    Ok(json(StatusCode::OK, &created))
                }
                _ => Err(not_allowed()),
            }
        }
        _ => Err(Error::with_message(
            ErrorCode::NoSuchResource,
            format!("No such localcos endpoint {path}."),
        )),
    }
}

/// The run-time switches of `/-/admin/observability`. In answers,
/// `access_log` is null when this process cannot switch it (its logging is
/// not the binary's, or `RUST_LOG` silences the access target) and
/// `access_log_note` says why.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switches {
    #[serde(default)]
    pub access_log: Option<bool>,
    #[serde(default)]
    pub metrics: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_note: Option<String>,
}

impl Switches {
    fn now(state: &AppState) -> Switches {
        let access = crate::http::access_log::switch();
        Switches {
            access_log: access.ok(),
            metrics: Some(state.metrics.recording()),
            access_log_note: access.err().map(|e| e.to_string()),
        }
    }
}

/// `GET` and `PUT /-/admin/observability`: the access log and metrics
/// switches. A change lasts until the process exits (the next start follows
/// the configuration again) and is logged.
async fn observability(
    state: &AppState,
    req: Request<ByteStream>,
) -> Result<http::Response<Body>, Error> {
    match *req.method() {
        Method::GET | Method::HEAD => Ok(json(StatusCode::OK, &Switches::now(state))),
        Method::PUT => {
            let body = read_body(req).await?;
            let want: Switches = serde_json::from_slice(&body).map_err(|e| {
                Error::with_message(
                    ErrorCode::InvalidArgument,
                    format!(
                        "The body must be JSON like {{\"access_log\": false, \"metrics\": true}}: {e}"
                    ),
                )
            })?;
            if want.access_log_note.is_some() {
                return Err(Error::with_message(
                    ErrorCode::InvalidArgument,
                    "access_log_note is an answer field, not a switch.",
                ));
            }
            if let Some(on) = want.access_log {
                crate::http::access_log::set_switch(on).map_err(|e| {
                    Error::with_message(
                        ErrorCode::InvalidArgument,
                        format!("The access log cannot be switched: {e}."),
                    )
                })?;
            }
            if let Some(on) = want.metrics {
                state.metrics.set_recording(on);
            }
            let now = Switches::now(state);
            let word = |b: Option<bool>| match b {
                Some(true) => "on",
                Some(false) => "off",
                None => "not switchable",
            };
            tracing::info!(
                access_log = word(now.access_log),
                metrics = word(now.metrics),
                "observability switched"
            );
            Ok(json(StatusCode::OK, &now))
        }
        _ => Err(not_allowed()),
    }
}
