//! Graceful shutdown of the network front (`Server::run` calls [`drain`]
//! once SIGTERM/SIGINT arrived and the listener is closed):
//!
//! 1. every connection is told to finish (hyper's graceful shutdown): idle
//!    keep-alive connections close at once, in-flight requests go on, and no
//!    connection takes a new request;
//! 2. requests get `grace` to finish;
//! 3. then the cut ([`crate::http::limits::Limits::cut`]): every request
//!    body still being received fails, so its upload (PUT, UploadPart,
//!    append, POST form) is answered with an error and never commits;
//!    handlers answer and connections close within [`AFTER_CUT`];
//! 4. whatever is left (a download to a client that stopped reading) is
//!    dropped when the runtime stops.

use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio_util::sync::CancellationToken;

/// How long handlers get after the cut to answer and their connections to
/// close.
pub const AFTER_CUT: Duration = Duration::from_secs(5);

/// Stops the server's connections: see the module doc. Returns whether all
/// of them finished in time.
pub async fn drain(graceful: GracefulShutdown, grace: Duration, cut: &CancellationToken) -> bool {
    let all_done = graceful.shutdown();
    tokio::pin!(all_done);
    if tokio::time::timeout(grace, &mut all_done).await.is_ok() {
        return true;
    }
    tracing::warn!(
        grace_seconds = grace.as_secs(),
        "requests still running after the shutdown grace; cutting uploads in progress"
    );
    cut.cancel();
    if tokio::time::timeout(AFTER_CUT, &mut all_done).await.is_ok() {
        return true;
    }
    tracing::warn!("connections still open after the cut; closing them");
    false
}

/// Stops a background job and waits until it has stopped. Jobs are
/// cancelled at an `.await`: every storage call they make is one atomic
/// index transaction, so any await point is a safe point (a blob written
/// and not yet referenced is an orphan the start-up sweep removes).
pub async fn stop_job(task: tokio::task::JoinHandle<()>) {
    task.abort();
    let _ = task.await;
}
