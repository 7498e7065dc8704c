//! What lifecycle does to one object, version, delete marker or upload at
//! a given moment: pure over the rules, the record, `now` and the day
//! clock, so every rule is table-tested without sleeping. The worker
//! (`worker.rs`) only carries these decisions out.

use super::{Filter, Rule};
use crate::archive::StorageClass;
use crate::clock::DayClock;
use crate::storage::ObjectRecord;

/// What is being decided on.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// The key's current object (its latest entry, not a delete marker).
    Current(&'a ObjectRecord),
    /// A delete marker that is the key's latest entry; `alone`: the key has
    /// no other version left.
    LatestMarker {
        marker: &'a ObjectRecord,
        alone: bool,
    },
    /// A version (or delete marker) that is not the latest, noncurrent
    /// since `since_ms` (its successor's creation time).
    Noncurrent {
        rec: &'a ObjectRecord,
        since_ms: i64,
    },
}

/// One thing to do; `rule` is the ID of the rule that asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the current object as a DELETE without versionId would
    /// (unversioned: gone; versioned: a delete marker on top).
    Expire { rule: String },
    /// Change the current object's storage class (no byte moves).
    Transition { class: StorageClass, rule: String },
    /// Remove the latest delete marker (ExpiredObjectDeleteMarker).
    RemoveMarker { rule: String },
    /// Remove a noncurrent version for good.
    ExpireNoncurrent { rule: String },
    /// Change a noncurrent version's storage class.
    TransitionNoncurrent { class: StorageClass, rule: String },
}

/// Whether a record is protected from deletion (object lock / WORM
/// retention): the one place such a check belongs. Nothing on this branch
/// stores retention yet, so nothing is protected.
pub fn is_protected(_rec: &ObjectRecord, _now_ms: i64) -> bool {
    false
}

fn rule_id(r: &Rule) -> String {
    r.id.clone().unwrap_or_default()
}

/// How cold a class is: transitions only ever go colder.
fn rank(c: StorageClass) -> u8 {
    match c {
        StorageClass::Standard | StorageClass::MazStandard => 0,
        StorageClass::StandardIa
        | StorageClass::MazStandardIa
        | StorageClass::IntelligentTiering
        | StorageClass::MazIntelligentTiering => 1,
        StorageClass::Archive => 2,
        StorageClass::DeepArchive => 3,
    }
}

fn key_matches_prefix(key: &str, prefix: Option<&String>) -> bool {
    prefix.is_none_or(|p| key.starts_with(p.as_str()))
}

fn has_tag(tags: &[(String, String)], t: &(String, String)) -> bool {
    tags.iter().any(|x| x == t)
}

fn size_ok(size: u64, gt: Option<u64>, lt: Option<u64>) -> bool {
    gt.is_none_or(|n| size > n) && lt.is_none_or(|n| size < n)
}

fn filter_matches(f: &Filter, key: &str, tags: &[(String, String)], size: u64) -> bool {
    if !key_matches_prefix(key, f.prefix.as_ref()) {
        return false;
    }
    if f.tag.as_ref().is_some_and(|t| !has_tag(tags, t)) {
        return false;
    }
    if !size_ok(size, f.size_greater_than, f.size_less_than) {
        return false;
    }
    match &f.and {
        None => true,
        Some(a) => {
            key_matches_prefix(key, a.prefix.as_ref())
                && a.prefix_not_equals
                    .as_ref()
                    .is_none_or(|p| p.is_empty() || !key.starts_with(p.as_str()))
                && a.tags.iter().all(|t| has_tag(tags, t))
                && size_ok(size, a.size_greater_than, a.size_less_than)
        }
    }
}

impl Rule {
    /// Whether this rule is enabled and applies to an object of this key,
    /// tag set and size.
    pub fn applies(&self, key: &str, tags: &[(String, String)], size: u64) -> bool {
        self.enabled
            && key_matches_prefix(key, self.prefix.as_ref())
            && self
                .filter
                .as_ref()
                .is_none_or(|f| filter_matches(f, key, tags, size))
    }

    /// Whether the filter looks only at keys (uploads have no tags or size yet).
    fn key_only(&self) -> bool {
        self.filter.as_ref().is_none_or(|f| {
            f.tag.is_none()
                && f.size_greater_than.is_none()
                && f.size_less_than.is_none()
                && f.and.as_ref().is_none_or(|a| {
                    a.tags.is_empty() && a.size_greater_than.is_none() && a.size_less_than.is_none()
                })
        })
    }
}

/// The earliest pending expiration of a current object: `(due, rule ID)`
/// over every enabled rule that applies and has an Expiration Days or Date
/// (what `x-cos-expiration` announces).
pub fn expiry(
    rules: &[Rule],
    key: &str,
    rec: &ObjectRecord,
    clock: &DayClock,
) -> Option<(i64, String)> {
    rules
        .iter()
        .filter(|r| r.applies(key, &rec.tags, rec.size))
        .filter_map(|r| {
            let due = r
                .expiration
                .as_ref()?
                .when
                .due(rec.last_modified_ms, clock)?;
            Some((due, rule_id(r)))
        })
        .min_by_key(|(due, _)| *due)
}

/// THE lifecycle decision for one subject at `now_ms` (`None`: nothing
/// to do yet). Deletions come first (a due Expiration wins over a due
/// Transition); transitions go to the coldest class already due, and only
/// colder than the record's. A record under retention ([`is_protected`])
/// is never deleted.
pub fn action_for(
    rules: &[Rule],
    key: &str,
    subject: Subject<'_>,
    now_ms: i64,
    clock: &DayClock,
) -> Option<Action> {
    match subject {
        Subject::Current(rec) => {
            let applying = || rules.iter().filter(|r| r.applies(key, &rec.tags, rec.size));
            if !is_protected(rec, now_ms) {
                if let Some((_, rule)) =
                    expiry(rules, key, rec, clock).filter(|(d, _)| *d <= now_ms)
                {
                    return Some(Action::Expire { rule });
                }
            }
            let current = rank(StorageClass::of(rec));
            applying()
                .flat_map(|r| r.transitions.iter().map(move |t| (r, t)))
                .filter(|(_, t)| {
                    t.when
                        .due(rec.last_modified_ms, clock)
                        .is_some_and(|d| d <= now_ms)
                })
                .filter_map(|(r, t)| Some((r, StorageClass::parse(&t.storage_class).ok()?)))
                .filter(|(_, c)| rank(*c) > current)
                .max_by_key(|(_, c)| rank(*c))
                .map(|(r, class)| Action::Transition {
                    class,
                    rule: rule_id(r),
                })
        }
        Subject::LatestMarker { marker, alone } => {
            if !alone {
                return None;
            }
            rules
                .iter()
                .filter(|r| r.applies(key, &marker.tags, 0))
                .find(|r| {
                    r.expiration
                        .as_ref()
                        .is_some_and(|e| e.expired_object_delete_marker == Some(true))
                })
                .map(|r| Action::RemoveMarker { rule: rule_id(r) })
        }
        Subject::Noncurrent { rec, since_ms } => {
            let applying = || rules.iter().filter(|r| r.applies(key, &rec.tags, rec.size));
            if !is_protected(rec, now_ms) {
                if let Some(r) = applying().find(|r| {
                    r.noncurrent_expiration_days
                        .is_some_and(|n| clock.is_due(since_ms, n, now_ms))
                }) {
                    return Some(Action::ExpireNoncurrent { rule: rule_id(r) });
                }
            }
            if rec.delete_marker {
                return None;
            }
            let current = rank(StorageClass::of(rec));
            applying()
                .flat_map(|r| r.noncurrent_transitions.iter().map(move |t| (r, t)))
                .filter(|(_, t)| clock.is_due(since_ms, t.days, now_ms))
                .filter_map(|(r, t)| Some((r, StorageClass::parse(&t.storage_class).ok()?)))
                .filter(|(_, c)| rank(*c) > current)
                .max_by_key(|(_, c)| rank(*c))
                .map(|(r, class)| Action::TransitionNoncurrent {
                    class,
                    rule: rule_id(r),
                })
        }
    }
}

/// Whether an upload of `key` initiated at `initiated_ms` is to be aborted
/// at `now_ms` (AbortIncompleteMultipartUpload); the rule's ID if so. Rules
/// filtering on tags or sizes do not apply to uploads.
pub fn abort_due(
    rules: &[Rule],
    key: &str,
    initiated_ms: i64,
    now_ms: i64,
    clock: &DayClock,
) -> Option<String> {
    rules
        .iter()
        .filter(|r| r.key_only() && r.applies(key, &[], 0))
        .find(|r| {
            r.abort_days
                .is_some_and(|n| clock.is_due(initiated_ms, n, now_ms))
        })
        .map(rule_id)
}

#[cfg(test)]
mod tests {
    use super::super::{BucketConfig, Lifecycle};
    use super::*;
    use std::time::Duration;

    /// Days of 10 s counted from t = 0.
    fn clock() -> DayClock {
        DayClock::new(Duration::from_secs(10), 0)
    }

    fn rules(xml: &str) -> Vec<Rule> {
        Lifecycle::parse(
            format!("<LifecycleConfiguration>{xml}</LifecycleConfiguration>").as_bytes(),
        )
        .unwrap()
        .rules
    }

    fn obj(size: u64, lm: i64, class: &str, tags: &[(&str, &str)]) -> ObjectRecord {
        let mut r = crate::storage::versions::delete_marker("x".into());
        r.delete_marker = false;
        r.version_id = None;
        r.size = size;
        r.last_modified_ms = lm;
        r.storage_class = class.into();
        r.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        r
    }

    fn expire(rule: &str) -> Option<Action> {
        Some(Action::Expire { rule: rule.into() })
    }

    #[test]
    fn current_objects() {
        let rs = rules(concat!(
            "<Rule><ID>exp</ID><Status>Enabled</Status><Filter><Prefix>logs/</Prefix></Filter><Expiration><Days>2</Days></Expiration></Rule>",
            "<Rule><ID>off</ID><Status>Disabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>",
            "<Rule><ID>tag</ID><Status>Enabled</Status><Filter><Tag><Key>t</Key><Value>1</Value></Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>",
            "<Rule><ID>big</ID><Status>Enabled</Status><Filter><And><Prefix>s/</Prefix><PrefixNotEquals>s/keep</PrefixNotEquals><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Expiration><Days>1</Days></Expiration></Rule>",
            "<Rule><ID>date</ID><Status>Enabled</Status><Filter><Prefix>d/</Prefix></Filter><Expiration><Date>1970-01-01T00:01:40Z</Date></Expiration></Rule>",
            "<Rule><ID>tier</ID><Status>Enabled</Status><Filter><Prefix>t/</Prefix></Filter><Transition><Days>1</Days><StorageClass>STANDARD_IA</StorageClass></Transition><Transition><Days>3</Days><StorageClass>ARCHIVE</StorageClass></Transition><Expiration><Days>5</Days></Expiration></Rule>",
        ));
        let c = clock();
        let std = |size, lm| obj(size, lm, "STANDARD", &[]);
        let cases: Vec<(&str, ObjectRecord, i64, Option<Action>)> = vec![
            // Created at 5 s: 2 days later is 25 s, rounded up to 30 s.
            ("logs/a", std(1, 5_000), 29_999, None),
            ("logs/a", std(1, 5_000), 30_000, expire("exp")),
            // Created on a boundary: exactly 2 days.
            ("logs/a", std(1, 10_000), 30_000, expire("exp")),
            ("other", std(1, 0), 1_000_000, None),
            (
                "x",
                obj(1, 0, "STANDARD", &[("t", "1")]),
                10_000,
                expire("tag"),
            ),
            ("x", obj(1, 0, "STANDARD", &[("t", "2")]), 10_000, None),
            ("s/a", std(50, 0), 10_000, expire("big")),
            ("s/a", std(10, 0), 10_000, None),
            ("s/a", std(100, 0), 10_000, None),
            ("s/keep/a", std(50, 0), 10_000, None),
            ("d/a", std(1, 0), 99_999, None),
            ("d/a", std(1, 0), 100_000, expire("date")),
            // A Date rule applies to objects created after the date too.
            ("d/a", std(1, 200_000), 200_001, expire("date")),
            ("t/a", std(1, 0), 9_999, None),
            (
                "t/a",
                std(1, 0),
                10_000,
                Some(Action::Transition {
                    class: StorageClass::StandardIa,
                    rule: "tier".into(),
                }),
            ),
            // Both transitions due: straight to the coldest.
            (
                "t/a",
                std(1, 0),
                30_000,
                Some(Action::Transition {
                    class: StorageClass::Archive,
                    rule: "tier".into(),
                }),
            ),
            // Already there: nothing; never back to a warmer class.
            ("t/a", obj(1, 0, "ARCHIVE", &[]), 30_000, None),
            ("t/a", obj(1, 0, "DEEP_ARCHIVE", &[]), 30_000, None),
            // Expiration wins over a due transition.
            ("t/a", std(1, 0), 50_000, expire("tier")),
        ];
        for (key, rec, now, want) in cases {
            assert_eq!(
                action_for(&rs, key, Subject::Current(&rec), now, &c),
                want,
                "{key} lm={} now={now}",
                rec.last_modified_ms
            );
        }
        // The header's announcement: the earliest due rule.
        assert_eq!(
            expiry(&rs, "logs/a", &std(1, 5_000), &c),
            Some((30_000, "exp".into()))
        );
        assert_eq!(
            expiry(&rs, "t/a", &std(1, 0), &c),
            Some((50_000, "tier".into()))
        );
        assert_eq!(expiry(&rs, "other", &std(1, 0), &c), None);
    }

    #[test]
    fn versions_markers_and_uploads() {
        let rs = rules(concat!(
            "<Rule><ID>nc</ID><Status>Enabled</Status><Filter/><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
            "<NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>ARCHIVE</StorageClass></NoncurrentVersionTransition>",
            "<NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration>",
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
            "<Rule><ID>tagged</ID><Status>Enabled</Status><Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
        ));
        let c = clock();
        let v = obj(1, 0, "STANDARD", &[]);
        let nc = |since, now| {
            action_for(
                &rs,
                "k",
                Subject::Noncurrent {
                    rec: &v,
                    since_ms: since,
                },
                now,
                &c,
            )
        };
        // Noncurrent since 15 s: one day → 30 s (rounded), three → 50 s.
        assert_eq!(nc(15_000, 29_999), None);
        assert_eq!(
            nc(15_000, 30_000),
            Some(Action::TransitionNoncurrent {
                class: StorageClass::Archive,
                rule: "nc".into()
            })
        );
        assert_eq!(
            nc(15_000, 50_000),
            Some(Action::ExpireNoncurrent { rule: "nc".into() })
        );
        // The current object itself is untouched by noncurrent rules.
        assert_eq!(
            action_for(&rs, "k", Subject::Current(&v), 1_000_000, &c),
            None
        );
        // Delete markers: only a lone latest one goes.
        let mut m = crate::storage::versions::delete_marker("m".into());
        m.last_modified_ms = 0;
        let lone = |alone| action_for(&rs, "k", Subject::LatestMarker { marker: &m, alone }, 1, &c);
        assert_eq!(lone(true), Some(Action::RemoveMarker { rule: "nc".into() }));
        assert_eq!(lone(false), None);
        // A noncurrent marker expires like a version, never transitions.
        let ncm = |now| {
            action_for(
                &rs,
                "k",
                Subject::Noncurrent {
                    rec: &m,
                    since_ms: 0,
                },
                now,
                &c,
            )
        };
        assert_eq!(ncm(10_000), None);
        assert_eq!(
            ncm(30_000),
            Some(Action::ExpireNoncurrent { rule: "nc".into() })
        );
        // Uploads: 2 days after initiation; the tag-filtered rule never applies.
        assert_eq!(abort_due(&rs, "k", 5_000, 29_999, &c), None);
        assert_eq!(abort_due(&rs, "k", 5_000, 30_000, &c), Some("nc".into()));
    }
}
