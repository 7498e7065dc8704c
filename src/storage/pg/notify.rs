//! `MetaStore::bucket_generation` across nodes: every bucket-record write
//! sends a NOTIFY on [`super::BUCKET_CHANNEL`] in its transaction; each node
//! keeps one connection LISTENing and bumps a local counter per
//! notification (and after its own commits). While that connection is down
//! the generation is `None`, so readers do not cache bucket records; each
//! reconnect bumps the counter, so nothing cached before is trusted again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

#[derive(Default)]
pub(super) struct Generation {
    count: AtomicU64,
    live: AtomicBool,
}

impl Generation {
    pub fn bump(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// `None` while notifications may be missed.
    pub fn current(&self) -> Option<u64> {
        self.live
            .load(Ordering::Acquire)
            .then(|| self.count.load(Ordering::Acquire))
    }

    fn set_live(&self, live: bool) {
        if live {
            // Anything cached while the listener was down is stale.
            self.bump();
        }
        self.live.store(live, Ordering::Release);
    }
}

/// Stops the listener task when dropped.
pub(super) struct ListenerHandle(tokio::task::JoinHandle<()>);

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) fn spawn(config: tokio_postgres::Config, generation: Arc<Generation>) -> ListenerHandle {
    ListenerHandle(tokio::spawn(async move {
        loop {
            listen_once(&config, &generation).await;
            generation.set_live(false);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }))
}

/// One connection's life: LISTEN, then count notifications until it ends.
async fn listen_once(config: &tokio_postgres::Config, generation: &Generation) {
    let Ok((client, mut conn)) = config.connect(NoTls).await else {
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(msg) = messages.next().await {
            match msg {
                Ok(AsyncMessage::Notification(_)) => {
                    if tx.send(()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let listen = format!("LISTEN {}", super::BUCKET_CHANNEL);
    if client.batch_execute(&listen).await.is_ok() {
        generation.set_live(true);
        while rx.recv().await.is_some() {
            generation.bump();
        }
    }
    generation.set_live(false);
    drop(client);
    driver.abort();
}
