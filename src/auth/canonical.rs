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

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX`; a stray `%` is kept literally. `+` becomes a space only
/// when `plus_is_space`.
pub fn percent_decode_bytes(raw: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex_val(raw[i + 1]), hex_val(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    out
}

/// Decodes a raw request path (cos.md §1.4): `%XX` including `%2F` → `/`,
/// `+` literal, no normalisation. Invalid UTF-8 after decoding → `Err`.
#[allow(clippy::result_unit_err)]
pub fn decode_path(raw: &str) -> Result<String, ()> {
    if !raw.as_bytes().contains(&b'%') {
        return Ok(raw.to_owned());
    }
    String::from_utf8(percent_decode_bytes(raw.as_bytes(), false)).map_err(|_| ())
}

/// Decodes a raw query string (cos.md §1.5) into pairs in request order:
/// split on `&` (empty pieces skipped), then on the first `=` (a bare name
/// gets an empty value), then `+` → space, then `%XX`. Invalid UTF-8 in a
/// name or value → `Err`.
#[allow(clippy::result_unit_err)]
pub fn decode_query(raw: &str) -> Result<Vec<(String, String)>, ()> {
    let decode = |s: &str| -> Result<String, ()> {
        if !s.as_bytes().iter().any(|&b| b == b'%' || b == b'+') {
            return Ok(s.to_owned());
        }
        String::from_utf8(percent_decode_bytes(s.as_bytes(), true)).map_err(|_| ())
    };
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
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

    #[test]
    fn decode_path_table() {
        let ok: &[(&str, &str)] = &[
            ("/", "/"),
            ("/exampleobject", "/exampleobject"),
            (
                "/dir/sub%20dir/file%20name.txt",
                "/dir/sub dir/file name.txt",
            ),
            (
                "/dir%2Fsub%20dir%2Ffile%20name.txt",
                "/dir/sub dir/file name.txt",
            ),
            ("/dir%2fa", "/dir/a"),
            ("/a+b", "/a+b"),
            ("/a%2Bb%25c%3Dd%26e%3Bf%2Cg.txt", "/a+b%c=d&e;f,g.txt"),
            ("/a/.%2Fb/..%2Fc.txt", "/a/./b/../c.txt"),
            ("/a//b///c.txt", "/a//b///c.txt"),
            (
                "/exampleobject(%E8%85%BE%E8%AE%AF%E4%BA%91)",
                "/exampleobject(腾讯云)",
            ),
            ("/%F0%9F%98%80", "/😀"),
            ("/raw-中", "/raw-中"),
            // A stray `%` is kept literally.
            ("/100%", "/100%"),
            ("/100%2", "/100%2"),
            ("/a%zzb", "/a%zzb"),
            ("/a%%41", "/a%A"),
        ];
        for (raw, want) in ok {
            assert_eq!(
                decode_path(raw).as_deref(),
                Ok(*want),
                "decode_path({raw:?})"
            );
        }
        // Invalid UTF-8 after decoding.
        for raw in ["/%FF", "/%E4%B8", "/%C0%AF", "/a%80"] {
            assert_eq!(decode_path(raw), Err(()), "decode_path({raw:?})");
        }
    }

    #[test]
    fn decode_query_table() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("uploads", &[("uploads", "")]),
            ("uploads=", &[("uploads", "")]),
            ("a=1&&b=2&", &[("a", "1"), ("b", "2")]),
            ("a=1&a=2", &[("a", "1"), ("a", "2")]),
            ("x=a=b", &[("x", "a=b")]),
            (
                "prefix=%E4%B8%AD%E6%96%87+%E7%9B%AE%E5%BD%95%2F",
                &[("prefix", "中文 目录/")],
            ),
            ("v=a+b%2Bc%20d", &[("v", "a b+c d")]),
            ("q-sign-time=1%3B2", &[("q-sign-time", "1;2")]),
            ("q-sign-time=1%3b2", &[("q-sign-time", "1;2")]),
            ("q-sign-time=1;2", &[("q-sign-time", "1;2")]),
            ("a%20b=c", &[("a b", "c")]),
            (
                "versionId=MTg0NDUxNTc1NjIzMTQ1MDAwODg",
                &[("versionId", "MTg0NDUxNTc1NjIzMTQ1MDAwODg")],
            ),
            ("p=100%", &[("p", "100%")]),
            ("p=%zz", &[("p", "%zz")]),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_query(raw), Ok(pairs(want)), "decode_query({raw:?})");
        }
        for raw in ["a=%FF", "%FE=1", "a=%E4%B8"] {
            assert_eq!(decode_query(raw), Err(()), "decode_query({raw:?})");
        }
    }
}
