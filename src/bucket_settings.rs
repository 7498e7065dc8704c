//! Per-bucket settings from the configuration file (`[bucket_settings."<name>"]`):
//! an origin for back-to-origin redirects (`crate::origin`) and original
//! image protection (spec cos.md §6; https://cloud.tencent.com/document/product/460/18321).
//!
//! Original image protection: for keys with a protected suffix a plain GET is
//! refused (403 AccessDenied); `GET /<key>?ci-process=originImage` on a
//! signed request returns the original bytes; unsigned → 403 as well.

use crate::error::{Error, ErrorCode, Result};
use crate::http::query::Query;
use crate::origin::Origin;

/// The `ci-process` value that fetches a protected original.
pub const ORIGIN_IMAGE: &str = "originImage";

/// One bucket's settings, validated at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketSettings {
    /// Redirect GETs of missing keys here (302).
    pub origin: Option<Origin>,
    /// Protected image suffixes, lower case without the dot (`jpg`, `png`).
    pub protected_suffixes: Vec<String>,
}

/// Normalises a configured suffix (`.JPG` → `jpg`); `None` when it is not
/// 1–16 ASCII letters or digits.
pub fn clean_suffix(s: &str) -> Option<String> {
    let s = s.trim().trim_start_matches('.').to_ascii_lowercase();
    (!s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(s)
}

impl BucketSettings {
    /// Whether `key` is an image under original-image protection: its
    /// extension (after the last `.` of the last segment) is a protected suffix.
    pub fn protects(&self, key: &str) -> bool {
        if self.protected_suffixes.is_empty() {
            return false;
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        match name.rsplit_once('.') {
            Some((_, ext)) => self
                .protected_suffixes
                .iter()
                .any(|s| s.eq_ignore_ascii_case(ext)),
            None => false,
        }
    }

    /// The original-image rule for a GET of `key`: a protected key needs
    /// `ci-process=originImage` on a signed request.
    pub fn check_original_image(&self, key: &str, q: &Query, signed: bool) -> Result<()> {
        if !self.protects(key) {
            return Ok(());
        }
        if q.get("ci-process") == Some(ORIGIN_IMAGE) && signed {
            return Ok(());
        }
        Err(Error::with_message(
            ErrorCode::AccessDenied,
            "Access Denied. Original image protection is enabled for this object: fetch it with ci-process=originImage on a signed request.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_and_keys() {
        assert_eq!(clean_suffix(".JPG").as_deref(), Some("jpg"));
        assert_eq!(clean_suffix("webp").as_deref(), Some("webp"));
        for bad in ["", ".", "j/pg", "a b", "tar.gz"] {
            assert_eq!(clean_suffix(bad), None, "{bad:?}");
        }
        let s = BucketSettings {
            origin: None,
            protected_suffixes: vec!["jpg".into(), "png".into()],
        };
        for (key, want) in [
            ("a.jpg", true),
            ("dir/photo.JPG", true),
            ("x.tar.png", true),
            ("a.jpeg", false),
            ("jpg", false),
            ("dir.jpg/readme", false),
            ("a.jpg.txt", false),
        ] {
            assert_eq!(s.protects(key), want, "{key}");
        }
        assert!(!BucketSettings::default().protects("a.jpg"));
    }

    #[test]
    fn original_image_rule() {
        let s = BucketSettings {
            origin: None,
            protected_suffixes: vec!["png".into()],
        };
        let q = |t: &str| Query::parse(Some(t)).unwrap();
        let plain = q("");
        let origin = q("ci-process=originImage");
        let other = q("ci-process=imageInfo");
        assert!(s.check_original_image("a.txt", &plain, false).is_ok());
        assert!(s.check_original_image("a.png", &origin, true).is_ok());
        for (query, signed) in [
            (&plain, true),
            (&plain, false),
            (&origin, false),
            (&other, true),
        ] {
            let e = s.check_original_image("a.png", query, signed).unwrap_err();
            assert_eq!(e.code, ErrorCode::AccessDenied);
        }
    }
}
