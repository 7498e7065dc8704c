//! A small element tree for configuration documents whose shape serde
//! cannot express well (numbered element names such as `StandbyHostName_1`,
//! repeated elements anywhere among siblings): parse once, then look
//! children up by name, order-insensitively (cos-bucket.md §0.1).

use crate::error::{Error, ErrorCode, Result};

/// One element: its local name, its text (concatenated, untrimmed) and its
/// child elements in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

/// Deepest nesting accepted (a hostile body cannot recurse without bound).
const MAX_DEPTH: usize = 32;

fn malformed() -> Error {
    Error::new(ErrorCode::MalformedXML)
}

impl Node {
    /// Parses `body` and checks that the root element is `root`.
    /// # Behavior
    /// - Not UTF-8, not well-formed, wrong root, nesting deeper than 32 →
    ///   400 MalformedXML.
    pub fn parse(body: &[u8], root: &str) -> Result<Node> {
        use quick_xml::events::Event;
        let text = std::str::from_utf8(body).map_err(|_| malformed())?;
        let mut reader = quick_xml::Reader::from_str(text);
        let mut stack: Vec<Node> = Vec::new();
        let mut done: Option<Node> = None;
        loop {
            match reader.read_event().map_err(|_| malformed())? {
                Event::Start(e) => {
                    if done.is_some() || stack.len() >= MAX_DEPTH {
                        return Err(malformed());
                    }
                    stack.push(Node {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Node::default()
                    });
                }
                Event::Empty(e) => {
                    let node = Node {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Node::default()
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None if done.is_none() => done = Some(node),
                        None => return Err(malformed()),
                    }
                }
                Event::End(_) => {
                    let node = stack.pop().ok_or_else(malformed)?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => done = Some(node),
                    }
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.unescape().map_err(|_| malformed())?);
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&String::from_utf8_lossy(&t.into_inner()));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !stack.is_empty() {
            return Err(malformed());
        }
        match done {
            Some(node) if node.name == root => Ok(node),
            _ => Err(malformed()),
        }
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// The child `name`, or 400 MalformedXML naming it.
    pub fn required(&self, name: &str) -> Result<&Node> {
        self.child(name).ok_or_else(|| {
            Error::with_message(
                ErrorCode::MalformedXML,
                format!("<{}> needs <{name}>.", self.name),
            )
        })
    }

    /// A `true`/`false` child (absent → `default`; other text → 400
    /// InvalidArgument).
    pub fn bool_of(&self, name: &str, default: bool) -> Result<bool> {
        match self.text_of(name) {
            None => Ok(default),
            Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
            Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
            Some(t) => Err(Error::with_message(
                ErrorCode::InvalidArgument,
                format!("<{name}> must be true or false, not `{t}`."),
            )),
        }
    }

    /// Children whose names are `prefix` + a number (`StandbyHostName_1`,
    /// `StandbyHostName_2`), sorted by that number.
    pub fn numbered<'a>(&'a self, prefix: &str) -> Vec<(u32, &'a Node)> {
        let mut out: Vec<(u32, &Node)> = self
            .children
            .iter()
            .filter_map(|c| {
                let n = c.name.strip_prefix(prefix)?.parse().ok()?;
                Some((n, c))
            })
            .collect();
        out.sort_by_key(|(n, _)| *n);
        out
    }
}

/// The document as sent, without its XML declaration, for re-emitting
/// verbatim (the round-trip rule of cos-bucket.md §0.4).
pub fn without_declaration(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    match t.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(rest, |(_, d)| d)
            .trim()
            .to_string(),
        None => t.to_string(),
    }
}

/// The GET document: the standard declaration + the stored document.
pub fn with_declaration(doc: &str) -> String {
    format!("<?xml version='1.0' encoding='utf-8' ?>\n{doc}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_order_insensitively() {
        let n = Node::parse(
            b"<?xml version=\"1.0\"?>\n<R><B>2</B><A> x </A><S_2>two</S_2><S_1>one</S_1><E/></R>",
            "R",
        )
        .unwrap();
        assert_eq!(n.text_of("A"), Some("x"));
        assert_eq!(n.text_of("B"), Some("2"));
        assert_eq!(n.text_of("E"), Some(""));
        let s: Vec<_> = n
            .numbered("S_")
            .iter()
            .map(|(i, c)| (*i, c.text.clone()))
            .collect();
        assert_eq!(s, vec![(1, "one".to_string()), (2, "two".to_string())]);
        for bad in [
            &b"<R><A></R>"[..],
            b"<X/>",
            b"",
            b"<R></R><R></R>",
            b"not xml",
            b"\xff\xfe",
        ] {
            assert_eq!(
                Node::parse(bad, "R").unwrap_err().code,
                ErrorCode::MalformedXML,
                "{bad:?}"
            );
        }
        let deep = "<R>".to_string() + &"<a>".repeat(40) + &"</a>".repeat(40) + "</R>";
        assert!(Node::parse(deep.as_bytes(), "R").is_err());
        assert_eq!(
            without_declaration(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<R/>"),
            "<R/>"
        );
    }
}
