//! Request-target decoding: the path (`%XX` decoded, `%2F` is a slash, `+` is
//! a plus, never normalised) and the query (ordered pairs, `+` is a space),
//! spec cos.md §1.4–1.5.

/// The decoded bytes are not UTF-8 (→ 400 InvalidURI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidEncoding;

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
pub fn decode_path(raw: &str) -> Result<String, InvalidEncoding> {
    if !raw.as_bytes().contains(&b'%') {
        return Ok(raw.to_owned());
    }
    String::from_utf8(percent_decode_bytes(raw.as_bytes(), false)).map_err(|_| InvalidEncoding)
}

/// Decodes a raw query string (cos.md §1.5) into pairs in request order:
/// split on `&` (empty pieces skipped), then on the first `=` (a bare name
/// gets an empty value), then `+` → space, then `%XX`. Invalid UTF-8 in a
/// name or value → `Err`.
pub fn decode_query(raw: &str) -> Result<Vec<(String, String)>, InvalidEncoding> {
    let decode = |s: &str| -> Result<String, InvalidEncoding> {
        if !s.as_bytes().iter().any(|&b| b == b'%' || b == b'+') {
            return Ok(s.to_owned());
        }
        String::from_utf8(percent_decode_bytes(s.as_bytes(), true)).map_err(|_| InvalidEncoding)
    };
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Ordered, decoded query pairs. A bare `?uploads` is `("uploads", "")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, InvalidEncoding> {
        Ok(Query {
            pairs: raw.map(decode_query).transpose()?.unwrap_or_default(),
        })
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Query {
        Query { pairs }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of `name` (exact, case-sensitive match as COS does).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(
                decode_path(raw),
                Err(InvalidEncoding),
                "decode_path({raw:?})"
            );
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
            assert_eq!(
                decode_query(raw),
                Err(InvalidEncoding),
                "decode_query({raw:?})"
            );
        }
    }

    #[test]
    fn query_pairs() {
        let q = Query::parse(Some("uploads&prefix=a+b&marker=&x=%2B")).unwrap();
        assert_eq!(q.get("uploads"), Some(""));
        assert_eq!(q.get("prefix"), Some("a b"));
        assert_eq!(q.get("marker"), Some(""));
        assert_eq!(q.get("x"), Some("+"));
        assert!(!q.has("max-keys"));
    }
}
