//! Storage classes and archive restore (spec cos.md §6, §6A.8):
//! https://cloud.tencent.com/document/product/436/12633 (POST Object restore),
//! /7745 (HEAD: `x-cos-restore`, `x-cos-restore-status`).
//!
//! Pure: the restore phase is computed from the stored times and `now`, so
//! no background job moves objects between states and tests replay any
//! moment. A restore takes [`RestoreTiming::restore`] (short by default, so
//! tests can watch it), and the readable copy lasts `Days` × [`RestoreTiming::day`].

use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::storage::{ObjectRecord, RestoreRecord};

/// The storage classes COS knows (case-sensitive, §6A.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    Standard,
    StandardIa,
    IntelligentTiering,
    Archive,
    DeepArchive,
    MazStandard,
    MazStandardIa,
    MazIntelligentTiering,
}

impl StorageClass {
    pub const ALL: [StorageClass; 8] = [
        StorageClass::Standard,
        StorageClass::StandardIa,
        StorageClass::IntelligentTiering,
        StorageClass::Archive,
        StorageClass::DeepArchive,
        StorageClass::MazStandard,
        StorageClass::MazStandardIa,
        StorageClass::MazIntelligentTiering,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::Archive => "ARCHIVE",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
            StorageClass::MazStandard => "MAZ_STANDARD",
            StorageClass::MazStandardIa => "MAZ_STANDARD_IA",
            StorageClass::MazIntelligentTiering => "MAZ_INTELLIGENT_TIERING",
        }
    }

    /// A class name as sent in `x-cos-storage-class` (PUT, Copy, Initiate
    /// Multipart Upload); anything else → 400 InvalidArgument.
    pub fn parse(s: &str) -> Result<StorageClass> {
        StorageClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                Error::with_message(
                    ErrorCode::InvalidArgument,
                    format!("The storage class `{s}` is not valid."),
                )
            })
    }

    /// The class of a stored record (unknown stored text counts as STANDARD).
    pub fn of(rec: &ObjectRecord) -> StorageClass {
        StorageClass::parse(&rec.storage_class).unwrap_or(StorageClass::Standard)
    }

    /// Objects whose bytes need a restore before GET.
    pub fn is_archive(self) -> bool {
        matches!(self, StorageClass::Archive | StorageClass::DeepArchive)
    }

    /// `x-cos-storage-tier` for intelligent tiering (new objects start in the
    /// frequent tier; localcos never moves them).
    pub fn tier_header(self) -> Option<&'static str> {
        match self {
            StorageClass::IntelligentTiering | StorageClass::MazIntelligentTiering => {
                Some("FREQUENT")
            }
            _ => None,
        }
    }
}

/// A restore tier (`<CASJobParameters><Tier>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Expedited,
    Standard,
    Bulk,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Expedited => "Expedited",
            Tier::Standard => "Standard",
            Tier::Bulk => "Bulk",
        }
    }

    /// `Expedited`, `Standard` or `Bulk` (case-insensitive, as the SDK docs
    /// vary); anything else → 400 InvalidArgument.
    pub fn parse(s: &str) -> Result<Tier> {
        [Tier::Expedited, Tier::Standard, Tier::Bulk]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::with_message(
                    ErrorCode::InvalidArgument,
                    format!("The restore tier `{s}` is not valid: Expedited, Standard or Bulk."),
                )
            })
    }
}

/// How long restores take and how long a "day" of `Days` lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreTiming {
    /// From `POST ?restore` to a readable copy (every tier alike).
    pub restore: Duration,
    /// One day of the request's `Days` (86400 s; tests set a few seconds).
    pub day: Duration,
}

impl Default for RestoreTiming {
    fn default() -> Self {
        RestoreTiming {
            restore: Duration::from_secs(2),
            day: Duration::from_secs(86_400),
        }
    }
}

/// Where an object's restore stands at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase<'a> {
    /// Never restored, or the restored copy expired.
    Cold,
    /// Requested, not readable yet.
    Ongoing(&'a RestoreRecord),
    /// Readable until `expires_ms`.
    Restored(&'a RestoreRecord),
}

/// The restore phase of `rec` at `now_ms`.
pub fn phase(rec: &ObjectRecord, now_ms: i64) -> Phase<'_> {
    match &rec.restore {
        None => Phase::Cold,
        Some(r) if now_ms < r.ready_ms => Phase::Ongoing(r),
        Some(r) if now_ms < r.expires_ms => Phase::Restored(r),
        Some(_) => Phase::Cold,
    }
}

/// GET and Copy (§4.4 step 2): an ARCHIVE/DEEP_ARCHIVE object without a live
/// restored copy → 403 InvalidObjectState carrying `x-cos-storage-class`.
pub fn check_readable(rec: &ObjectRecord, now_ms: i64) -> Result<()> {
    let class = StorageClass::of(rec);
    if !class.is_archive() || matches!(phase(rec, now_ms), Phase::Restored(_)) {
        return Ok(());
    }
    Err(Error::with_message(
        ErrorCode::InvalidObjectState,
        "The operation is not valid for the object's storage class.",
    )
    .header(
        "x-cos-storage-class",
        http::HeaderValue::from_static(class.as_str()),
    ))
}

fn http_date_ms(ms: i64) -> String {
    httpdate::fmt_http_date(
        std::time::SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64),
    )
}

/// The class and restore headers of an object response (GET/HEAD, 436/7745):
/// `x-cos-storage-tier` for intelligent tiering; while a restore runs
/// `x-cos-restore: ongoing-request="true"` (exactly: cos-nodejs-sdk-v5
/// compares the string) and `x-cos-restore-status`; once done
/// `x-cos-restore: ongoing-request="false", expiry-date="<RFC 1123>"`.
/// (`x-cos-storage-class` itself is rendered with the other stored headers.)
pub fn response_headers(rec: &ObjectRecord, now_ms: i64) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let class = StorageClass::of(rec);
    if let Some(tier) = class.tier_header() {
        out.push(("x-cos-storage-tier", tier.to_string()));
    }
    match phase(rec, now_ms) {
        Phase::Cold => {}
        Phase::Ongoing(r) => {
            out.push(("x-cos-restore", "ongoing-request=\"true\"".to_string()));
            out.push((
                "x-cos-restore-status",
                format!(
                    "tier=\"{}\"; request-date=\"{}\"",
                    r.tier.to_ascii_lowercase(),
                    http_date_ms(r.requested_ms)
                ),
            ));
        }
        Phase::Restored(r) => out.push((
            "x-cos-restore",
            format!(
                "ongoing-request=\"false\", expiry-date=\"{}\"",
                http_date_ms(r.expires_ms)
            ),
        )),
    }
    out
}

/// What a restore request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// A new restore started: 202 Accepted.
    Started(RestoreRecord),
    /// The copy was already readable; its expiry moved: 200 OK.
    Extended(RestoreRecord),
}

impl RestoreOutcome {
    pub fn record(&self) -> &RestoreRecord {
        match self {
            RestoreOutcome::Started(r) | RestoreOutcome::Extended(r) => r,
        }
    }
}

/// Expiry times are whole seconds, so the RFC 1123 `expiry-date` is exact.
fn whole_second(ms: i64) -> i64 {
    ms.saturating_add(999) / 1000 * 1000
}

fn days_ms(days: u32, timing: &RestoreTiming) -> i64 {
    i64::try_from(timing.day.as_millis().saturating_mul(u128::from(days))).unwrap_or(i64::MAX)
}

/// Decides `POST ?restore` on `rec` at `now_ms` (§6A.8):
/// - not ARCHIVE/DEEP_ARCHIVE → 405 RestoreNonArchiveObject;
/// - `Expedited` on DEEP_ARCHIVE → 400 InvalidArgument;
/// - a restore running → 409 RestoreAlreadyInProgress;
/// - already restored → extended: expires `days` from now (never earlier);
/// - otherwise started: ready after `timing.restore`, then `days` long.
pub fn request_restore(
    rec: &ObjectRecord,
    now_ms: i64,
    days: u32,
    tier: Tier,
    timing: &RestoreTiming,
) -> Result<RestoreOutcome> {
    let class = StorageClass::of(rec);
    if !class.is_archive() {
        return Err(Error::new(ErrorCode::RestoreNonArchiveObject));
    }
    if class == StorageClass::DeepArchive && tier == Tier::Expedited {
        return Err(Error::with_message(
            ErrorCode::InvalidArgument,
            "DEEP_ARCHIVE objects restore with the Standard or Bulk tier.",
        ));
    }
    match phase(rec, now_ms) {
        Phase::Ongoing(_) => Err(Error::new(ErrorCode::RestoreAlreadyInProgress)),
        Phase::Restored(r) => Ok(RestoreOutcome::Extended(RestoreRecord {
            expires_ms: r
                .expires_ms
                .max(whole_second(now_ms.saturating_add(days_ms(days, timing)))),
            ..r.clone()
        })),
        Phase::Cold => {
            let ready_ms =
                now_ms.saturating_add(i64::try_from(timing.restore.as_millis()).unwrap_or(0));
            Ok(RestoreOutcome::Started(RestoreRecord {
                requested_ms: now_ms,
                ready_ms,
                expires_ms: whole_second(ready_ms.saturating_add(days_ms(days, timing))),
                tier: tier.as_str().to_string(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(class: &str) -> ObjectRecord {
        ObjectRecord {
            size: 1,
            etag: "e".into(),
            crc64: 0,
            last_modified_ms: 0,
            headers: Default::default(),
            storage_class: class.into(),
            segments: vec![],
            restore: None,
            version_id: None,
            delete_marker: false,
            acl: None,
            tags: Vec::new(),
            appendable: false,
            retain_until_ms: None,
            symlink_target: None,
            replication_status: None,
            corrupt: None,
            checksum: None,
            sse: None,
        }
    }

    #[test]
    fn class_table() {
        for c in StorageClass::ALL {
            assert_eq!(StorageClass::parse(c.as_str()).unwrap(), c);
        }
        for bad in ["standard", "GLACIER", "", "ARCHIVE ", "COLD"] {
            let e = StorageClass::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad:?}");
        }
        let archive: Vec<_> = StorageClass::ALL
            .into_iter()
            .filter(|c| c.is_archive())
            .collect();
        assert_eq!(
            archive,
            [StorageClass::Archive, StorageClass::DeepArchive],
            "only these need a restore"
        );
        assert_eq!(
            StorageClass::IntelligentTiering.tier_header(),
            Some("FREQUENT")
        );
        assert_eq!(StorageClass::StandardIa.tier_header(), None);
    }

    #[test]
    fn tier_table() {
        for (text, want) in [
            ("Expedited", Some(Tier::Expedited)),
            ("Standard", Some(Tier::Standard)),
            ("bulk", Some(Tier::Bulk)),
            ("Fast", None),
            ("", None),
        ] {
            assert_eq!(Tier::parse(text).ok(), want, "{text:?}");
        }
    }

    /// The state machine on a fake clock: cold → ongoing → restored → cold.
    #[test]
    fn restore_state_machine() {
        let timing = RestoreTiming {
            restore: Duration::from_secs(2),
            day: Duration::from_secs(10),
        };
        let mut r = rec("ARCHIVE");
        let t0 = 1_000_000;
        assert_eq!(phase(&r, t0), Phase::Cold);
        assert_eq!(
            check_readable(&r, t0).unwrap_err().code,
            ErrorCode::InvalidObjectState
        );
        assert!(response_headers(&r, t0).is_empty());

        let started = request_restore(&r, t0, 3, Tier::Standard, &timing).unwrap();
        let RestoreOutcome::Started(s) = &started else {
            panic!("{started:?}")
        };
        assert_eq!((s.ready_ms, s.expires_ms), (t0 + 2_000, t0 + 32_000));
        r.restore = Some(s.clone());

        // Ongoing: GET refused, a second restore refused, headers say so.
        let t1 = t0 + 1_999;
        assert!(matches!(phase(&r, t1), Phase::Ongoing(_)));
        assert_eq!(
            check_readable(&r, t1).unwrap_err().code,
            ErrorCode::InvalidObjectState
        );
        assert_eq!(
            request_restore(&r, t1, 1, Tier::Bulk, &timing)
                .unwrap_err()
                .code,
            ErrorCode::RestoreAlreadyInProgress
        );
        let h = response_headers(&r, t1);
        assert_eq!(h[0], ("x-cos-restore", "ongoing-request=\"true\"".into()));
        assert_eq!(h[1].0, "x-cos-restore-status");
        assert!(h[1].1.starts_with("tier=\"standard\"; request-date=\""));

        // Restored: readable, expiry announced, a new request extends.
        let t2 = t0 + 2_000;
        assert!(matches!(phase(&r, t2), Phase::Restored(_)));
        check_readable(&r, t2).unwrap();
        let h = response_headers(&r, t2);
        assert_eq!(
            h,
            vec![(
                "x-cos-restore",
                format!(
                    "ongoing-request=\"false\", expiry-date=\"{}\"",
                    http_date_ms(t0 + 32_000)
                )
            )]
        );
        let ext = request_restore(&r, t2 + 25_000, 1, Tier::Standard, &timing).unwrap();
        assert_eq!(
            ext,
            RestoreOutcome::Extended(RestoreRecord {
                expires_ms: t2 + 35_000,
                ..s.clone()
            })
        );
        // A shorter request never shortens the copy's life.
        let RestoreOutcome::Extended(same) =
            request_restore(&r, t2, 1, Tier::Standard, &timing).unwrap()
        else {
            panic!()
        };
        assert_eq!(same.expires_ms, t0 + 32_000);

        // Expired: cold again, and a new restore starts over.
        let t3 = t0 + 32_000;
        assert_eq!(phase(&r, t3), Phase::Cold);
        assert!(check_readable(&r, t3).is_err());
        assert!(matches!(
            request_restore(&r, t3, 1, Tier::Expedited, &timing).unwrap(),
            RestoreOutcome::Started(_)
        ));
    }

    #[test]
    fn restore_refusals() {
        let timing = RestoreTiming::default();
        for class in [
            "STANDARD",
            "STANDARD_IA",
            "INTELLIGENT_TIERING",
            "MAZ_STANDARD",
        ] {
            assert_eq!(
                request_restore(&rec(class), 0, 1, Tier::Standard, &timing)
                    .unwrap_err()
                    .code,
                ErrorCode::RestoreNonArchiveObject,
                "{class}"
            );
            check_readable(&rec(class), 0).unwrap();
        }
        assert_eq!(
            request_restore(&rec("DEEP_ARCHIVE"), 0, 1, Tier::Expedited, &timing)
                .unwrap_err()
                .code,
            ErrorCode::InvalidArgument
        );
        assert!(request_restore(&rec("DEEP_ARCHIVE"), 0, 1, Tier::Bulk, &timing).is_ok());
        let e = check_readable(&rec("DEEP_ARCHIVE"), 0).unwrap_err();
        assert_eq!(e.headers[0].0, "x-cos-storage-class");
        assert_eq!(e.headers[0].1, "DEEP_ARCHIVE");
        // Expiry is a whole second (the header has no milliseconds).
        let odd = request_restore(&rec("ARCHIVE"), 1_234, 1, Tier::Bulk, &timing).unwrap();
        assert_eq!(odd.record().expires_ms, 86_404_000);
        // Huge Days saturate instead of overflowing.
        let far = request_restore(&rec("ARCHIVE"), 0, u32::MAX, Tier::Bulk, &timing).unwrap();
        assert!(far.record().expires_ms > 0);
    }
}
