//! TEMPORARY stand-in until the evaluator branch lands.
use http::{HeaderMap, Method};
use std::ops::Range;
use std::time::SystemTime;
pub enum ByteRange {
    FromTo(u64, u64),
    From(u64),
    Suffix(u64),
}
pub enum RangeHeader {
    Single(ByteRange),
    Ignored,
}
pub struct Unsatisfiable;
impl ByteRange {
    pub fn parse(v: &str) -> RangeHeader {
        let Some(spec) = v.trim().strip_prefix("bytes=") else {
            return RangeHeader::Ignored;
        };
        let Some((a, b)) = spec.split_once('-') else {
            return RangeHeader::Ignored;
        };
        match (a.trim().parse::<u64>().ok(), b.trim().parse::<u64>().ok()) {
            (Some(a), Some(b)) if a <= b => RangeHeader::Single(ByteRange::FromTo(a, b)),
            (Some(a), None) if b.trim().is_empty() => RangeHeader::Single(ByteRange::From(a)),
            (None, Some(n)) if a.trim().is_empty() => RangeHeader::Single(ByteRange::Suffix(n)),
            _ => RangeHeader::Ignored,
        }
    }
    pub fn resolve(&self, len: u64) -> Result<Range<u64>, Unsatisfiable> {
        match *self {
            ByteRange::FromTo(a, b) if a < len => Ok(a..(b + 1).min(len)),
            ByteRange::From(a) if a < len => Ok(a..len),
            ByteRange::Suffix(n) if n > 0 && len > 0 => Ok(len.saturating_sub(n)..len),
            _ => Err(Unsatisfiable),
        }
    }
}
#[derive(Default)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}
impl Conditions {
    pub fn from_headers(h: &HeaderMap) -> Self {
        Conditions {
            if_match: h
                .get("if-match")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            if_none_match: h
                .get("if-none-match")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }
    pub fn from_copy_source_headers(_h: &HeaderMap) -> Self {
        Conditions::default()
    }
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }
}
pub struct Validators<'a> {
    pub etag: &'a str,
    pub last_modified: SystemTime,
}
pub enum Decision {
    Proceed,
    NotModified,
    PreconditionFailed,
}
pub fn evaluate(_m: &Method, c: &Conditions, v: &Validators<'_>) -> Decision {
    if let Some(m) = &c.if_match {
        if m.trim_matches('"') != v.etag && m != "*" {
            return Decision::PreconditionFailed;
        }
    }
    if let Some(m) = &c.if_none_match {
        if m.trim_matches('"') == v.etag || m == "*" {
            return Decision::NotModified;
        }
    }
    Decision::Proceed
}
