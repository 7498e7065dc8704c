//! When blobs may go (NOTES 17), and who runs the background jobs when
//! several nodes share one index (`MetaStore`) and one blob store.
//!
//! - **Grace 0** (the embedded default): a blob no record references any
//!   more is deleted at once. Safe there: an open file keeps its bytes for a
//!   reader already streaming, and the data dir belongs to one process.
//! - **Grace > 0** (`--gc-grace-seconds`, default 3600 in cluster mode): a
//!   shared directory or an S3 bucket cannot promise that, so
//!   [`Store::free`](super::Store) hands freed blobs to the index
//!   (`MetaStore::defer_blob_deletes`, due `now + grace`), and the collector
//!   ([`run_collector`]) deletes them once due: a reader that looked the
//!   record up before an overwrite has the whole grace to finish.
//!
//! The collector runs on every node but works only while it holds the lease
//! [`GC_LEASE`] (`MetaStore::lease`), renewed every tick: one node at a time
//! collects, and when that node dies its lease expires and another takes
//! over. Under the same lease it sweeps orphans (a blob written by a node
//! that was killed before its commit): blobs older than the grace that no
//! record references are deferred in their turn (due one grace later, so a
//! blob freed a moment ago by another node, whose own deferral is in
//! flight, still gets its grace). Deferring never shortens an entry's due
//! time.
//!
//! Before deleting, the collector checks that nothing references the blob:
//! a commit whose answer was lost (the database committed, the connection
//! broke) may have made a blob the writer then "freed" live after all.
//!
//! Other background jobs (lifecycle, replication scan, inventory, the
//! abandoned-upload sweep, background scrub) take a named lease per run
//! ([`Store::hold_lease`]), so in a cluster one node runs each.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{BlobId, StorageError, Store};

/// The collector's lease (also the orphan sweep's).
pub const GC_LEASE: &str = "gc";

/// The leases of the background jobs ([`Store::hold_lease`]), released at
/// shutdown so another node takes over at once.
pub const JOB_LEASES: &[&str] = &[
    GC_LEASE,
    "lifecycle",
    "replication_scan",
    "inventory",
    "multipart_sweep",
    "scrub",
];

/// Deferred entries handled per index call.
const BATCH: usize = 500;

/// One orphan sweep in this many looks at every blob; the others only at
/// blobs whose id is younger than the previous sweep's horizon.
const FULL_SWEEP_EVERY: u64 = 24;

/// Longest pause between collector rounds.
const MAX_TICK: Duration = Duration::from_secs(5);

/// The garbage-collection settings of one [`Store`] (one node).
#[derive(Debug, Clone)]
pub struct GcSettings {
    /// How long a freed blob stays readable; zero deletes at once.
    pub grace: Duration,
    /// This node's name as a lease holder: unique per process.
    pub node: String,
}

impl Default for GcSettings {
    fn default() -> Self {
        GcSettings {
            grace: Duration::ZERO,
            node: new_node_id(),
        }
    }
}

/// A lease holder name: the host name (for people) and a unique suffix.
fn new_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_string());
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{host}-{}", &id[20..])
}

/// When the collector acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorTiming {
    /// Pause between rounds (each round renews the lease).
    pub tick: Duration,
    /// How long the lease lasts unless renewed: a dead collector's work
    /// moves to another node after at most this long.
    pub lease_ttl: Duration,
    /// How often the lease holder sweeps orphans.
    pub sweep_every: Duration,
}

impl CollectorTiming {
    /// Derived from the grace: a tick of half the grace (100 ms .. 5 s; 5 s
    /// with no grace), a
    /// lease of six ticks (at least 1 s), a sweep every grace (1 s .. 1 h).
    pub fn for_grace(grace: Duration) -> CollectorTiming {
        // No grace: nothing is normally deferred; an idle check now and then.
        let tick = if grace.is_zero() {
            MAX_TICK
        } else {
            (grace / 2).clamp(Duration::from_millis(100), MAX_TICK)
        };
        CollectorTiming {
            tick,
            lease_ttl: (tick * 6).max(Duration::from_secs(1)),
            sweep_every: grace.clamp(Duration::from_secs(1), Duration::from_secs(3600)),
        }
    }
}

/// The lease of a job that runs every `interval`: two intervals and 10 s,
/// so the holder keeps it from run to run and a dead holder's job moves to
/// another node after at most that long.
pub fn job_lease_ttl(interval: Duration) -> Duration {
    interval.saturating_mul(2) + Duration::from_secs(10)
}

/// What one collector round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcRound {
    /// Blobs deleted.
    pub deleted: usize,
    /// Deferred entries dropped without deleting: the blob is referenced.
    pub kept: usize,
}

/// When a blob was created, from its id (UUIDv7: 48 bits of Unix ms first).
pub fn blob_created_ms(id: &BlobId) -> Option<i64> {
    i64::from_str_radix(id.as_str().get(..12)?, 16).ok()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Sets how long freed blobs wait before deletion (zero: at once).
    pub fn with_gc_grace(mut self, grace: Duration) -> Self {
        let mut gc = (*self.gc).clone();
        gc.grace = grace;
        self.gc = Arc::new(gc);
        self
    }

    /// Names this store's node as a lease holder (tests name their "nodes").
    pub fn with_node_id(mut self, node: impl Into<String>) -> Self {
        let mut gc = (*self.gc).clone();
        gc.node = node.into();
        self.gc = Arc::new(gc);
        self
    }

    pub fn gc_grace(&self) -> Duration {
        self.gc.grace
    }

    /// This node's lease holder name.
    pub fn node_id(&self) -> &str {
        &self.gc.node
    }

    /// Takes or renews the lease `name` for `ttl`: whether this node holds it
    /// now. An index error counts as not holding it (logged): the job skips
    /// a run rather than risk running twice.
    pub async fn hold_lease(&self, name: &str, ttl: Duration) -> bool {
        match self
            .meta
            .lease(name, &self.gc.node, crate::clock::now_ms(), ms(ttl))
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(lease = name, error = %e, "could not take a lease");
                false
            }
        }
    }

    /// Runs `job` only while this node holds the lease `name` (a background
    /// job's run, so that in a cluster one node runs it): `None` without
    /// running it when another node holds the lease. The lease is renewed
    /// every third of `ttl` while `job` runs, and kept afterwards (until
    /// `ttl` passes), so the same node keeps the job from run to run.
    pub async fn run_leased<F: std::future::Future>(
        &self,
        name: &str,
        ttl: Duration,
        job: F,
    ) -> Option<F::Output> {
        if !self.hold_lease(name, ttl).await {
            return None;
        }
        tokio::pin!(job);
        let renew = (ttl / 3).max(Duration::from_millis(50));
        loop {
            tokio::select! {
                out = &mut job => return Some(out),
                _ = tokio::time::sleep(renew) => {
                    self.hold_lease(name, ttl).await;
                }
            }
        }
    }

    /// Gives up the lease `name` if this node holds it (at shutdown, so
    /// another node takes over at once).
    pub async fn release_lease(&self, name: &str) {
        let _ = self
            .meta
            .lease(name, &self.gc.node, crate::clock::now_ms(), 0)
            .await;
    }

    /// Deletes blobs no record references any more: at once with no grace,
    /// else by deferring them to the collector. A failure only leaks space
    /// until the orphan sweep, so it is logged, not returned.
    pub(super) async fn free(&self, ids: &[BlobId]) {
        if ids.is_empty() {
            return;
        }
        if self.gc.grace.is_zero() {
            for id in ids {
                if let Err(e) = self.blobs.delete(id).await {
                    tracing::warn!(blob = id.as_str(), error = %e, "could not delete freed blob");
                }
            }
            return;
        }
        let due = crate::clock::now_ms().saturating_add(ms(self.gc.grace));
        if let Err(e) = self.meta.defer_blob_deletes(ids, due).await {
            tracing::warn!(
                blobs = ids.len(),
                error = %e,
                "could not defer freed blobs (the orphan sweep will collect them)"
            );
        }
    }

    /// One collector pass at `now_ms` (the caller holds [`GC_LEASE`]):
    /// deletes every due blob that nothing references and forgets its entry.
    /// # Behavior
    /// - A referenced blob is not deleted; its entry is forgotten (`kept`).
    /// - A blob that cannot be deleted keeps its entry (retried next round)
    ///   and the pass goes on with the others; the last such error is
    ///   returned. A missing blob counts as deleted.
    pub async fn collect_due(&self, now_ms: i64) -> Result<GcRound, StorageError> {
        let mut round = GcRound::default();
        loop {
            let due = self.meta.due_blob_deletes(now_ms, BATCH).await?;
            if due.is_empty() {
                return Ok(round);
            }
            let mut done = Vec::with_capacity(due.len());
            let mut failed = None;
            for id in &due {
                if self.meta.blob_referenced(id).await? {
                    round.kept += 1;
                    done.push(id.clone());
                    continue;
                }
                match self.blobs.delete(id).await {
                    Ok(()) => {
                        round.deleted += 1;
                        done.push(id.clone());
                    }
                    // Kept for the next round; the others go on.
                    Err(e) => {
                        tracing::warn!(blob = id.as_str(), error = %e, "gc: could not delete");
                        failed = Some(e);
                    }
                }
            }
            self.meta.forget_blob_deletes(&done).await?;
            // A batch that failed whole would come back as it is.
            if due.len() < BATCH || done.is_empty() {
                return match failed {
                    Some(e) => Err(e),
                    None => Ok(round),
                };
            }
        }
    }

    /// The orphan sweep at `now_ms` (the caller holds [`GC_LEASE`]): defers,
    /// due one grace from now, every blob created at least a grace ago (and,
    /// when `since_ms` is given, after `since_ms`) that no record references.
    /// Returns how many it deferred.
    /// # Behavior
    /// - Does nothing with no grace: the embedded store sweeps at start-up
    ///   (`fs::open`), where it knows every older blob is not being written.
    pub async fn sweep_orphans(
        &self,
        now_ms: i64,
        since_ms: Option<i64>,
    ) -> Result<usize, StorageError> {
        let grace = ms(self.gc.grace);
        if grace == 0 {
            return Ok(0);
        }
        let horizon = now_ms.saturating_sub(grace);
        let before = SystemTime::UNIX_EPOCH + Duration::from_millis(horizon.max(0) as u64);
        let candidates = self.blobs.list_older_than(before).await?;
        let mut orphans = Vec::new();
        let mut deferred = 0;
        for id in candidates {
            // Ids name their creation time: older ones were looked at by an
            // earlier sweep (and later frees defer their blobs themselves).
            if let (Some(since), Some(created)) = (since_ms, blob_created_ms(&id)) {
                if created < since {
                    continue;
                }
            }
            if !self.meta.blob_referenced(&id).await? {
                orphans.push(id);
            }
            if orphans.len() >= BATCH {
                deferred += orphans.len();
                self.meta
                    .defer_blob_deletes(&std::mem::take(&mut orphans), now_ms + grace)
                    .await?;
            }
        }
        deferred += orphans.len();
        self.meta
            .defer_blob_deletes(&orphans, now_ms + grace)
            .await?;
        Ok(deferred)
    }

    /// Deferred blob deletes waiting (the `gc_backlog_blobs` gauge).
    pub async fn gc_backlog(&self) -> Result<u64, StorageError> {
        self.meta.blob_delete_backlog().await
    }
}

/// The collector: every tick, takes or renews [`GC_LEASE`] and, while held,
/// deletes due blobs and, every `sweep_every`, sweeps orphans. Runs on every
/// node (the lease picks one); stops when its task is aborted.
pub async fn run_collector(store: Store, timing: CollectorTiming) {
    let mut last_sweep: Option<(std::time::Instant, i64)> = None;
    let mut sweeps = 0u64;
    let mut held = false;
    loop {
        // No grace (the embedded default): frees delete at once, so only
        // leftovers of a run with a grace are ever deferred. A read finds
        // out; no lease is written (an fsync every tick on the embedded index).
        if store.gc_grace().is_zero() && !matches!(store.gc_backlog().await, Ok(n) if n > 0) {
            tokio::time::sleep(timing.tick).await;
            continue;
        }
        let now = crate::clock::now_ms();
        // The work runs under the lease, renewed while a long sweep goes on.
        let work = async {
            // No grace means at once: entries deferred under an earlier
            // grace are due now too.
            let due_at = if store.gc_grace().is_zero() {
                i64::MAX
            } else {
                now
            };
            let result = store.collect_due(due_at).await;
            crate::metrics::job_ran(crate::metrics::Job::Gc, result.is_ok());
            match result {
                Ok(r) if r.deleted + r.kept > 0 => {
                    tracing::debug!(deleted = r.deleted, kept = r.kept, "gc round")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "gc round failed"),
            }
            let sweep_due = last_sweep.is_none_or(|(at, _)| at.elapsed() >= timing.sweep_every);
            if sweep_due && !store.gc_grace().is_zero() {
                // Blobs created before the last sweep's horizon were looked at
                // then; a margin of one grace covers clock skew between nodes.
                // Every FULL_SWEEP_EVERY-th sweep looks at every blob: an
                // upload slower than the grace has an id older than its file.
                let since = last_sweep
                    .filter(|_| sweeps % FULL_SWEEP_EVERY != 0)
                    .map(|(_, h)| h - ms(store.gc_grace()));
                sweeps += 1;
                let started = std::time::Instant::now();
                let result = store.sweep_orphans(now, since).await;
                crate::metrics::job_ran(crate::metrics::Job::OrphanSweep, result.is_ok());
                match result {
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(
                                orphans = n,
                                "orphan sweep: deferred unreferenced blobs"
                            );
                        }
                        last_sweep = Some((started, now - ms(store.gc_grace())));
                    }
                    Err(e) => tracing::warn!(error = %e, "orphan sweep failed"),
                }
            }
        };
        let holds = store
            .run_leased(GC_LEASE, timing.lease_ttl, work)
            .await
            .is_some();
        if holds != held {
            tracing::info!(node = store.node_id(), holds, "gc lease");
            held = holds;
        }
        if !holds {
            // Another node sweeps; should this one take over, it sweeps all.
            last_sweep = None;
        }
        tokio::time::sleep(timing.tick).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_table() {
        let s = Duration::from_secs;
        let m = Duration::from_millis;
        // grace → (tick, lease, sweep)
        let cases = [
            (s(0), (s(5), s(30), s(1))),
            (m(500), (m(250), m(1500), s(1))),
            (s(2), (s(1), s(6), s(2))),
            (s(60), (s(5), s(30), s(60))),
            (s(3600), (s(5), s(30), s(3600))),
            (s(86400), (s(5), s(30), s(3600))),
        ];
        for (grace, (tick, lease, sweep)) in cases {
            let t = CollectorTiming::for_grace(grace);
            assert_eq!(
                (t.tick, t.lease_ttl, t.sweep_every),
                (tick, lease, sweep),
                "{grace:?}"
            );
        }
    }

    #[test]
    fn blob_ids_name_their_creation_time() {
        let before = crate::clock::now_ms();
        let id = BlobId::generate();
        let after = crate::clock::now_ms();
        let t = blob_created_ms(&id).unwrap();
        assert!(before <= t && t <= after, "{before} {t} {after}");
        let old = BlobId::parse("000000000001ffffffffffffffffffff").unwrap();
        assert_eq!(blob_created_ms(&old), Some(1));
    }

    #[test]
    fn node_ids_are_unique() {
        let a = GcSettings::default().node;
        let b = GcSettings::default().node;
        assert_ne!(a, b);
        assert!(!a.is_empty());
    }
}
