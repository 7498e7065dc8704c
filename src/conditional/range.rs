//! The `Range` request header for GET Object: one byte range, resolved against the object length
//! (RFC 9110 §14.1.1 <https://www.rfc-editor.org/rfc/rfc9110#section-14.1.1>, §14.2;
//! COS GET Object <https://cloud.tencent.com/document/product/436/7753>; cos.md §4.4 step 5).
//!
//! COS documents single ranges only. Anything else — several ranges, another unit, a malformed
//! value — is [`RangeHeader::Ignored`] and the whole object is served with 200 [REC]; RFC 9110
//! §14.2 allows a server to ignore `Range`.

use std::fmt;
use std::ops::Range;

use http::HeaderMap;

/// One `range-spec` of `Range: bytes=…`. Inclusive positions, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` (`a <= b`)
    FromTo(u64, u64),
    /// `bytes=a-`
    From(u64),
    /// `bytes=-n`: the last `n` bytes
    Suffix(u64),
}

/// What the `Range` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeHeader {
    Single(ByteRange),
    /// Multi-range, malformed, non-`bytes` unit: serve the full object with 200.
    Ignored,
}

/// The range does not overlap the object: 416 `InvalidRange` with `Content-Range: bytes */len`
/// (see [`unsatisfied_content_range`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

impl fmt::Display for Unsatisfiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the requested range is not satisfiable")
    }
}

impl std::error::Error for Unsatisfiable {}

impl RangeHeader {
    /// Reads `Range` from request headers; `None` when it is absent. Several `Range` lines form a
    /// list (RFC 9110 §5.3), i.e. a multi-range request, so they are `Ignored`, as is a value
    /// that is not visible ASCII.
    pub fn from_headers(h: &HeaderMap) -> Option<Self> {
        let mut lines = h.get_all(http::header::RANGE).iter();
        let first = lines.next()?;
        if lines.next().is_some() {
            return Some(RangeHeader::Ignored);
        }
        Some(match first.to_str() {
            Ok(value) => ByteRange::parse(value),
            Err(_) => RangeHeader::Ignored,
        })
    }

    /// The range to serve, if any.
    pub fn single(self) -> Option<ByteRange> {
        match self {
            RangeHeader::Single(r) => Some(r),
            RangeHeader::Ignored => None,
        }
    }
}

impl ByteRange {
    /// Parses a `Range` value. The unit is case-insensitive (RFC 9110 §14.1); optional
    /// whitespace is accepted around `=`, `-` and the list commas, and empty list elements are
    /// skipped (`bytes=0-9,` is one range, RFC 9110 §5.6.1.2).
    pub fn parse(value: &str) -> RangeHeader {
        match Self::parse_single(value) {
            Some(r) => RangeHeader::Single(r),
            None => RangeHeader::Ignored,
        }
    }

    fn parse_single(value: &str) -> Option<ByteRange> {
        let (unit, set) = value.split_once('=')?;
        if !ows_trim(unit).eq_ignore_ascii_case("bytes") {
            return None;
        }
        let mut specs = set.split(',').map(ows_trim).filter(|s| !s.is_empty());
        let spec = specs.next()?;
        if specs.next().is_some() {
            // Multi-range: COS documents single ranges only; serve the whole object [REC].
            return None;
        }
        let (first, last) = spec.split_once('-')?;
        match (ows_trim(first), ows_trim(last)) {
            ("", "") => None,
            // suffix-range = "-" suffix-length
            ("", n) => Some(ByteRange::Suffix(digits(n)?)),
            // int-range with the last-pos omitted
            (a, "") => Some(ByteRange::From(digits(a)?)),
            // int-range; "last-pos < first-pos" makes the range-spec invalid (RFC 9110 §14.1.1)
            (a, b) => {
                let (a, b) = (digits(a)?, digits(b)?);
                (a <= b).then_some(ByteRange::FromTo(a, b))
            }
        }
    }

    /// The bytes to send, `start..end` with `end` exclusive, clamped to `len`.
    ///
    /// An `Ok` range is never empty (`start < end <= len`). Everything that would be empty is
    /// `Unsatisfiable`: a start at or past `len`, `bytes=-0`, and any range on an empty object —
    /// including a suffix range, which RFC 9110 would call satisfiable, but a 206 for zero bytes
    /// has no valid `Content-Range`, so 416 `bytes */0` is the honest answer [REC].
    pub fn resolve(&self, len: u64) -> Result<Range<u64>, Unsatisfiable> {
        let range = match *self {
            // A last-pos past the end is clamped (cos.md §4.4 step 5).
            ByteRange::FromTo(first, last) => first..last.saturating_add(1).min(len),
            ByteRange::From(first) => first..len,
            // A suffix longer than the object selects the whole object (RFC 9110 §14.1.1).
            ByteRange::Suffix(n) => len.saturating_sub(n)..len,
        };
        if range.start < range.end {
            Ok(range)
        } else {
            Err(Unsatisfiable)
        }
    }
}

/// `Content-Range` for a 206: `bytes first-last/len`, from a range returned by
/// [`ByteRange::resolve`] (non-empty, end exclusive).
pub fn content_range(range: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{}", range.start, range.end - 1, len)
}

/// `Content-Range` for a 416: `bytes */len`.
pub fn unsatisfied_content_range(len: u64) -> String {
    format!("bytes */{len}")
}

fn ows_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// 1*DIGIT as u64; `None` on anything else (`+5`, empty) and on overflow.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::ByteRange::{From, FromTo, Suffix};
    use super::RangeHeader::{Ignored, Single};
    use super::*;

    #[test]
    fn parse_table() {
        #[rustfmt::skip]
        let table: &[(&str, RangeHeader)] = &[
            ("bytes=0-0",                     Single(FromTo(0, 0))),
            ("bytes=0-9",                     Single(FromTo(0, 9))),
            ("bytes=5-9",                     Single(FromTo(5, 9))),
            ("bytes=-10",                     Single(Suffix(10))),
            ("bytes=10-",                     Single(From(10))),
            ("bytes=0-",                      Single(From(0))),
            ("bytes=-0",                      Single(Suffix(0))),
            ("bytes=007-010",                 Single(FromTo(7, 10))),
            ("Bytes=0-9",                     Single(FromTo(0, 9))),
            ("BYTES=0-9",                     Single(FromTo(0, 9))),
            // whitespace variants
            (" bytes=0-9 ",                   Single(FromTo(0, 9))),
            ("bytes = 0-9",                   Single(FromTo(0, 9))),
            ("bytes= 0 - 9",                  Single(FromTo(0, 9))),
            ("bytes=\t-5",                    Single(Suffix(5))),
            ("bytes=0-9,",                    Single(FromTo(0, 9))),
            ("bytes=, 0-9 ,",                 Single(FromTo(0, 9))),
            // invalid or unsupported: ignored, full 200
            ("bytes=9-5",                     Ignored),
            ("bytes=0-1,3-4",                 Ignored),
            ("bytes=0-1, -2",                 Ignored),
            ("items=0-1",                     Ignored),
            ("bytes 0-1",                     Ignored),
            ("0-1",                           Ignored),
            ("bytes=",                        Ignored),
            ("bytes=-",                       Ignored),
            ("bytes=abc",                     Ignored),
            ("bytes=a-b",                     Ignored),
            ("bytes=1-2-3",                   Ignored),
            ("bytes=--5",                     Ignored),
            ("bytes=+1-2",                    Ignored),
            ("bytes=0x10-20",                 Ignored),
            ("bytes=1.5-2",                   Ignored),
            ("bytes=0-9;x",                   Ignored),
            ("",                              Ignored),
            // u64::MAX itself parses; one more overflows
            ("bytes=18446744073709551615-",   Single(From(u64::MAX))),
            ("bytes=18446744073709551616-",   Ignored),
            ("bytes=0-18446744073709551616",  Ignored),
            ("bytes=-99999999999999999999999",Ignored),
        ];
        for (input, want) in table {
            assert_eq!(ByteRange::parse(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn resolve_table() {
        #[rustfmt::skip]
        let table: &[(ByteRange, u64, Result<Range<u64>, Unsatisfiable>)] = &[
            (FromTo(0, 0),       16, Ok(0..1)),
            (FromTo(0, 9),       16, Ok(0..10)),
            (FromTo(5, 9),       16, Ok(5..10)),
            (FromTo(8, 14),      16, Ok(8..15)),
            (FromTo(0, 15),      16, Ok(0..16)),
            (FromTo(10, 100),    16, Ok(10..16)),
            (FromTo(15, 15),     16, Ok(15..16)),
            (FromTo(0, u64::MAX),16, Ok(0..16)),
            (FromTo(16, 20),     16, Err(Unsatisfiable)),
            (FromTo(100, 200),   16, Err(Unsatisfiable)),
            (From(0),            16, Ok(0..16)),
            (From(10),           16, Ok(10..16)),
            (From(15),           16, Ok(15..16)),
            (From(16),           16, Err(Unsatisfiable)),
            (From(u64::MAX),     16, Err(Unsatisfiable)),
            (Suffix(5),          16, Ok(11..16)),
            (Suffix(1),          16, Ok(15..16)),
            (Suffix(16),         16, Ok(0..16)),
            (Suffix(100),        16, Ok(0..16)),
            (Suffix(u64::MAX),   16, Ok(0..16)),
            (Suffix(0),          16, Err(Unsatisfiable)),
            // empty object: nothing is satisfiable
            (FromTo(0, 0),       0,  Err(Unsatisfiable)),
            (From(0),            0,  Err(Unsatisfiable)),
            (Suffix(5),          0,  Err(Unsatisfiable)),
            (Suffix(0),          0,  Err(Unsatisfiable)),
        ];
        for (range, len, want) in table {
            assert_eq!(range.resolve(*len), *want, "{range:?} on len {len}");
        }
    }

    #[test]
    fn parse_then_resolve_spec_examples() {
        // cos.md §4.4 seed sample: bytes=8-14 on the 16-byte "[Object Content]".
        let r = ByteRange::parse("bytes=8-14").single().unwrap();
        let resolved = r.resolve(16).unwrap();
        assert_eq!(
            &b"[Object Content]"[resolved.start as usize..resolved.end as usize],
            b"Content"
        );
        assert_eq!(content_range(&resolved, 16), "bytes 8-14/16");
        assert_eq!(unsatisfied_content_range(16), "bytes */16");
        let zero = ByteRange::parse("bytes=0-").single().unwrap();
        assert_eq!(zero.resolve(0), Err(Unsatisfiable));
        assert_eq!(unsatisfied_content_range(0), "bytes */0");
    }

    #[test]
    fn from_headers() {
        use http::header::RANGE;
        use http::HeaderValue;
        let mut h = HeaderMap::new();
        assert_eq!(RangeHeader::from_headers(&h), None);
        h.insert(RANGE, HeaderValue::from_static("bytes=0-4"));
        assert_eq!(RangeHeader::from_headers(&h), Some(Single(FromTo(0, 4))));
        h.append(RANGE, HeaderValue::from_static("bytes=6-7"));
        assert_eq!(RangeHeader::from_headers(&h), Some(Ignored));
        h.insert(RANGE, HeaderValue::from_bytes(b"bytes=\xff-1").unwrap());
        assert_eq!(RangeHeader::from_headers(&h), Some(Ignored));
    }
}
