//! The web console at `/-/console/` on service hosts (NOTES-ON-ISSUES 6).
//!
//! Static files only, embedded in the binary with `include_bytes!`: the page
//! is a client of the COS API like any SDK (it signs in the browser), so the
//! server's whole part is to hand out these few files with the right types
//! and cache validators. No framework or bundler: the assets are small
//! hand-written files, which keeps the binary cost far under 200 KiB and the
//! build free of network access.

use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

/// The mount point; `/-/console` (no slash) redirects here.
pub const PREFIX: &str = "/-/console/";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Every file the console serves; `""` is the index.
const ASSETS: &[Asset] = &[
    Asset {
        name: "",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("assets/index.html"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/console.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/console.css"),
    },
    Asset {
        name: "sha1.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/sha1.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("assets/favicon.svg"),
    },
];

/// Total size of the embedded files (reported by a test against the
/// issue's 200 KiB budget).
pub fn embedded_bytes() -> usize {
    ASSETS.iter().map(|a| a.bytes.len()).sum()
}

/// Whether `path` belongs to the console (`/-/console` or below).
pub fn is_console_path(path: &str) -> bool {
    path == "/-/console" || path.starts_with(PREFIX)
}

/// A weak validator from the build: assets change only with the binary.
fn etag(a: &Asset) -> String {
    // FNV-1a: a stable, dependency-free fingerprint of static bytes (not security relevant).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in a.bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// Answers a request for a console path: status, headers and body.
/// `None` for paths that are not console files (the caller answers 404).
pub fn serve(
    method: &Method,
    path: &str,
    req_headers: &HeaderMap,
) -> Option<(StatusCode, HeaderMap, &'static [u8])> {
    let mut h = HeaderMap::new();
    if path == "/-/console" {
        h.insert(header::LOCATION, HeaderValue::from_static(PREFIX));
        return Some((StatusCode::MOVED_PERMANENTLY, h, b""));
    }
    let name = path.strip_prefix(PREFIX)?;
    let name = if name == "index.html" { "" } else { name };
    let asset = ASSETS.iter().find(|a| a.name == name)?;
    if method != Method::GET && method != Method::HEAD {
        h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some((StatusCode::METHOD_NOT_ALLOWED, h, b""));
    }
    let tag = etag(asset);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("hex etag is a valid header"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if name.is_empty() {
        // Only same-origin scripts; the COS API is reached on this origin or,
        // for virtual-hosted bucket names, any http(s) origin the user points it at.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data: blob:; \
                 style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let not_modified = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if not_modified {
        return Some((StatusCode::NOT_MODIFIED, h, b""));
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    let body: &'static [u8] = if method == Method::HEAD {
        b""
    } else {
        asset.bytes
    };
    if method == Method::HEAD {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.bytes.len()));
    }
    Some((StatusCode::OK, h, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_fits_its_budget() {
        assert!(embedded_bytes() < 200 * 1024, "{} bytes", embedded_bytes());
    }

    #[test]
    fn serves_index_assets_and_redirect() {
        let none = HeaderMap::new();
        let (s, h, b) = serve(&Method::GET, "/-/console/", &none).unwrap();
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(h.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(std::str::from_utf8(b).unwrap().contains("console.js"));
        let (s, h, _) = serve(&Method::GET, "/-/console", &none).unwrap();
        assert_eq!(s, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(h[header::LOCATION], PREFIX);
        let (s, h, b) = serve(&Method::GET, "/-/console/console.js", &none).unwrap();
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(!b.is_empty());
        assert!(serve(&Method::GET, "/-/console/nope.js", &none).is_none());
        assert!(serve(&Method::GET, "/-/console/../console.js", &none).is_none());
        let (s, _, _) = serve(&Method::PUT, "/-/console/", &none).unwrap();
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    }

    fn text(name: &str) -> &'static str {
        let a = ASSETS.iter().find(|a| a.name == name).expect("asset");
        std::str::from_utf8(a.bytes).expect("utf-8 asset")
    }

    #[test]
    fn index_obeys_the_csp_and_loads_only_embedded_files() {
        let html = text("");
        // No inline script, style or handler: the CSP would block them.
        for bad in ["<style", " style=", " onclick=", " onload=", "javascript:"] {
            assert!(!html.contains(bad), "index.html contains {bad}");
        }
        let mut refs = 0;
        for attr in ["src=\"", "href=\""] {
            for (i, _) in html.match_indices(attr) {
                let rest = &html[i + attr.len()..];
                let target = &rest[..rest.find('"').unwrap()];
                if target.starts_with('#') {
                    continue;
                }
                refs += 1;
                assert!(
                    ASSETS
                        .iter()
                        .any(|a| !a.name.is_empty() && a.name == target),
                    "index.html refers to {target}, which is not embedded"
                );
            }
        }
        assert!(refs >= 4, "{refs}");
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=").count()
        );
        // Nothing from the network (a CDN) in any file.
        for a in ASSETS {
            let t = std::str::from_utf8(a.bytes).unwrap();
            let remote = t.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !remote.contains("http://") && !remote.contains("https://"),
                "{} names a remote URL",
                a.name
            );
        }
        // Built with DOM nodes and textContent, never innerHTML (keys are user data).
        assert!(!text("console.js").contains("innerHTML"));
    }

    #[test]
    fn carries_every_test_id_the_issue_names() {
        let (html, js) = (text(""), text("console.js"));
        for id in [
            "login-secret-id",
            "login-secret-key",
            "login-submit",
            "logout",
            "error-banner",
            "bucket-create-name",
            "bucket-create-submit",
            "bucket-row",
            "bucket-delete",
            "prefix-row",
            "object-row",
            "object-download",
            "object-delete",
            "object-share",
            "share-url",
            "object-versions",
            "version-row",
            "upload-input",
            "upload-progress",
            "versioning-toggle",
        ] {
            assert!(
                html.contains(&format!("data-testid=\"{id}\""))
                    || js.contains(&format!("'data-testid': '{id}'"))
                    || js.contains(&format!("'{id}', function")),
                "no element carries data-testid={id}"
            );
        }
    }

    #[test]
    fn revalidates_with_etag() {
        let (_, h, _) = serve(&Method::GET, "/-/console/console.css", &HeaderMap::new()).unwrap();
        let mut req = HeaderMap::new();
        req.insert(header::IF_NONE_MATCH, h[header::ETAG].clone());
        let (s, _, b) = serve(&Method::GET, "/-/console/console.css", &req).unwrap();
        assert_eq!(s, StatusCode::NOT_MODIFIED);
        assert!(b.is_empty());
    }
}
