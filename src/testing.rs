//! Start a real localcos server in-process on a random loopback port, for
//! Rust tests: `let s = TestServer::start();` then use `s.endpoint()`,
//! `s.secret_id()`, `s.secret_key()`. The server runs on its own thread and
//! runtime (so it works from sync and async tests alike) and stops on drop.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use crate::config::Config;
use crate::server::{build_state, Server, StartError};
use crate::service::Service;

/// The whole request pipeline without a socket, for `Service::handle` calls.
pub async fn app(config: Config) -> Result<Service, StartError> {
    Ok(Service::new(build_state(config).await?))
}

pub struct TestServer {
    addr: SocketAddr,
    secret_id: String,
    secret_key: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// An ephemeral (in-memory) server with fixed test credentials.
    pub fn start() -> TestServer {
        Self::start_with(Config::for_tests(
            "AKIDlocalcostest",
            "localcos-test-secret-key",
        ))
        .expect("test server starts")
    }

    /// A server with the given config; its `listen` port may be 0.
    pub fn start_with(config: Config) -> Result<TestServer, StartError> {
        let cred = config.default_credential().clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, StartError>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("localcos-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    match Server::bind(config).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.local_addr()));
                            server
                                .run(async {
                                    let _ = stop_rx.await;
                                })
                                .await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .expect("spawn server thread");
        let addr = ready_rx.recv().expect("server thread reports")?;
        Ok(TestServer {
            addr,
            secret_id: cred.secret_id.clone(),
            secret_key: cred.secret_key.expose().to_string(),
            shutdown: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
