//! The network front: binds, accepts (TCP_NODELAY on every socket: without it
//! small responses stall ~40 ms on delayed ACKs), serves HTTP/1.1 and h2c
//! with hyper, and drains connections on shutdown. Also the `/-/` router
//! (health) for non-bucket hosts.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::config::{Config, StorageMode};
use crate::http::limits::{self, Limits, Tracked};
use crate::http::linger::Lingering;
use crate::http::sendfile::{SendfileQueue, SendfileStream};
use crate::http::shutdown;
use crate::op::AppState;
use crate::service::Service;
use crate::storage::sse::SseKeys;
use crate::storage::{BucketRecord, StorageError, Store};

/// Paths under `/-/` that exist; anything else there is 404 NoSuchResource.
pub const ADMIN_PATHS: &[&str] = &["/-/health/live", "/-/health/ready", "/-/metrics"];

/// The `/-/` endpoints.
pub fn admin_router(state: Arc<AppState>) -> axum::Router {
    let ready_state = state.clone();
    let router = axum::Router::new()
        .route("/-/health/live", get(|| async { "ok\n" }))
        .route(
            "/-/health/ready",
            get(move || crate::health::ready(ready_state.clone())),
        );
    // Always routed: the metrics switch can change at run time
    // (`PUT /-/admin/observability`); while off, `/-/metrics` is not there.
    router.route(
        "/-/metrics",
        get(move || {
            let state = state.clone();
            async move {
                use axum::response::IntoResponse;
                match state.metrics.recording() {
                    true => crate::metrics::scrape(state).await.into_response(),
                    false => http::StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    )
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open storage: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot listen for metrics on {0}: {1}")]
    MetricsBind(SocketAddr, std::io::Error),
    #[error("server-side encryption keys: {0}")]
    SseKeys(String),
    #[error("{0}")]
    Tls(String),
    #[error("stored keys: {0}")]
    Keys(String),
}

/// One connection's request handler: the peer address, HTTP/1 lingering
/// and, on plain TCP, the sendfile queue go into each request; each request
/// takes a `--max-concurrent-requests` slot (503 SlowDown without one) and
/// its body is cut at the shutdown deadline (http/limits.rs).
fn connection_service(
    service: Arc<Service>,
    peer: SocketAddr,
    queue: Option<SendfileQueue>,
    conn: limits::Conn,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<Tracked<crate::http::body::Body>>,
    Error = Infallible,
    Future = impl Future<
        Output = Result<http::Response<Tracked<crate::http::body::Body>>, Infallible>,
    > + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let service = service.clone();
        let in_flight = conn.begin();
        let h1 = matches!(
            req.version(),
            http::Version::HTTP_10 | http::Version::HTTP_11
        );
        if let Some(queue) = queue.as_ref().filter(|_| h1) {
            req.extensions_mut().insert(queue.clone());
        }
        req.extensions_mut().insert(crate::authz::RemoteAddr(peer));
        // A body an early error leaves unread is drained, so the client can
        // read that error (http/linger.rs).
        let linger = h1 && !crate::http::linger::expects_continue(req.headers());
        let req = req.map(|b| Lingering::new(conn.body(b), linger));
        async move {
            let resp = match in_flight {
                Ok(guard) => {
                    let (resp, line) = service.handle_logged(req).await;
                    resp.map(|b| Tracked::new(b, Some(guard)).with_line(line))
                }
                // Over --max-concurrent-requests: 503 SlowDown.
                Err(e) => service.refuse(&req, e).map(|b| Tracked::new(b, None)),
            };
            Ok::<_, Infallible>(resp)
        }
    })
}

/// Opens the storage the config names and creates the configured buckets.
pub async fn build_state(config: Config) -> Result<Arc<AppState>, StartError> {
    let metrics = crate::metrics::Metrics::default();
    metrics.set_recording(config.metrics);
    let store = match &config.storage {
        StorageMode::Memory => Store::memory(),
        StorageMode::Dir(dir) => Store::open_fs(dir).await?,
        StorageMode::Cluster(c) => {
            std::fs::create_dir_all(&c.scratch).map_err(StorageError::Io)?;
            let meta =
                crate::storage::pg::PgMeta::open(&c.meta_url, crate::storage::pg::STARTUP_WAIT)
                    .await?;
            metrics.set_pool(meta.pool_usage());
            let blobs = c.blobs.open().await?;
            Store::new(Arc::new(meta), blobs)
        }
    };
    // A cluster node's scratch dir holds no key file: the index does.
    let data_dir = match &config.storage {
        StorageMode::Dir(dir) => Some(dir.as_path()),
        StorageMode::Memory | StorageMode::Cluster(_) => None,
    };
    let store = store.with_gc_grace(config.gc_grace());
    // SSE master key material and generated credentials are shared through
    // the index (NOTES 16), so every node of a cluster has the same.
    let sse_keys = SseKeys::open(&config.sse, data_dir, store.meta().as_ref())
        .await
        .map_err(StartError::SseKeys)?;
    let store = store.with_sse_keys(Arc::new(sse_keys));
    let mut config = config;
    if config.generated_credentials {
        crate::storage::secrets::share_generated_credentials(&mut config, store.meta().as_ref())
            .await
            .map_err(StartError::Keys)?;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    for b in &config.buckets {
        let rec = BucketRecord {
            name: b.as_str().to_string(),
            region: config.addressing.region.clone(),
            created_ms: now_ms,
            versioning: Default::default(),
            acl: None,
            configs: Default::default(),
            layout: Default::default(),
        };
        match store.create_bucket(rec).await {
            Ok(()) | Err(StorageError::BucketExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let keys = crate::admin::keys::LiveKeys::load(&config, store.clone())
        .await
        .map_err(StartError::Keys)?;
    Ok(Arc::new(AppState {
        store,
        config: Arc::new(config),
        keys,
        domains: Default::default(),
        logs: Default::default(),
        views: Default::default(),
        metrics,
    }))
}

/// Aborts multipart uploads older than `age`, at start and then every
/// `age / 10` (between 1 s and 1 h), freeing their parts. Runs while the
/// server runs (`Server::run` stops it, so the store can close).
async fn sweep_abandoned_uploads(store: Store, age: Duration) {
    let every = (age / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let ttl = crate::storage::gc::job_lease_ttl(every);
    loop {
        // One node of a cluster sweeps (storage/gc.rs).
        let sweep = store.abort_stale_uploads(age);
        let Some(result) = store.run_leased("multipart_sweep", ttl, sweep).await else {
            tokio::time::sleep(every).await;
            continue;
        };
        crate::metrics::job_ran(crate::metrics::Job::MultipartSweep, result.is_ok());
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(aborted = n, "aborted abandoned multipart uploads"),
            Err(e) => tracing::warn!(error = %e, "abandoned-upload sweep failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// A bound, ready server.
pub struct Server {
    service: Arc<Service>,
    listener: TcpListener,
    local_addr: SocketAddr,
    /// `--metrics-listen`: `/-/metrics` and health only (metrics.rs).
    metrics_listener: Option<TcpListener>,
    /// HTTPS (http/tls.rs) when configured.
    tls: Option<Arc<crate::http::tls::Tls>>,
}

impl Server {
    /// Opens storage, creates the configured buckets and binds the listener.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let listen = config.listen;
        let tls = match &config.tls {
            Some(mode) => Some(Arc::new(
                crate::http::tls::Tls::new(mode, &config).map_err(StartError::Tls)?,
            )),
            None => None,
        };
        let state = build_state(config).await?;
        crate::render::headers::init_header_case().await;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| StartError::Bind(listen, e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(listen, e))?;
        let metrics_listener = match state.config.metrics_listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .map_err(|e| StartError::MetricsBind(a, e))?,
            ),
            None => None,
        };
        Ok(Server {
            service: Arc::new(Service::new(state)),
            listener,
            local_addr,
            metrics_listener,
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The `--metrics-listen` address actually bound.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn config(&self) -> &Config {
        &self.service.state.config
    }

    /// HTTPS settings, when the listener speaks TLS.
    pub fn tls(&self) -> Option<&Arc<crate::http::tls::Tls>> {
        self.tls.as_ref()
    }

    /// Serves until `shutdown` resolves, then stops accepting and gives open
    /// connections the shutdown grace to finish their requests
    /// (http/shutdown.rs).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        // Connection and request limits, timeouts (http/limits.rs).
        let limits = Limits::new(self.service.state.config.serve.clone());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            // A backstop only: `TrackedIo` enforces the idle and request
            // timeouts separately.
            .header_read_timeout(limits.settings.idle_timeout + limits.settings.request_timeout)
            // Body bytes reach the socket as they are (never flattened into a
            // buffer): zero-copy placeholders depend on it.
            .writev(true);
        // Buffer and header-count limits stay at hyper's defaults (~400 KiB,
        // 100 headers): hyper answers a bare 431 past them, and our own
        // `max_header_bytes` (default 64 KiB, below hyper's) answers with COS
        // XML first. A larger buffer also caps hyper's write queue, so it would
        // let every streaming connection hold megabytes; an explicit
        // `max_headers` makes hyper allocate and fill that many slots on
        // every request.
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let sweeper = self.service.state.config.multipart_expiry.map(|age| {
            tokio::spawn(sweep_abandoned_uploads(
                self.service.state.store.clone(),
                age,
            ))
        });
        // Deferred blob deletes and the orphan sweep (storage/gc.rs): every
        // node runs it, the "gc" lease in the index picks the one that works.
        let collector = tokio::spawn(crate::storage::gc::run_collector(
            self.service.state.store.clone(),
            crate::storage::gc::CollectorTiming::for_grace(self.service.state.store.gc_grace()),
        ));
        let lifecycle = tokio::spawn(crate::bucket_config::lifecycle::run(
            self.service.state.store.clone(),
            self.service.state.config.days,
        ));
        let replication = tokio::spawn(crate::bucket_config::replication::run_scanner(
            self.service.state.store.clone(),
            self.service.state.config.replication_scan,
        ));
        // Bucket access logs (`?logging`) and inventory schedules (`?inventory`).
        let log_worker = tokio::spawn(crate::bucket_config::logging::run(
            self.service.state.clone(),
        ));
        let inventory_worker = tokio::spawn(crate::bucket_config::inventory::run(
            self.service.state.clone(),
        ));
        let metrics_server = self.metrics_listener.map(|l| {
            tokio::spawn(crate::metrics::serve_listener(
                l,
                self.service.state.clone(),
            ))
        });
        // Background scrub (`--scrub-rate`): aborting it is safe (a mark is one
        // index transaction that completes on its blocking thread).
        let scrub = self.service.state.config.scrub.map(|s| {
            tokio::spawn(crate::storage::scrub::run_background(
                self.service.state.store.clone(),
                s.rate,
                s.pause,
            ))
        });
        let tls_reload = match &self.tls {
            Some(tls) => match tls.reload_on_sighup() {
                Ok(task) => Some(task),
                Err(e) => {
                    tracing::warn!(error = %e, "no SIGHUP handler: TLS certificate reload off");
                    None
                }
            },
            None => None,
        };
        // Fired when shutdown starts: TLS handshakes in progress give up.
        let stopping = tokio_util::sync::CancellationToken::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let service = self.service.clone();
                    let Some(conn) = limits.admit() else {
                        // Over --max-connections: 503 SlowDown, then close
                        // (after the handshake on HTTPS, so the client can read it).
                        match &self.tls {
                            Some(tls) => {
                                let tls = tls.clone();
                                tokio::spawn(async move {
                                    if let Some(io) = tls.accept(stream).await {
                                        limits::refuse_connection(io, move |req| service.refuse(req, limits::slow_down()));
                                    }
                                });
                            }
                            None => limits::refuse_connection(stream, move |req| service.refuse(req, limits::slow_down())),
                        }
                        continue;
                    };
                    if let Some(tls) = &self.tls {
                        // HTTPS: handshake off the accept loop, and no
                        // sendfile queue (bodies must go through rustls).
                        let (tls, builder, watcher) = (tls.clone(), builder.clone(), graceful.watcher());
                        let stopping = stopping.clone();
                        tokio::spawn(async move {
                            // A handshake still going when shutdown starts is
                            // dropped (no request was sent on it yet, as on an
                            // idle connection): it must not hold the drain.
                            let io = tokio::select! {
                                io = tls.accept(stream) => io,
                                _ = stopping.cancelled() => None,
                            };
                            let Some(io) = io else { return };
                            let io = conn.io(io);
                            let svc = connection_service(service, peer, None, conn);
                            let conn = builder.serve_connection(TokioIo::new(io), svc).into_owned();
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(error = %e, "connection closed with error");
                            }
                        });
                        continue;
                    }
                    // Zero-copy bodies (http/sendfile.rs): the socket sends
                    // queued file regions where the body has placeholders.
                    let queue = SendfileQueue::default();
                    let io = conn.io(SendfileStream::new(stream, queue.clone()));
                    let svc = connection_service(service, peer, Some(queue), conn);
                    let conn = builder.serve_connection(TokioIo::new(io), svc).into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection closed with error");
                        }
                    });
                }
            }
        }
        drop(self.listener);
        stopping.cancel();
        if let Some(task) = tls_reload {
            task.abort();
        }
        if let Some(task) = metrics_server {
            task.abort();
        }
        if let Some(task) = sweeper {
            shutdown::stop_job(task).await;
        }
        if let Some(task) = scrub {
            shutdown::stop_job(task).await;
        }
        shutdown::stop_job(lifecycle).await;
        shutdown::stop_job(replication).await;
        shutdown::stop_job(collector).await;
        shutdown::drain(graceful, limits.settings.shutdown_grace, &limits.cut).await;
        shutdown::stop_job(log_worker).await;
        shutdown::stop_job(inventory_worker).await;
        // Another node takes over the jobs at once rather than at lease expiry.
        for name in crate::storage::gc::JOB_LEASES {
            self.service.state.store.release_lease(name).await;
        }
        // Lines still buffered are delivered before the store closes.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            crate::bucket_config::logging::deliver(&self.service.state),
        )
        .await;
    }
}
