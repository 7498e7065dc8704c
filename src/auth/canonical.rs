//! Canonical encoding and request-target decoding shared by the signature
//! dialects; for COS see https://cloud.tencent.com/document/product/436/7778
//! (spec cos.md §1.3 "UrlEncode", §1.4 decoded UriPathname, §1.5 query decoding).
//!
//! Decoding rules, chosen to match what the three official SDKs send:
//!
//! * `%XX` (either hex case) becomes the byte `XX` everywhere, `%2F` included.
//! * A `%` that is not followed by two hex digits is kept literally (as most
//!   servers and the reference verifier `cosverify.py` do). No SDK sends one:
//!   they all escape `%` as `%25`, so this choice never changes a signature.
//! * In the path `+` is a plus sign; in the query `+` is a space (decoded
//!   before `%XX`, so `%2B` stays a plus sign).
//! * The decoded bytes must be UTF-8, otherwise the target is refused (`Err`).

use sha1::Digest;

/// Where canonical bytes go: straight into a hasher on the hot path, or into a
/// buffer when a test wants to see the intermediate strings.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for sha1::Sha1 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `A–Z a–z 0–9 - _ . ~`: the bytes the canonical encoding leaves alone.
#[inline]
pub fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Canonical encoding (cos.md §1.3): every byte of `bytes` except the
/// unreserved ones becomes `%XX` with upper-case hex; never `+` for a space.
pub fn encode_into<S: Sink + ?Sized>(out: &mut S, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !is_unreserved(b) {
            if start < i {
                out.put(&bytes[start..i]);
            }
            out.put(&[
                b'%',
                UPPER_HEX[usize::from(b >> 4)],
                UPPER_HEX[usize::from(b & 15)],
            ]);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.put(&bytes[start..]);
    }
}

/// Canonical encoding of `s` as a new string (see [`encode_into`]).
pub fn encode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    encode_into(&mut out, s.as_bytes());
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `bytes` ASCII-lower-cased, without allocating.
pub fn put_lower<S: Sink + ?Sized>(out: &mut S, bytes: &[u8]) {
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len()) {
        let buf = &mut buf[..chunk.len()];
        buf.copy_from_slice(chunk);
        buf.make_ascii_lowercase();
        out.put(buf);
    }
}

/// Whether the canonical encoding of `raw`, lower-cased, equals `listed`
/// (compared ASCII-case-insensitively). This is how a decoded query name is
/// matched against an entry of `q-url-param-list`, without allocating.
pub fn encoded_eq_ignore_case(raw: &[u8], listed: &[u8]) -> bool {
    let mut rest = listed;
    for &b in raw {
        if is_unreserved(b) {
            match rest.split_first() {
                Some((&l, tail)) if l.eq_ignore_ascii_case(&b) => rest = tail,
                _ => return false,
            }
        } else {
            let esc = [
                b'%',
                UPPER_HEX[usize::from(b >> 4)],
                UPPER_HEX[usize::from(b & 15)],
            ];
            match rest.split_at_checked(3) {
                Some((head, tail)) if head.eq_ignore_ascii_case(&esc) => rest = tail,
                _ => return false,
            }
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_table() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("abcXYZ019-_.~", "abcXYZ019-_.~"),
            ("a b", "a%20b"),
            ("a+b", "a%2Bb"),
            ("/dir/x", "%2Fdir%2Fx"),
            ("max-age=86400", "max-age%3D86400"),
            (
                "attachment; filename=\"a b+c.txt\"",
                "attachment%3B%20filename%3D%22a%20b%2Bc.txt%22",
            ),
            ("!'()*", "%21%27%28%29%2A"),
            ("中", "%E4%B8%AD"),
            ("😀", "%F0%9F%98%80"),
            ("7o3pGNBWQBRbGPcPTDqmAg==", "7o3pGNBWQBRbGPcPTDqmAg%3D%3D"),
        ];
        for (input, want) in cases {
            assert_eq!(encode(input), *want, "encode({input:?})");
        }
    }

    #[test]
    fn encoded_eq_ignore_case_table() {
        assert!(encoded_eq_ignore_case(b"versionId", b"versionid"));
        assert!(encoded_eq_ignore_case(b"uploadId", b"uploadId"));
        assert!(encoded_eq_ignore_case(b"a b", b"a%20b"));
        assert!(encoded_eq_ignore_case(b"a;b", b"a%3bb"));
        assert!(!encoded_eq_ignore_case(b"a b", b"a b"));
        assert!(!encoded_eq_ignore_case(b"prefix", b"prefi"));
        assert!(!encoded_eq_ignore_case(b"prefi", b"prefix"));
        assert!(!encoded_eq_ignore_case(b"a", b"a%2"));
        assert!(encoded_eq_ignore_case(b"", b""));
    }

    #[test]
    fn put_lower_long_input() {
        let name = "X-Cos-Meta-".repeat(20);
        let mut out = Vec::new();
        put_lower(&mut out, name.as_bytes());
        assert_eq!(out, name.to_ascii_lowercase().into_bytes());
    }
}

/// How a query parameter with an empty value is written in a canonical query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyValue {
    /// `name=` (AWS SigV4).
    NameEquals,
    /// `name` (OSS V4).
    BareName,
}

/// The canonical query of the V4 dialects: every parameter except `skip`
/// (the pre-signed signature, when given), names and values strictly
/// encoded, sorted by name then value, joined with `&`.
pub fn write_sorted_query(
    out: &mut Vec<u8>,
    query: &[(String, String)],
    skip: Option<&str>,
    empty: EmptyValue,
) {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(n, _)| Some(n.as_str()) != skip)
        .map(|(n, v)| (encode(n), encode(v)))
        .collect();
    pairs.sort_unstable();
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(n.as_bytes());
        if !(v.is_empty() && empty == EmptyValue::BareName) {
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
    }
}

/// `name:value\n` for each header in `names` (already sorted, lower case):
/// values trimmed, repeated headers joined with `,` (OSS V1 and V4).
pub fn write_trimmed_header_lines<'a>(
    out: &mut Vec<u8>,
    headers: &http::HeaderMap,
    names: impl IntoIterator<Item = &'a str>,
) {
    for name in names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, v) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(v.as_bytes().trim_ascii());
        }
        out.push(b'\n');
    }
}
