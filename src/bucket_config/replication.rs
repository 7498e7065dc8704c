//! Bucket replication `PUT/GET/DELETE /?replication` (cos-bucket.md §9):
//! the document, its validation and the replication of new writes to a
//! destination bucket on this same server.
//!
//! Runtime ([REC], S3 semantics): after a write (PUT, POST form, copy,
//! multipart complete, append, delete) to a key under an enabled rule whose
//! destination bucket exists here, the new version is marked
//! `x-cos-replication-status: PENDING` and handed to a bounded set of
//! background tasks, which copy it (same bytes, metadata and tags; the
//! destination's storage class if the rule names one) to the destination as
//! `REPLICA`, or write a delete marker there, then mark the source
//! `COMPLETED` (`FAILED` when the destination refuses). Work that could not
//! start (too many in flight, a restart) stays PENDING and is found by a
//! periodic scan ([`run_scanner`]). Destinations on another server are
//! stored and shown, never replicated to.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::xml_tree::{with_declaration, without_declaration, Node};
use super::{stored, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::storage::{ObjectRecord, StorageError, Store, Versioning, WriteCondition};

/// Most rules ([REC], as S3).
pub const MAX_RULES: usize = 1000;
/// Most replications running at once; more stay PENDING for the scan.
pub const MAX_IN_FLIGHT: usize = 64;

pub const PENDING: &str = "PENDING";
pub const COMPLETED: &str = "COMPLETED";
pub const FAILED: &str = "FAILED";
pub const REPLICA: &str = "REPLICA";

/// One `Rule`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationRule {
    pub id: String,
    pub enabled: bool,
    pub priority: Option<u32>,
    /// `Prefix`, or `Filter/Prefix`, or `Filter/And/Prefix`.
    pub prefix: String,
    /// `Filter/And/Tag` (all must be on the object).
    pub tags: Vec<(String, String)>,
    /// The destination's bucket name (`<bucket>-<appid>`).
    pub bucket: String,
    pub region: String,
    /// Empty: keep the source's.
    pub storage_class: String,
    /// `DeleteMarkerReplication/Status` (absent: Enabled).
    pub delete_markers: bool,
}

/// The stored `?replication` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationConfig {
    /// The document as sent, without its declaration.
    pub raw: String,
    /// When this configuration was stored (Unix ms): versions written since
    /// then that carry no status yet (the process died between the write's
    /// commit and its PENDING mark) are found and marked by the scan.
    #[serde(default)]
    pub since_ms: i64,
    pub role: String,
    pub rules: Vec<ReplicationRule>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, msg)
}

/// `qcs::cos:<region>::<bucket>-<appid>` → (region, bucket); the older
/// `qcs:id/0:cos:<region>:appid/<appid>:<bucket>` (cos-python-sdk-v5's
/// docstring) names the same bucket.
pub fn parse_destination(text: &str) -> Option<(String, String)> {
    let text = text.trim();
    let (region, bucket) = match text.strip_prefix("qcs::cos:") {
        Some(rest) => {
            let (r, b) = rest.split_once("::")?;
            (r.to_string(), b.to_string())
        }
        None => {
            let rest = text.strip_prefix("qcs:id/0:cos:")?;
            let (r, rest) = rest.split_once(":appid/")?;
            let (appid, b) = rest.split_once(':')?;
            if appid.is_empty() || !appid.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (r.to_string(), format!("{b}-{appid}"))
        }
    };
    let (region, bucket) = (region.as_str(), bucket.as_str());
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let bucket_ok = BucketName::parse_exact(bucket).is_ok();
    (region_ok && bucket_ok).then(|| (region.to_string(), bucket.to_string()))
}

const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "ARCHIVE",
    "DEEP_ARCHIVE",
    "INTELLIGENT_TIERING",
    "MAZ_STANDARD",
    "MAZ_STANDARD_IA",
    "MAZ_INTELLIGENT_TIERING",
];

fn parse_rule(r: &Node) -> Result<ReplicationRule> {
    let id = r.text_of("ID").unwrap_or("").to_string();
    if id.len() > 255 {
        return Err(invalid("A rule ID is at most 255 characters."));
    }
    let enabled = match r.required("Status")?.text.trim() {
        "Enabled" => true,
        "Disabled" => false,
        other => {
            return Err(invalid(format!(
                "Status `{other}` must be Enabled or Disabled."
            )))
        }
    };
    let priority = match r.text_of("Priority") {
        None | Some("") => None,
        Some(p) => Some(
            p.parse()
                .map_err(|_| invalid(format!("Priority `{p}` must be a number.")))?,
        ),
    };
    let mut prefix = r.text_of("Prefix").unwrap_or("").to_string();
    let mut tags = Vec::new();
    if let Some(f) = r.child("Filter") {
        let scope = f.child("And").unwrap_or(f);
        if let Some(p) = scope.text_of("Prefix") {
            prefix = p.to_string();
        }
        for t in scope.all("Tag") {
            tags.push((
                t.required("Key")?.text.trim().to_string(),
                t.text_of("Value").unwrap_or("").to_string(),
            ));
        }
    }
    let dest = r.required("Destination")?;
    let target = dest.required("Bucket")?.text.trim();
    let (region, bucket) = parse_destination(target).ok_or_else(|| {
        invalid(format!(
            "Destination bucket `{target}` must be qcs::cos:<region>::<bucket>-<appid>."
        ))
    })?;
    let storage_class = dest.text_of("StorageClass").unwrap_or("").to_string();
    if !storage_class.is_empty() && !STORAGE_CLASSES.contains(&storage_class.as_str()) {
        return Err(invalid(format!(
            "StorageClass `{storage_class}` is not a COS storage class."
        )));
    }
    let delete_markers = match r
        .child("DeleteMarkerReplication")
        .and_then(|d| d.text_of("Status"))
    {
        None | Some("Enabled") => true,
        Some("Disabled") => false,
        Some(other) => {
            return Err(invalid(format!(
                "DeleteMarkerReplication Status `{other}` must be Enabled or Disabled."
            )))
        }
    };
    Ok(ReplicationRule {
        id,
        enabled,
        priority,
        prefix,
        tags,
        bucket,
        region,
        storage_class,
        delete_markers,
    })
}

impl BucketConfig for ReplicationConfig {
    const NAME: &'static str = "replication";
    const UNSET: Unset = Unset::Error(ErrorCode::ReplicationConfigurationnotFoundError);

    /// # Behavior
    /// - Root `ReplicationConfiguration` with `Role` and 1–1000 `Rule`s, each
    ///   with `Status` and `Destination/Bucket` (else 400 MalformedXML).
    /// - 400 InvalidArgument: Status not Enabled/Disabled, destination not
    ///   `qcs::cos:<region>::<bucket>`, unknown storage class, repeated
    ///   non-empty IDs, a non-numeric Priority.
    fn parse(body: &[u8]) -> Result<Self> {
        let root = Node::parse(body, "ReplicationConfiguration")?;
        let role = root.required("Role")?.text.trim().to_string();
        let rules = root
            .all("Rule")
            .map(parse_rule)
            .collect::<Result<Vec<_>>>()?;
        if rules.is_empty() {
            return Err(Error::with_message(
                ErrorCode::MalformedXML,
                "<ReplicationConfiguration> needs at least one <Rule>.",
            ));
        }
        if rules.len() > MAX_RULES {
            return Err(invalid("At most 1000 replication rules."));
        }
        let mut ids: Vec<&str> = rules
            .iter()
            .map(|r| r.id.as_str())
            .filter(|i| !i.is_empty())
            .collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("Rule IDs must be unique."));
        }
        Ok(ReplicationConfig {
            raw: without_declaration(body),
            since_ms: 0,
            role,
            rules,
        })
    }

    fn render(&self) -> String {
        with_declaration(&self.raw)
    }
}

impl ReplicationConfig {
    /// The enabled rule that covers `rec` of `key` (by priority, then
    /// document order); delete markers only under rules that replicate them.
    pub fn rule_for(&self, key: &str, rec: &ObjectRecord) -> Option<&ReplicationRule> {
        let mut candidates: Vec<&ReplicationRule> = self
            .rules
            .iter()
            .filter(|r| r.enabled && key.starts_with(&r.prefix))
            .filter(|r| {
                if rec.delete_marker {
                    r.delete_markers
                } else {
                    r.tags.iter().all(|t| rec.tags.contains(t))
                }
            })
            .collect();
        candidates.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
        candidates.into_iter().next()
    }
}

/// PUT `/?replication`: the source bucket must have versioning Enabled, and
/// so must a destination bucket that exists on this server (400
/// InvalidRequest otherwise, cos-bucket.md §9).
pub async fn put(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let rec = super::bucket_record(state, bucket).await?;
    let body = super::read_body(req).await?;
    let doc = ReplicationConfig::parse(&body)?;
    if rec.versioning != Versioning::Enabled {
        return Err(Error::with_message(
            ErrorCode::InvalidRequest,
            "Versioning must be enabled on the source bucket before replication is configured.",
        ));
    }
    for rule in &doc.rules {
        if let Some(dest) = state.store.bucket(&rule.bucket).await? {
            if dest.versioning != Versioning::Enabled {
                return Err(Error::with_message(
                    ErrorCode::InvalidRequest,
                    format!(
                        "Versioning must be enabled on the destination bucket {}.",
                        rule.bucket
                    ),
                ));
            }
            if dest.name == bucket.as_str() {
                return Err(invalid("A bucket cannot replicate to itself."));
            }
        }
    }
    let doc = ReplicationConfig {
        since_ms: crate::clock::now_ms(),
        ..doc
    };
    super::save(state, bucket, doc).await
}

/// The bucket and key an object write names (the operations whose new
/// version replication copies): PUT, copy, append, multipart complete,
/// DELETE (multi-object deletes call [`after_write`] per marker
/// themselves). POST form uploads are not covered.
pub fn written_key(op: &crate::route::Operation) -> Option<(String, String)> {
    use crate::route::Operation as O;
    match op {
        O::PutObject(b, k)
        | O::CopyObject(b, k)
        | O::AppendObject(b, k)
        | O::CompleteMultipartUpload(b, k)
        | O::DeleteObject(b, k) => Some((b.as_str().to_string(), k.as_str().to_string())),
        _ => None,
    }
}

/// Replications running now (bounded by [`MAX_IN_FLIGHT`]).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// After a successful write of `key` in `bucket` (`version` from the
/// response's `x-cos-version-id`): marks the new version PENDING and starts
/// its replication when an enabled rule with a local destination covers it.
/// Never fails the write: problems are logged and left to the scan.
pub async fn after_write(state: &AppState, bucket: &str, key: &str, version: Option<&str>) {
    let Some(version) = version.filter(|v| !v.is_empty() && *v != "null") else {
        return;
    };
    let Ok(Some(brec)) = state.store.bucket(bucket).await else {
        return;
    };
    let Some(conf) = stored::<ReplicationConfig>(&brec) else {
        return;
    };
    let store = state.store.clone();
    let marked = set_status(&store, bucket, key, version, |cur| {
        (cur.replication_status.is_none() && conf.rule_for(key, cur).is_some()).then_some(PENDING)
    })
    .await;
    if marked {
        spawn_one(
            store,
            bucket.to_string(),
            key.to_string(),
            version.to_string(),
        );
    }
}

/// Sets the replication status of one version (delete markers included)
/// to what `decide` says for its current record (`None`: leave it), as a
/// metadata-only update of exactly that record (retried on a race).
/// Returns whether it was set.
async fn set_status(
    store: &Store,
    bucket: &str,
    key: &str,
    version: &str,
    decide: impl Fn(&ObjectRecord) -> Option<&'static str>,
) -> bool {
    for _ in 0..8 {
        let Ok(Some(cur)) = store
            .meta()
            .object_version(bucket, key, Some(version))
            .await
        else {
            return false;
        };
        let Some(status) = decide(&cur) else {
            return false;
        };
        let next = ObjectRecord {
            replication_status: Some(status.to_string()),
            ..cur.clone()
        };
        match store
            .meta()
            .update_object_meta(bucket, key, &cur, next)
            .await
        {
            Ok(()) => return true,
            Err(StorageError::PreconditionFailed) => continue,
            Err(e) => {
                tracing::warn!(bucket, key, version, error = %e, "replication status not set");
                return false;
            }
        }
    }
    false
}

/// Starts one replication unless [`MAX_IN_FLIGHT`] are running (then the
/// version stays PENDING for the scan).
fn spawn_one(store: Store, bucket: String, key: String, version: String) -> bool {
    if IN_FLIGHT.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        return false;
    }
    tokio::spawn(async move {
        if let Err(e) = replicate(&store, &bucket, &key, &version).await {
            tracing::warn!(bucket, key, version, error = %e, "replication failed");
        }
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    });
    true
}

/// Sets the source version's status (only while it is still PENDING).
async fn mark(store: &Store, bucket: &str, key: &str, version: &str, status: &'static str) {
    set_status(store, bucket, key, version, |cur| {
        (cur.replication_status.as_deref() == Some(PENDING)).then_some(status)
    })
    .await;
}

/// Replicates one PENDING source version to its rule's destination.
/// # Behavior
/// - A version no longer PENDING, or no longer covered by a rule (config
///   deleted or changed), is left alone (still PENDING is left for a later
///   configuration; a deleted configuration leaves it PENDING, as S3).
/// - Destination not on this server: left PENDING (never replicated).
/// - Destination refuses (gone, not versioned) → FAILED.
pub async fn replicate(
    store: &Store,
    bucket: &str,
    key: &str,
    version: &str,
) -> std::result::Result<(), StorageError> {
    let Some(src) = store
        .meta()
        .object_version(bucket, key, Some(version))
        .await?
    else {
        return Ok(());
    };
    if src.replication_status.as_deref() != Some(PENDING) {
        return Ok(());
    }
    let Some(brec) = store.bucket(bucket).await? else {
        return Ok(());
    };
    let Some(conf) = stored::<ReplicationConfig>(&brec) else {
        return Ok(());
    };
    let Some(rule) = conf.rule_for(key, &src).cloned() else {
        return Ok(());
    };
    let dest = match store.bucket(&rule.bucket).await? {
        Some(d) => d,
        None => return Ok(()),
    };
    if dest.versioning != Versioning::Enabled {
        mark(store, bucket, key, version, FAILED).await;
        return Ok(());
    }
    let result = if src.delete_marker {
        store
            .delete_version(&rule.bucket, key, None)
            .await
            .map(|_| ())
    } else {
        let class = rule.storage_class.clone();
        store
            .copy_version(
                bucket,
                key,
                Some(version),
                &rule.bucket,
                key,
                WriteCondition::None,
                |s: &ObjectRecord| {
                    Ok::<_, StorageError>(ObjectRecord {
                        storage_class: if class.is_empty() {
                            s.storage_class.clone()
                        } else {
                            class.clone()
                        },
                        replication_status: Some(REPLICA.to_string()),
                        version_id: None,
                        restore: None,
                        ..s.clone()
                    })
                },
            )
            .await
            .map(|_| ())
    };
    match result {
        Ok(()) => mark(store, bucket, key, version, COMPLETED).await,
        Err(e) => {
            mark(store, bucket, key, version, FAILED).await;
            return Err(e);
        }
    }
    Ok(())
}

/// One pass over every bucket with a replication configuration: every
/// PENDING version is (re)started. Returns how many were started.
pub async fn scan_once(store: &Store) -> std::result::Result<usize, StorageError> {
    use crate::storage::VersionsQuery;
    let mut started = 0;
    for b in store.list_buckets().await? {
        let Some(conf) = stored::<ReplicationConfig>(&b) else {
            continue;
        };
        let mut q = VersionsQuery {
            max_keys: 1000,
            ..Default::default()
        };
        loop {
            let page = store.list_versions(&b.name, &q).await?;
            for e in &page.entries {
                // A version written under the configuration but never
                // marked (a crash right after its commit): mark it now.
                let unmarked = e.record.replication_status.is_none()
                    && e.record.last_modified_ms >= conf.since_ms
                    && conf.rule_for(&e.key, &e.record).is_some();
                if unmarked {
                    if let Some(v) = &e.record.version_id {
                        set_status(store, &b.name, &e.key, v, |cur| {
                            (cur.replication_status.is_none()
                                && conf.rule_for(&e.key, cur).is_some())
                            .then_some(PENDING)
                        })
                        .await;
                    }
                }
                let pending = unmarked || e.record.replication_status.as_deref() == Some(PENDING);
                if pending {
                    if let Some(v) = &e.record.version_id {
                        if spawn_one(store.clone(), b.name.clone(), e.key.clone(), v.clone()) {
                            started += 1;
                        }
                    }
                }
            }
            if !page.is_truncated {
                break;
            }
            q.key_marker = page.next_key_marker.unwrap_or_default();
            q.version_id_marker = page.next_version_id_marker;
        }
    }
    Ok(started)
}

/// The background scan (spawned by `Server::run`): at start, then every
/// `interval`, restarts PENDING work. Stops when the task is aborted.
pub async fn run_scanner(store: Store, interval: std::time::Duration) {
    let ttl = crate::storage::gc::job_lease_ttl(interval);
    loop {
        // One node of a cluster scans (storage/gc.rs).
        let Some(result) = store
            .run_leased("replication_scan", ttl, scan_once(&store))
            .await
        else {
            tokio::time::sleep(interval).await;
            continue;
        };
        crate::metrics::job_ran(crate::metrics::Job::ReplicationScan, result.is_ok());
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(started = n, "replication scan restarted pending work"),
            Err(e) => tracing::warn!(error = %e, "replication scan failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> String {
        format!(
            "<ReplicationConfiguration><Role>qcs::cam::uin/1:uin/1</Role>{rules}</ReplicationConfiguration>"
        )
    }

    const DEST: &str =
        "<Destination><Bucket>qcs::cos:ap-guangzhou::dest-1250000000</Bucket></Destination>";

    fn parse(b: &str) -> Result<ReplicationConfig> {
        ReplicationConfig::parse(b.as_bytes())
    }

    #[test]
    fn destinations() {
        assert_eq!(
            parse_destination("qcs::cos:ap-shanghai::destbucket-1250000000"),
            Some(("ap-shanghai".into(), "destbucket-1250000000".into()))
        );
        assert_eq!(
            parse_destination("qcs:id/0:cos:cn-south:appid/1252448703:replicationsouth"),
            Some(("cn-south".into(), "replicationsouth-1252448703".into()))
        );
        for bad in [
            "destbucket-1250000000",
            "qcs::cos:ap-shanghai:destbucket",
            "qcs::cos:::destbucket",
            "qcs::cos:ap-shanghai::",
            "qcs::cos:ap-shanghai::Bad_Name",
            "qcs::cam::uin/1",
            "qcs:id/0:cos:cn-south:appid/x:b",
            "qcs:id/0:cos:cn-south:b",
        ] {
            assert_eq!(parse_destination(bad), None, "{bad}");
        }
    }

    #[test]
    fn validation_table() {
        let c = parse(&doc(&format!(
            "<Rule><ID>a</ID><Status>Enabled</Status><Prefix>docs/</Prefix>{DEST}</Rule>"
        )))
        .unwrap();
        assert_eq!(c.rules[0].bucket, "dest-1250000000");
        assert!(c.rules[0].delete_markers);
        let bad: &[(String, ErrorCode)] = &[
            ("<ReplicationConfiguration/>".into(), ErrorCode::MalformedXML),
            ("<Other/>".into(), ErrorCode::MalformedXML),
            (doc(""), ErrorCode::MalformedXML),
            (
                format!("<ReplicationConfiguration><Rule><Status>Enabled</Status>{DEST}</Rule></ReplicationConfiguration>"),
                ErrorCode::MalformedXML,
            ),
            (doc(&format!("<Rule>{DEST}</Rule>")), ErrorCode::MalformedXML),
            (doc("<Rule><Status>Enabled</Status></Rule>"), ErrorCode::MalformedXML),
            (doc(&format!("<Rule><Status>On</Status>{DEST}</Rule>")), ErrorCode::InvalidArgument),
            (
                doc("<Rule><Status>Enabled</Status><Destination><Bucket>dest</Bucket></Destination></Rule>"),
                ErrorCode::InvalidArgument,
            ),
            (
                doc("<Rule><Status>Enabled</Status><Destination><Bucket>qcs::cos:ap-guangzhou::dest-1250000000</Bucket><StorageClass>GOLD</StorageClass></Destination></Rule>"),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&format!("<Rule><ID>x</ID><Status>Enabled</Status>{DEST}</Rule><Rule><ID>x</ID><Status>Enabled</Status>{DEST}</Rule>")),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&format!("<Rule><Status>Enabled</Status><Priority>one</Priority>{DEST}</Rule>")),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&format!("<Rule><Status>Enabled</Status>{DEST}<DeleteMarkerReplication><Status>Maybe</Status></DeleteMarkerReplication></Rule>")),
                ErrorCode::InvalidArgument,
            ),
        ];
        for (body, code) in bad {
            assert_eq!(parse(body).unwrap_err().code, *code, "{body}");
        }
    }

    #[test]
    fn rule_matching() {
        let c = parse(&doc(&format!(
            "<Rule><ID>off</ID><Status>Disabled</Status><Prefix></Prefix>{DEST}</Rule>\
             <Rule><ID>docs</ID><Status>Enabled</Status><Prefix>docs/</Prefix>{DEST}\
               <DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication></Rule>\
             <Rule><ID>tagged</ID><Status>Enabled</Status><Priority>1</Priority><Filter><And><Prefix>t/</Prefix>\
               <Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>{DEST}</Rule>"
        )))
        .unwrap();
        let rec = |tags: &[(&str, &str)], marker: bool| {
            let mut r = crate::storage::versions::delete_marker("v".into());
            r.delete_marker = marker;
            r.tags = tags
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            r
        };
        let id = |key: &str, r: &ObjectRecord| c.rule_for(key, r).map(|r| r.id.clone());
        assert_eq!(id("docs/a", &rec(&[], false)).as_deref(), Some("docs"));
        assert_eq!(id("docs/a", &rec(&[], true)), None, "markers disabled");
        assert_eq!(id("other", &rec(&[], false)), None, "disabled rule");
        assert_eq!(
            id("t/x", &rec(&[("k", "v")], false)).as_deref(),
            Some("tagged")
        );
        assert_eq!(id("t/x", &rec(&[("k", "w")], false)), None);
        assert_eq!(id("t/x", &rec(&[], true)).as_deref(), Some("tagged"));
    }
}
