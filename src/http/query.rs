//! Request-target decoding: the path (`%XX` decoded, `%2F` is a slash, `+` is
//! a plus, never normalised) and the query (ordered pairs, `+` is a space),
//! spec cos.md §1.4–1.5.

/// Decodes `%XX` sequences; with `plus_is_space`, `+` becomes a space first.
/// A `%` not followed by two hex digits is kept literally (as COS and most
/// servers do). `Err` if the decoded bytes are not UTF-8.
pub fn percent_decode(
    raw: &str,
    plus_is_space: bool,
) -> Result<String, std::string::FromUtf8Error> {
    let bytes = raw.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Ok(raw.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Ordered, decoded query pairs. A bare `?uploads` is `("uploads", "")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, std::string::FromUtf8Error> {
        let mut pairs = Vec::new();
        if let Some(raw) = raw {
            for part in raw.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                pairs.push((percent_decode(k, true)?, percent_decode(v, true)?));
            }
        }
        Ok(Query { pairs })
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
    fn decode_table() {
        let cases: &[(&str, bool, &str)] = &[
            ("/a%2Fb", false, "/a/b"),
            ("/a+b", false, "/a+b"),
            ("a+b", true, "a b"),
            ("%2B", true, "+"),
            ("/%E4%B8%AD", false, "/中"),
            ("100%", false, "100%"),
            ("%zz", false, "%zz"),
            ("%4", false, "%4"),
            ("%41%", false, "A%"),
            ("/a/./b/../c.txt", false, "/a/./b/../c.txt"),
        ];
        for (raw, plus, want) in cases {
            assert_eq!(percent_decode(raw, *plus).unwrap(), *want, "{raw}");
        }
        assert!(percent_decode("%FF", false).is_err());
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
