//! Conformance cases for GET Bucket (v1) listing: prefixes, delimiters,
//! markers, paging, checked against a naive model of the definition.

use super::*;

// Listing

async fn put_keys(env: &Env, keys: &[&str]) {
    for k in keys {
        put(&env.store, k, b"").await;
    }
}

fn q(prefix: &str, delimiter: &str, marker: &str, max_keys: usize) -> ListQuery {
    ListQuery {
        prefix: prefix.into(),
        delimiter: delimiter.into(),
        marker: marker.into(),
        max_keys,
    }
}

/// (objects, common prefixes, is_truncated, next_marker) of one page.
type Page = (Vec<String>, Vec<String>, bool, Option<String>);

async fn list(env: &Env, query: ListQuery) -> Page {
    let p = env.store.list_objects(B, &query).await.unwrap();
    (
        p.objects.into_iter().map(|(k, _)| k).collect(),
        p.common_prefixes,
        p.is_truncated,
        p.next_marker,
    )
}

fn page(objects: &[&str], prefixes: &[&str], truncated: bool, next: Option<&str>) -> Page {
    (
        objects.iter().map(|s| s.to_string()).collect(),
        prefixes.iter().map(|s| s.to_string()).collect(),
        truncated,
        next.map(str::to_string),
    )
}

const LIST_KEYS: &[&str] = &[
    "a", "a.", "a/", "a/b", "a/b/c", "a/c", "a0", "b", "b/x/y", "b/z", "c/", "c/d/", "d", "é",
    "é/x",
];

pub(super) async fn list_delimiter_and_markers(env: Env) {
    with_bucket(&env).await;
    put_keys(&env, LIST_KEYS).await;
    let all: Vec<&str> = LIST_KEYS.to_vec();
    // No delimiter: everything in byte order ("a." < "a/" < "a0", "é" after ASCII).
    assert_eq!(
        list(&env, q("", "", "", 1000)).await,
        page(&all, &[], false, None)
    );
    // Delimiter: keys around "/" roll up or not.
    assert_eq!(
        list(&env, q("", "/", "", 1000)).await,
        page(
            &["a", "a.", "a0", "b", "d", "é"],
            &["a/", "b/", "c/", "é/"],
            false,
            None
        )
    );
    assert_eq!(
        list(&env, q("a/", "/", "", 1000)).await,
        page(&["a/", "a/b", "a/c"], &["a/b/"], false, None)
    );
    assert_eq!(
        list(&env, q("a", "/", "", 1000)).await,
        page(&["a", "a.", "a0"], &["a/"], false, None)
    );
    assert_eq!(
        list(&env, q("c/", "/", "", 1000)).await,
        page(&["c/"], &["c/d/"], false, None)
    );
    assert_eq!(
        list(&env, q("zz", "/", "", 1000)).await,
        page(&[], &[], false, None)
    );
    // Common prefixes count against max_keys; next_marker may be one.
    assert_eq!(
        list(&env, q("", "/", "", 3)).await,
        page(&["a", "a."], &["a/"], true, Some("a/"))
    );
    // A marker equal to a common prefix resumes after everything under it...
    assert_eq!(
        list(&env, q("", "/", "a/", 2)).await,
        page(&["a0", "b"], &[], true, Some("b"))
    );
    // ...and so does a marker inside one (every entry sorts after the marker).
    assert_eq!(
        list(&env, q("", "/", "a/b", 2)).await,
        page(&["a0", "b"], &[], true, Some("b"))
    );
    assert_eq!(
        list(&env, q("", "/", "b", 2)).await,
        page(&[], &["b/", "c/"], true, Some("c/"))
    );
    // Without a delimiter the marker is just a key.
    assert_eq!(
        list(&env, q("", "", "a/", 2)).await,
        page(&["a/b", "a/b/c"], &[], true, Some("a/b/c"))
    );
    assert_eq!(
        list(&env, q("", "", "é/x", 5)).await,
        page(&[], &[], false, None)
    );
    // A multi-character delimiter.
    assert_eq!(list(&env, q("", "/x", "", 1000)).await.1, ["b/x", "é/x"]);
    // max_keys 0: an empty page that is not truncated.
    assert_eq!(
        list(&env, q("", "/", "", 0)).await,
        page(&[], &[], false, None)
    );
}

/// The definition, computed naively: map every key with the prefix to its
/// entry (key or common prefix), keep entries after the marker, dedupe, cut.
fn model(keys: &[&str], query: &ListQuery) -> Page {
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort();
    let mut entries: Vec<(String, bool)> = Vec::new();
    for k in sorted.into_iter().filter(|k| k.starts_with(&query.prefix)) {
        let rest = &k[query.prefix.len()..];
        let entry = match (!query.delimiter.is_empty())
            .then(|| rest.find(&query.delimiter))
            .flatten()
        {
            Some(at) => (
                k[..query.prefix.len() + at + query.delimiter.len()].to_string(),
                true,
            ),
            None => (k.to_string(), false),
        };
        if entry.0.as_str() > query.marker.as_str() && entries.last() != Some(&entry) {
            entries.push(entry);
        }
    }
    let truncated = entries.len() > query.max_keys;
    entries.truncate(query.max_keys);
    let next = if truncated {
        entries.last().map(|e| e.0.clone())
    } else {
        None
    };
    let objects = entries
        .iter()
        .filter(|e| !e.1)
        .map(|e| e.0.clone())
        .collect();
    let prefixes = entries
        .iter()
        .filter(|e| e.1)
        .map(|e| e.0.clone())
        .collect();
    (objects, prefixes, truncated, next)
}

pub(super) async fn list_matches_model(env: Env) {
    with_bucket(&env).await;
    // Plus keys that sort after the seek target past a common prefix
    // ("a/" + U+10FFFF) yet still belong under it.
    let mut keys = LIST_KEYS.to_vec();
    keys.extend(["a/\u{10FFFF}", "a/\u{10FFFF}z", "a/\u{10FFFF}/q"]);
    put_keys(&env, &keys).await;
    for prefix in ["", "a", "a/", "b/", "c", "é", "q"] {
        for delimiter in ["", "/", "b", "/x"] {
            for marker in [
                "", "a", "a/", "a/b", "a/b/c", "a0", "b/", "b/x", "c/d/", "zz",
            ] {
                for max_keys in [1, 2, 3, 5, 1000] {
                    let query = q(prefix, delimiter, marker, max_keys);
                    assert_eq!(
                        list(&env, query.clone()).await,
                        model(&keys, &query),
                        "{query:?}"
                    );
                }
            }
        }
    }
}

pub(super) async fn list_paging_collects_everything(env: Env) {
    with_bucket(&env).await;
    let mut keys: Vec<String> = Vec::new();
    for d in 0..7 {
        for f in 0..(d * 13 + 1) {
            keys.push(format!("dir{d}/file{f:03}"));
        }
        keys.push(format!("top{d}"));
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    put_keys(&env, &refs).await;
    for (delimiter, max_keys) in [
        ("", 7),
        ("", 1),
        ("/", 1),
        ("/", 3),
        ("", 1000),
        ("/", 1000),
    ] {
        let mut marker = String::new();
        let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
        let mut pages = 0;
        loop {
            let (o, p, truncated, next) = list(&env, q("", delimiter, &marker, max_keys)).await;
            assert!(o.len() + p.len() <= max_keys);
            objects.extend(o);
            prefixes.extend(p);
            pages += 1;
            if !truncated {
                assert_eq!(next, None);
                break;
            }
            marker = next.unwrap();
        }
        let want = model(&refs, &q("", delimiter, "", 100_000));
        assert_eq!(
            (objects, prefixes),
            (want.0, want.1),
            "delimiter {delimiter:?} max_keys {max_keys}"
        );
        assert!(pages >= 1);
    }
}
