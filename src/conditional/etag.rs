//! Entity tags in request headers: `"tag"`, `W/"tag"`, `*` and comma lists, with the strong and
//! weak comparison functions of RFC 9110 §8.8.3.2
//! (<https://www.rfc-editor.org/rfc/rfc9110#section-8.8.3.2>), as used by COS GET/HEAD Object
//! (<https://cloud.tencent.com/document/product/436/7753>).
//!
//! Leniency, on top of the RFC grammar, because COS clients send both forms (cos.md §4.4):
//!
//! * an unquoted tag (`If-Match: 0123abcd`) is read as the strong tag `"0123abcd"`;
//! * `"*"` (quoted star) is read as `*`: stored ETags are hex, so the literal tag `*` could never
//!   match, and the sender meant "any";
//! * an unterminated quoted tag (`"abc`) is read up to the end of the field.
//!
//! The stored ETag is always strong (localcos never issues `W/`), so the comparison functions take
//! it as a plain `&str`, with or without quotes. A weak request tag still fails the *strong*
//! comparison (If-Match, If-Range), as RFC 9110 §13.1.1 requires; garage and MinIO behave the same
//! since they compare the `W/` prefix as part of the tag.

use http::header::GetAll;
use http::HeaderValue;

/// One entity tag from a request header; `tag` is the opaque-tag without its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    pub tag: Box<str>,
}

impl EntityTag {
    /// A strong tag, e.g. for tests and for values the server stored.
    pub fn strong(tag: &str) -> Self {
        EntityTag {
            weak: false,
            tag: tag.into(),
        }
    }

    /// A weak tag (`W/"tag"`).
    pub fn weak(tag: &str) -> Self {
        EntityTag {
            weak: true,
            tag: tag.into(),
        }
    }

    /// Parses one tag: `"x"`, `W/"x"`, or the unquoted `x` / `W/x`. Returns `None` for an empty
    /// value and for `*` (which is not a tag; see [`EtagList`]).
    pub fn parse(value: &str) -> Option<Self> {
        let mut out = None;
        match EtagList::parse(value) {
            EtagList::Tags(mut tags) if tags.len() == 1 => out = tags.pop(),
            EtagList::Any | EtagList::Tags(_) => {}
        }
        out
    }

    /// RFC 9110 §8.8.3.2 strong comparison: both tags strong and opaque-tags equal
    /// (byte for byte, case-sensitive).
    pub fn strong_eq(&self, stored: &str) -> bool {
        !self.weak && *self.tag == *unquote(stored)
    }

    /// RFC 9110 §8.8.3.2 weak comparison: opaque-tags equal, `W/` ignored on either side.
    pub fn weak_eq(&self, stored: &str) -> bool {
        *self.tag == *unquote(stored)
    }
}

/// The value of an `If-Match` / `If-None-Match` field: `*` or a list of tags
/// (RFC 9110 §13.1.1: `If-Match = "*" / #entity-tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagList {
    /// `*`: matches any current representation. The evaluator only runs for an object that
    /// exists, so `Any` always matches there.
    Any,
    /// Zero or more tags. An empty list (an empty field value) matches nothing.
    Tags(Vec<EntityTag>),
}

impl EtagList {
    /// Parses one field line. A `*` anywhere in the list makes the whole list `Any` (the grammar
    /// forbids mixing them; reading the mix as "any" is the lenient choice).
    pub fn parse(value: &str) -> Self {
        let mut tags = Vec::new();
        if parse_into(value, &mut tags) {
            EtagList::Any
        } else {
            EtagList::Tags(tags)
        }
    }

    /// Parses every line of a field (`get_all`); lines are one list (RFC 9110 §5.3).
    /// `None` when the field is absent.
    pub fn from_field_lines(lines: GetAll<'_, HeaderValue>) -> Option<Self> {
        let mut lines = lines.iter().peekable();
        lines.peek()?;
        let mut tags = Vec::new();
        let mut any = false;
        for line in lines {
            // Non-UTF-8 bytes (obs-text) are legal inside a tag; lossy decoding keeps the list
            // structure and such a tag can never equal a hex ETag anyway.
            any |= parse_into(&String::from_utf8_lossy(line.as_bytes()), &mut tags);
        }
        Some(if any {
            EtagList::Any
        } else {
            EtagList::Tags(tags)
        })
    }

    /// If-Match and If-Range semantics: `*`, or any listed tag strongly equal to `stored`.
    pub fn matches_strong(&self, stored: &str) -> bool {
        match self {
            EtagList::Any => true,
            EtagList::Tags(tags) => tags.iter().any(|t| t.strong_eq(stored)),
        }
    }

    /// If-None-Match semantics: `*`, or any listed tag weakly equal to `stored`.
    pub fn matches_weak(&self, stored: &str) -> bool {
        match self {
            EtagList::Any => true,
            EtagList::Tags(tags) => tags.iter().any(|t| t.weak_eq(stored)),
        }
    }
}

/// Strips one pair of surrounding quotes, if both are there.
fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

const OWS: [char; 2] = [' ', '\t'];

/// Appends the tags of one field line to `out`; returns true if the line contains `*`.
fn parse_into(value: &str, out: &mut Vec<EntityTag>) -> bool {
    let mut any = false;
    let mut rest = value;
    loop {
        // Empty list elements and OWS between them are allowed (RFC 9110 §5.6.1.2).
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return any;
        }
        let (weak, body) = match rest.strip_prefix("W/") {
            Some(body) => (true, body),
            None => (false, rest),
        };
        let tag;
        let quoted;
        if let Some(q) = body.strip_prefix('"') {
            quoted = true;
            match q.find('"') {
                Some(end) => (tag, rest) = (&q[..end], &q[end + 1..]),
                // Unterminated: take what is there rather than drop the condition.
                None => (tag, rest) = (q, ""),
            }
        } else {
            quoted = false;
            let end = body.find([',', ' ', '\t']).unwrap_or(body.len());
            (tag, rest) = (&body[..end], &body[end..]);
        }
        if !weak && tag == "*" {
            any = true;
        } else if !tag.is_empty() || quoted {
            // `""` is a real (empty) tag; a bare `W/` with nothing after it is dropped.
            out.push(EntityTag {
                weak,
                tag: tag.trim_matches(OWS).into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> EntityTag {
        EntityTag::strong(t)
    }
    fn w(t: &str) -> EntityTag {
        EntityTag::weak(t)
    }

    #[test]
    fn parse_list_table() {
        use EtagList::{Any, Tags};
        #[rustfmt::skip]
        let table: &[(&str, EtagList)] = &[
            (r#""abc""#,                 Tags(vec![s("abc")])),
            ("abc",                      Tags(vec![s("abc")])),
            (r#"W/"abc""#,               Tags(vec![w("abc")])),
            ("W/abc",                    Tags(vec![w("abc")])),
            ("*",                        Any),
            (r#""*""#,                   Any),
            (" * ",                      Any),
            (r#""a", *"#,                Any),
            (r#"W/"*""#,                 Tags(vec![w("*")])),
            (r#""a","b""#,               Tags(vec![s("a"), s("b")])),
            (r#""a" , W/"b",c"#,         Tags(vec![s("a"), w("b"), s("c")])),
            (r#", ,"a",,"#,              Tags(vec![s("a")])),
            (r#""a,b""#,                 Tags(vec![s("a,b")])),
            (r#""""#,                    Tags(vec![s("")])),
            ("",                         Tags(vec![])),
            (" , ",                      Tags(vec![])),
            (r#""abc"#,                  Tags(vec![s("abc")])),
            (r#""d41d8cd98f00b204e9800998ecf8427e-3""#,
                                         Tags(vec![s("d41d8cd98f00b204e9800998ecf8427e-3")])),
        ];
        for (input, want) in table {
            assert_eq!(&EtagList::parse(input), want, "input {input:?}");
        }
    }

    #[test]
    fn single_tag_parse() {
        assert_eq!(EntityTag::parse(r#""x""#), Some(s("x")));
        assert_eq!(EntityTag::parse(r#"W/"x""#), Some(w("x")));
        assert_eq!(EntityTag::parse("*"), None);
        assert_eq!(EntityTag::parse(""), None);
        assert_eq!(EntityTag::parse(r#""x", "y""#), None);
    }

    #[test]
    fn comparison_table() {
        // (request tag, stored etag) => (strong, weak)
        #[rustfmt::skip]
        let table: &[(EntityTag, &str, bool, bool)] = &[
            (s("abc"),  "abc",     true,  true),
            (s("abc"),  r#""abc""#, true,  true),
            (w("abc"),  "abc",     false, true),
            (s("abc"),  "abd",     false, false),
            (w("abc"),  "abd",     false, false),
            (s("ABC"),  "abc",     false, false),
            (s(""),     "",        true,  true),
            (s("abc"),  r#""abc"#,  false, false),
        ];
        for (tag, stored, strong, weak) in table {
            assert_eq!(
                tag.strong_eq(stored),
                *strong,
                "{tag:?} strong vs {stored:?}"
            );
            assert_eq!(tag.weak_eq(stored), *weak, "{tag:?} weak vs {stored:?}");
        }
    }

    #[test]
    fn list_matching() {
        let list = EtagList::parse(r#"W/"a", "b""#);
        assert!(!list.matches_strong("a"));
        assert!(list.matches_weak("a"));
        assert!(list.matches_strong("b"));
        assert!(!list.matches_weak("c"));
        assert!(EtagList::Any.matches_strong("whatever"));
        assert!(!EtagList::Tags(vec![]).matches_weak("a"));
    }

    #[test]
    fn field_lines_are_one_list() {
        let mut h = http::HeaderMap::new();
        assert_eq!(
            EtagList::from_field_lines(h.get_all(http::header::IF_MATCH)),
            None
        );
        h.append(http::header::IF_MATCH, HeaderValue::from_static(r#""a""#));
        h.append(
            http::header::IF_MATCH,
            HeaderValue::from_static("b, W/\"c\""),
        );
        assert_eq!(
            EtagList::from_field_lines(h.get_all(http::header::IF_MATCH)),
            Some(EtagList::Tags(vec![s("a"), s("b"), w("c")]))
        );
        h.append(http::header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(
            EtagList::from_field_lines(h.get_all(http::header::IF_MATCH)),
            Some(EtagList::Any)
        );
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::IF_NONE_MATCH,
            HeaderValue::from_bytes(b"\"\xffa\", \"b\"").unwrap(),
        );
        let list = EtagList::from_field_lines(h.get_all(http::header::IF_NONE_MATCH)).unwrap();
        assert!(list.matches_weak("b"));
        assert!(!list.matches_weak("a"));
    }
}
