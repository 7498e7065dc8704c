//! Object lock (WORM, spec cos-bucket.md §12): the storage side.
//!
//! A bucket with object lock enabled keeps its configuration in
//! `BucketRecord::configs["object-lock"]` ([`ObjectLockConfig`], written by
//! `bucket_config::object_lock`). Every version written while it has a
//! default retention rule is stamped, in the write's own transaction, with
//! `ObjectRecord::retain_until_ms` = its Last-Modified + the rule's days
//! (on the day clock, `crate::clock`). Until then, the rules of
//! `versions.rs` / `append.rs` refuse every change that would remove or
//! replace that version (`StorageError::ObjectLocked`, COS 409
//! ObjectLocked): a plain DELETE or overwrite on an unversioned or
//! suspended bucket, a DELETE naming the version, an append. As in S3
//! Object Lock, a plain DELETE on a versioning-enabled bucket still writes
//! a delete marker, and a PUT there adds a version without replacing one.
//! Because the check runs inside the transaction, every path (DELETE,
//! DeleteMultipleObjects, PUT, copy, POST, multipart complete, append,
//! lifecycle) is covered and no race can slip past it.

use serde::{Deserialize, Serialize};

use super::{BucketRecord, ObjectRecord, StorageError};

/// The key the configuration is stored under in `BucketRecord::configs`.
pub const CONFIG_NAME: &str = "object-lock";

/// A bucket's object-lock configuration, as stored. Its presence means
/// `ObjectLockEnabled = Enabled` (it can never be turned off).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    /// `Rule/DefaultRetention/Days`; `None`: no default rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u64>,
    /// `Rule/DefaultRetention/Mode` as sent (only `COMPLIANCE` exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The length of one day on the day clock when the rule was set (ms),
    /// so that every node of a cluster stamps the same retention.
    #[serde(default)]
    pub day_ms: i64,
}

impl ObjectLockConfig {
    /// The configuration stored in `rec`, if object lock is enabled.
    pub fn of(rec: &BucketRecord) -> Option<ObjectLockConfig> {
        rec.configs
            .get(CONFIG_NAME)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// How long new versions are retained (ms), if there is a default rule.
    pub fn retention_ms(&self) -> Option<i64> {
        let days = i64::try_from(self.days?).unwrap_or(i64::MAX);
        Some(days.saturating_mul(self.day_ms.max(1)))
    }
}

/// The default retention of new versions in the bucket `rec` (ms).
pub fn default_retention_ms(rec: &BucketRecord) -> Option<i64> {
    ObjectLockConfig::of(rec).and_then(|c| c.retention_ms())
}

/// Whether `rec` is retained (may be neither deleted nor replaced) at
/// `now_ms`. Delete markers are never retained. THE predicate: the
/// storage rules and background workers (lifecycle) all ask this.
pub fn retained(rec: &ObjectRecord, now_ms: i64) -> bool {
    !rec.delete_marker && rec.retain_until_ms.is_some_and(|until| now_ms < until)
}

/// `ObjectLocked` if `rec` (a version about to be removed or replaced) is
/// retained at `now_ms`.
pub fn check_removable(rec: Option<&ObjectRecord>, now_ms: i64) -> Result<(), StorageError> {
    match rec {
        Some(r) if retained(r, now_ms) => Err(StorageError::ObjectLocked),
        _ => Ok(()),
    }
}

/// The retain-until time a version written at `last_modified_ms` gets
/// under a default retention of `retention_ms`.
pub fn retain_until(last_modified_ms: i64, retention_ms: Option<i64>) -> Option<i64> {
    retention_ms.map(|ms| last_modified_ms.saturating_add(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(until: Option<i64>, marker: bool) -> ObjectRecord {
        let mut r = super::super::versions::delete_marker(String::new());
        r.delete_marker = marker;
        r.retain_until_ms = until;
        r
    }

    #[test]
    fn retained_table() {
        let table = [
            (None, false, 1_000, false),
            (Some(2_000), false, 1_000, true),
            (Some(2_000), false, 1_999, true),
            (Some(2_000), false, 2_000, false),
            (Some(2_000), false, 5_000, false),
            (Some(2_000), true, 1_000, false),
        ];
        for (until, marker, now, want) in table {
            assert_eq!(
                retained(&rec(until, marker), now),
                want,
                "{until:?} {marker} {now}"
            );
            assert_eq!(
                check_removable(Some(&rec(until, marker)), now).is_err(),
                want
            );
        }
        assert!(check_removable(None, 0).is_ok());
    }

    #[test]
    fn retention_from_config() {
        let mut b: BucketRecord = serde_json::from_value(
            serde_json::json!({"name": "b", "region": "r", "created_ms": 0}),
        )
        .unwrap();
        assert_eq!(default_retention_ms(&b), None);
        let cfg = ObjectLockConfig {
            days: Some(3),
            mode: None,
            day_ms: 1_000,
        };
        b.configs
            .insert(CONFIG_NAME.into(), serde_json::to_value(&cfg).unwrap());
        assert_eq!(default_retention_ms(&b), Some(3_000));
        assert_eq!(retain_until(10, Some(3_000)), Some(3_010));
        assert_eq!(retain_until(10, None), None);
        // Enabled without a rule: nothing is stamped.
        let cfg = ObjectLockConfig { days: None, ..cfg };
        b.configs
            .insert(CONFIG_NAME.into(), serde_json::to_value(&cfg).unwrap());
        assert_eq!(default_retention_ms(&b), None);
        // Huge values saturate.
        let huge = ObjectLockConfig {
            days: Some(u64::MAX),
            mode: None,
            day_ms: 86_400_000,
        };
        assert_eq!(huge.retention_ms(), Some(i64::MAX));
        assert_eq!(retain_until(5, Some(i64::MAX)), Some(i64::MAX));
    }

    /// The rules of `versions.rs` and `append.rs` with a default retention:
    /// what is refused and what still works.
    #[test]
    fn rules_refuse_what_replaces_a_retained_version() {
        use super::super::append::commit_append;
        use super::super::versions::tests::{body, shape, Key};
        use super::super::versions::{commit_delete, commit_put, BucketRules, Versioning};
        use super::super::WriteCondition;
        let now = crate::clock::now_ms();
        let locked = |v| BucketRules {
            versioning: v,
            object_lock: true,
            retention_ms: Some(60_000),
        };
        // A retention already over: stamped in the past.
        let expired = |v| BucketRules {
            versioning: v,
            object_lock: true,
            retention_ms: Some(-60_000),
        };
        // Object lock on, no default rule.
        let no_rule = |v| BucketRules {
            versioning: v,
            object_lock: true,
            retention_ms: None,
        };
        let put = |k: &mut Key, r: BucketRules, tag: &str| {
            let mut rec = body(tag);
            rec.last_modified_ms = now;
            commit_put(k, r, rec, &[], &WriteCondition::None)
        };
        fn locked_err<T>(r: Result<T, StorageError>) -> bool {
            matches!(r, Err(StorageError::ObjectLocked))
        }

        // Never versioned: overwrite and delete are refused; the record is stamped.
        let mut k = Key::default();
        let c = put(&mut k, locked(Versioning::Off), "1").unwrap();
        assert_eq!(c.retain_until_ms, Some(now + 60_000));
        assert_eq!(
            k.current.as_ref().unwrap().retain_until_ms,
            Some(now + 60_000)
        );
        assert!(locked_err(put(&mut k, locked(Versioning::Off), "2")));
        assert!(locked_err(put(&mut k, no_rule(Versioning::Off), "2")));
        assert!(locked_err(commit_delete(
            &mut k,
            no_rule(Versioning::Off),
            None
        )));
        assert!(locked_err(commit_delete(
            &mut k,
            no_rule(Versioning::Enabled),
            Some("null")
        )));
        // Turning versioning on: a marker is fine, removing the null version is not.
        commit_delete(&mut k, no_rule(Versioning::Enabled), None).unwrap();
        assert_eq!(shape(&k), "- [marker@id 1@null]");
        assert!(locked_err(commit_delete(
            &mut k,
            no_rule(Versioning::Enabled),
            Some("null")
        )));
        // The marker itself is never retained.
        let marker = k.versions.values().next().unwrap().version_id.clone();
        commit_delete(&mut k, no_rule(Versioning::Enabled), marker.as_deref()).unwrap();
        assert_eq!(shape(&k), "1 [1@null]");

        // Enabled: new versions and markers are added; versions stay.
        let mut k = Key::default();
        put(&mut k, locked(Versioning::Enabled), "1").unwrap();
        put(&mut k, locked(Versioning::Enabled), "2").unwrap();
        commit_delete(&mut k, no_rule(Versioning::Enabled), None).unwrap();
        assert_eq!(shape(&k), "- [marker@id 2@id 1@id]");
        let v1 = k.versions.values().nth(2).unwrap().version_id.clone();
        assert!(locked_err(commit_delete(
            &mut k,
            no_rule(Versioning::Enabled),
            v1.as_deref()
        )));
        // Suspended: writes and deletes replace the null version.
        let mut k = Key::default();
        put(&mut k, locked(Versioning::Suspended), "1").unwrap();
        assert!(locked_err(put(&mut k, locked(Versioning::Suspended), "2")));
        assert!(locked_err(commit_delete(
            &mut k,
            no_rule(Versioning::Suspended),
            None
        )));
        assert_eq!(shape(&k), "1 [1@null]");

        // Retention over: everything is allowed again.
        let mut k = Key::default();
        put(&mut k, expired(Versioning::Off), "1").unwrap();
        put(&mut k, expired(Versioning::Off), "2").unwrap();
        commit_delete(&mut k, no_rule(Versioning::Off), None).unwrap();
        assert_eq!(shape(&k), "- []");

        // No rule: nothing stamped.
        let mut k = Key::default();
        let c = put(&mut k, Versioning::Off.into(), "1").unwrap();
        assert_eq!(c.retain_until_ms, None);

        // Append: the creating append is stamped, the next one refused.
        let mut k = Key::default();
        let mut rec = body("1");
        rec.last_modified_ms = now;
        commit_append(&mut k, locked(Versioning::Off), None, rec.clone(), &[]).unwrap();
        let base = k.current.clone();
        assert!(base.as_ref().unwrap().retain_until_ms.is_some());
        let mut grown = base.clone().unwrap();
        grown.size += 1;
        assert!(locked_err(commit_append(
            &mut k,
            locked(Versioning::Off),
            base.as_ref(),
            grown,
            &[]
        )));
    }
}
