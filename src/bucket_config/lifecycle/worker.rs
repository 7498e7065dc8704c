//! The lifecycle worker: every few moments, for each bucket with a
//! lifecycle configuration, walk its versions and uploads, ask
//! [`action_for`] / [`abort_due`] and carry out what is due. Every change
//! is conditional on the record it was decided on (`Store::delete_guarded`,
//! `MetaStore::update_object_meta`), so a write racing the scan is never
//! deleted or re-classed by a stale decision: the race simply waits for the
//! next scan.
//!
//! Also the `x-cos-expiration` header of GET/HEAD/PUT, with a small
//! per-bucket cache so a bucket without lifecycle costs nothing extra.

use std::time::Duration;

use super::rules::{abort_due, action_for, expiry, Action, Subject};
use super::{Lifecycle, Rule};
use crate::bucket_config::stored;
use crate::clock::DayClock;
use crate::render::headers::ResponseBuilder;
use crate::storage::multipart::UploadCursor;
use crate::storage::{DeleteGuard, ObjectRecord, StorageError, Store, VersionCursor, VersionEntry};

/// Entries read per index call.
const PAGE: usize = 1000;

/// What one scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub expired: usize,
    pub transitioned: usize,
    pub markers_removed: usize,
    pub noncurrent_expired: usize,
    pub uploads_aborted: usize,
    /// Decisions not carried out because the record changed meanwhile.
    pub raced: usize,
    /// Expirations waiting for an object-lock retention to end
    /// (`storage::lock::retained`).
    pub retained: usize,
}

impl ScanReport {
    fn total(&self) -> usize {
        self.expired
            + self.transitioned
            + self.markers_removed
            + self.noncurrent_expired
            + self.uploads_aborted
    }
}

/// How often the worker scans: a quarter of a day, between 200 ms and 60 s
/// (with `--day-seconds 2` a 1-day rule acts within half a second of its
/// due time, i.e. at most ~4.5 s after the object was written).
pub fn interval(clock: &DayClock) -> Duration {
    (clock.day() / 4).clamp(Duration::from_millis(200), Duration::from_secs(60))
}

/// The worker: scans until the task is aborted (`Server::run` does that on
/// shutdown). Errors are logged and retried at the next scan; it never panics.
pub async fn run(store: Store, clock: DayClock) {
    let every = interval(&clock);
    let ttl = crate::storage::gc::job_lease_ttl(every);
    loop {
        tokio::time::sleep(every).await;
        // One node of a cluster scans (storage/gc.rs).
        let scan = scan_once(&store, &clock, crate::clock::now_ms());
        let Some(result) = store.run_leased("lifecycle", ttl, scan).await else {
            continue;
        };
        crate::metrics::job_ran(crate::metrics::Job::Lifecycle, result.is_ok());
        match result {
            Ok(r) if r.total() > 0 => tracing::info!(?r, "lifecycle scan"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "lifecycle scan failed"),
        }
    }
}

/// One pass over every bucket with a lifecycle configuration, deciding at `now_ms`.
pub async fn scan_once(
    store: &Store,
    clock: &DayClock,
    now_ms: i64,
) -> Result<ScanReport, StorageError> {
    let mut report = ScanReport::default();
    for bucket in store.list_buckets().await? {
        let Some(lc) = stored::<Lifecycle>(&bucket) else {
            continue;
        };
        if !lc.rules.iter().any(|r| r.enabled) {
            continue;
        }
        match scan_bucket(store, &bucket.name, &lc.rules, clock, now_ms, &mut report).await {
            // Deleted meanwhile: nothing to do.
            Err(StorageError::NoSuchBucket) => {}
            other => other?,
        }
    }
    Ok(report)
}

async fn scan_bucket(
    store: &Store,
    bucket: &str,
    rules: &[Rule],
    clock: &DayClock,
    now_ms: i64,
    report: &mut ScanReport,
) -> Result<(), StorageError> {
    // Versions (plain records appear as their key's only version), one
    // key's entries (newest first) at a time.
    let mut cursor = VersionCursor::default();
    let mut group: Vec<VersionEntry> = Vec::new();
    loop {
        let page = store
            .meta()
            .list_versions(bucket, "", &cursor, PAGE)
            .await?;
        let done = page.len() < PAGE;
        if let Some(last) = page.last() {
            cursor = VersionCursor {
                key: last.key.clone(),
                seq: Some(last.seq),
            };
        }
        for e in page {
            if group.first().is_some_and(|g| g.key != e.key) {
                let entries = std::mem::take(&mut group);
                act_on_key(store, bucket, rules, &entries, clock, now_ms, report).await?;
            }
            group.push(e);
        }
        if done {
            break;
        }
    }
    if !group.is_empty() {
        act_on_key(store, bucket, rules, &group, clock, now_ms, report).await?;
    }
    // Multipart uploads.
    if rules.iter().any(|r| r.enabled && r.abort_days.is_some()) {
        let mut cursor = UploadCursor {
            key: String::new(),
            upload_id: None,
        };
        loop {
            let page = store.meta().list_uploads(bucket, "", &cursor, PAGE).await?;
            let done = page.len() < PAGE;
            if let Some(last) = page.last() {
                cursor = UploadCursor {
                    key: last.key.clone(),
                    upload_id: Some(last.upload_id.clone()),
                };
            }
            for u in page {
                if abort_due(rules, &u.key, u.initiated_ms, now_ms, clock).is_some() {
                    match store.abort_upload(bucket, &u.key, &u.upload_id).await {
                        Ok(()) => report.uploads_aborted += 1,
                        // Completed or aborted meanwhile.
                        Err(StorageError::NoSuchUpload) => report.raced += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
            if done {
                break;
            }
        }
    }
    Ok(())
}

/// Decides on and acts on every entry of one key (`entries`: newest first).
async fn act_on_key(
    store: &Store,
    bucket: &str,
    rules: &[Rule],
    entries: &[VersionEntry],
    clock: &DayClock,
    now_ms: i64,
    report: &mut ScanReport,
) -> Result<(), StorageError> {
    let Some(first) = entries.first() else {
        return Ok(());
    };
    let key = first.key.as_str();
    for (i, e) in entries.iter().enumerate() {
        let rec = &e.record;
        let subject = if i == 0 {
            if rec.delete_marker {
                Subject::LatestMarker {
                    marker: rec,
                    alone: entries.len() == 1,
                }
            } else {
                Subject::Current(rec)
            }
        } else {
            Subject::Noncurrent {
                rec,
                since_ms: entries[i - 1].record.last_modified_ms,
            }
        };
        let Some(action) = action_for(rules, key, subject, now_ms, clock) else {
            continue;
        };
        // Object lock: expirations wait for the retention (transitions do not).
        let expires = matches!(
            action,
            Action::Expire { .. } | Action::ExpireNoncurrent { .. }
        );
        if expires && crate::storage::lock::retained(rec, now_ms) {
            report.retained += 1;
            continue;
        }
        let outcome = match &action {
            Action::Expire { .. } => store
                .delete_guarded(bucket, key, DeleteGuard::Current(rec.clone()))
                .await
                .map(|_| report.expired += 1),
            Action::RemoveMarker { .. } => store
                .delete_guarded(bucket, key, DeleteGuard::LatestMarker(rec.clone()))
                .await
                .map(|_| report.markers_removed += 1),
            Action::ExpireNoncurrent { .. } => store
                .delete_guarded(bucket, key, DeleteGuard::Noncurrent(rec.clone()))
                .await
                .map(|_| report.noncurrent_expired += 1),
            Action::Transition { class, .. } | Action::TransitionNoncurrent { class, .. } => {
                let new = ObjectRecord {
                    storage_class: class.as_str().to_string(),
                    ..rec.clone()
                };
                store
                    .meta()
                    .update_object_meta(bucket, key, rec, new)
                    .await
                    .map(|_| report.transitioned += 1)
            }
        };
        match outcome {
            Ok(()) => tracing::debug!(bucket, key, ?action, "lifecycle"),
            Err(StorageError::PreconditionFailed) => report.raced += 1,
            // Retained after all (the transaction's own check): wait.
            Err(StorageError::ObjectLocked) => report.retained += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Adds `x-cos-expiration: expiry-date="<RFC 1123>", rule-id="<ID>"` when
/// an Expiration rule of the bucket will expire this current object.
pub async fn expiration_header(
    state: &crate::op::AppState,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
    rb: ResponseBuilder,
) -> ResponseBuilder {
    if rec.delete_marker {
        return rb;
    }
    // The bucket's parsed rules, shared with policy/CORS (bucket_config/cache.rs).
    let Ok(Some(view)) = state.views.get(&state.store, bucket).await else {
        return rb;
    };
    let Some(rules) = &view.expiry_rules else {
        return rb;
    };
    match expiry(rules, key, rec, &state.config.days) {
        Some((due, rule)) => {
            let date = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + Duration::from_millis(due.max(0) as u64),
            );
            let rule = rule.replace(['"', '\\'], "");
            rb.header(
                "x-cos-expiration",
                format!("expiry-date=\"{date}\", rule-id=\"{rule}\""),
            )
        }
        None => rb,
    }
}
