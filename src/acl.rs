//! Bucket and object ACLs: the stored shape, the `x-cos-acl` /
//! `x-cos-grant-*` request headers and the `<AccessControlPolicy>` document
//! (PUT/GET Bucket acl 436/7737, /7733; Object acl 436/7748, /7744;
//! spec cos.md §3.4 and §6A.10).
//!
//! An ACL is a canned value (`private`, `public-read`, `public-read-write`,
//! and for objects `default`, "inherit the bucket") plus explicit grants. A
//! request either names a canned value and/or grant headers (combined, as
//! COS does) or sends an XML document; GET answers the effective grants and,
//! when the ACL came from a canned value, the `x-cos-acl` header.

use http::HeaderMap;
use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::http::header;
use crate::render::xml::Xml;

/// The group every anonymous caller belongs to.
pub const ALL_USERS_URI: &str = "http://cam.qcloud.com/groups/global/AllUsers";
/// S3's spelling of the same group: S3 clients (s3cmd `setacl --acl-public`,
/// boto3 `GrantRead='uri="…"'`) send it, and read it back (s3cmd shows it as
/// `*anon*` and removes it on `--acl-private`). Stored as [`ALL_USERS_URI`].
pub const S3_ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// cos-nodejs-sdk-v5's spelling of "anyone" as a grantee ID.
pub const ANYONE_ID: &str = "qcs::cam::anyone:anyone";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Whether an ACL belongs to a bucket or an object (they accept different canned values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclKind {
    Bucket,
    Object,
}

/// A canned ACL value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    /// Objects only: the bucket's ACL decides.
    Default,
}

impl CannedAcl {
    pub fn as_str(self) -> &'static str {
        match self {
            CannedAcl::Private => "private",
            CannedAcl::PublicRead => "public-read",
            CannedAcl::PublicReadWrite => "public-read-write",
            CannedAcl::Default => "default",
        }
    }

    /// Parses an `x-cos-acl` value; `default` only for objects (§6A.10).
    pub fn parse(s: &str, kind: AclKind) -> Option<CannedAcl> {
        match (s.trim(), kind) {
            ("private", _) => Some(CannedAcl::Private),
            ("public-read", _) => Some(CannedAcl::PublicRead),
            ("public-read-write", _) => Some(CannedAcl::PublicReadWrite),
            ("default", AclKind::Object) => Some(CannedAcl::Default),
            _ => None,
        }
    }
}

/// A grant's permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    FullControl,
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
        }
    }

    fn parse(s: &str) -> Option<Permission> {
        [
            Permission::FullControl,
            Permission::Read,
            Permission::Write,
            Permission::ReadAcp,
            Permission::WriteAcp,
        ]
        .into_iter()
        .find(|p| p.as_str() == s.trim())
    }

    /// Whether holding `self` allows what `wanted` allows.
    pub fn covers(self, wanted: Permission) -> bool {
        self == Permission::FullControl || self == wanted
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// An account, `qcs::cam::uin/<root>:uin/<sub>` (or `qcs::cam::anyone:anyone`).
    User { id: String },
    /// A group by URI (`…/groups/global/AllUsers`).
    Group { uri: String },
}

impl Grantee {
    /// Whether the grant applies to anonymous callers.
    pub fn is_everyone(&self) -> bool {
        match self {
            Grantee::User { id } => id == ANYONE_ID,
            Grantee::Group { uri } => uri == ALL_USERS_URI || uri == S3_ALL_USERS_URI,
        }
    }

    /// A group grantee as sent: S3's "all users" URI is stored as COS's.
    fn group(uri: &str) -> Grantee {
        let uri = if uri == S3_ALL_USERS_URI {
            ALL_USERS_URI
        } else {
            uri
        };
        Grantee::Group {
            uri: uri.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// A stored ACL. A record without one has never had an ACL set: a private
/// bucket, a `default` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// The canned value it was set from; `None` when set from an XML document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canned: Option<CannedAcl>,
    /// Explicit grants (grant headers or the document's), beyond the canned ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

impl Acl {
    pub fn canned(c: CannedAcl) -> Acl {
        Acl {
            canned: Some(c),
            grants: Vec::new(),
        }
    }

    /// The ACL a record without one has.
    pub fn implicit(kind: AclKind) -> Acl {
        Acl::canned(match kind {
            AclKind::Bucket => CannedAcl::Private,
            AclKind::Object => CannedAcl::Default,
        })
    }

    /// `default` on an object: the bucket's ACL decides (explicit grants add to it).
    pub fn inherits(&self) -> bool {
        self.canned == Some(CannedAcl::Default)
    }

    /// Every grant GET shows: the owner's full control and the public grants
    /// of a canned value, then the explicit ones.
    pub fn effective_grants(&self, owner_id: &str) -> Vec<Grant> {
        let user = |id: &str, permission| Grant {
            grantee: Grantee::User { id: id.to_string() },
            permission,
        };
        let everyone = |permission| Grant {
            grantee: Grantee::Group {
                uri: ALL_USERS_URI.to_string(),
            },
            permission,
        };
        let mut out = Vec::new();
        if self.canned.is_some() {
            out.push(user(owner_id, Permission::FullControl));
        }
        match self.canned {
            Some(CannedAcl::PublicRead) => out.push(everyone(Permission::Read)),
            Some(CannedAcl::PublicReadWrite) => {
                out.push(everyone(Permission::Read));
                out.push(everyone(Permission::Write));
            }
            _ => {}
        }
        for g in &self.grants {
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        out
    }

    /// Whether anonymous callers hold `wanted` through this ACL's own grants.
    pub fn allows_everyone(&self, wanted: Permission) -> bool {
        let canned = match self.canned {
            Some(CannedAcl::PublicRead) => wanted == Permission::Read,
            Some(CannedAcl::PublicReadWrite) => {
                wanted == Permission::Read || wanted == Permission::Write
            }
            _ => false,
        };
        canned
            || self
                .grants
                .iter()
                .any(|g| g.grantee.is_everyone() && g.permission.covers(wanted))
    }

    /// `x-cos-acl` and `x-cos-grant-*` of a request. `Ok(None)` when none is
    /// present. Bad values → 400 InvalidArgument.
    pub fn from_headers(h: &HeaderMap, kind: AclKind) -> Result<Option<Acl>> {
        let canned = match header::get(h, "x-cos-acl") {
            None => None,
            Some(v) => Some(CannedAcl::parse(v, kind).ok_or_else(|| {
                Error::with_message(
                    ErrorCode::InvalidArgument,
                    format!("x-cos-acl `{v}` is not a valid canned ACL."),
                )
            })?),
        };
        let mut grants = Vec::new();
        for (name, permission) in GRANT_HEADERS {
            for value in h.get_all(*name) {
                let value = value.to_str().map_err(|_| bad_grant(name))?;
                for grantee in parse_grantees(value).ok_or_else(|| bad_grant(name))? {
                    let g = Grant {
                        grantee,
                        permission: *permission,
                    };
                    if !grants.contains(&g) {
                        grants.push(g);
                    }
                }
            }
        }
        if canned.is_none() && grants.is_empty() {
            return Ok(None);
        }
        Ok(Some(Acl {
            // Grant headers alone replace the whole ACL: no canned part.
            canned,
            grants,
        }))
    }
}

/// The grant headers and the permission each gives.
pub const GRANT_HEADERS: &[(&str, Permission)] = &[
    ("x-cos-grant-read", Permission::Read),
    ("x-cos-grant-write", Permission::Write),
    ("x-cos-grant-read-acp", Permission::ReadAcp),
    ("x-cos-grant-write-acp", Permission::WriteAcp),
    ("x-cos-grant-full-control", Permission::FullControl),
];

/// Whether a request carries any ACL header.
pub fn has_acl_headers(h: &HeaderMap) -> bool {
    h.contains_key("x-cos-acl") || GRANT_HEADERS.iter().any(|(n, _)| h.contains_key(*n))
}

fn bad_grant(name: &str) -> Error {
    Error::with_message(
        ErrorCode::InvalidArgument,
        format!("{name} must be a comma-separated list of id=\"...\" or uri=\"...\"."),
    )
}

/// `id="qcs::cam::uin/1:uin/2", id="100000000001", uri="…/AllUsers"`:
/// comma-separated, spaces allowed after commas; a bare uin becomes
/// `qcs::cam::uin/<uin>:uin/<uin>` (the doc's short form).
pub fn parse_grantees(value: &str) -> Option<Vec<Grantee>> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=')?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        if v.is_empty() || v.contains('"') {
            return None;
        }
        let grantee = match k.trim().to_ascii_lowercase().as_str() {
            "id" if v.bytes().all(|b| b.is_ascii_digit()) => Grantee::User {
                id: format!("qcs::cam::uin/{v}:uin/{v}"),
            },
            "id" => Grantee::User { id: v.to_string() },
            "uri" => Grantee::group(v),
            _ => return None,
        };
        if !out.contains(&grantee) {
            out.push(grantee);
        }
    }
    if out.is_empty() {
        return None;
    }
    Some(out)
}

/// `<AccessControlPolicy>` as GET ?acl answers it (§3.4). S3 clients get
/// the "all users" group under S3's URI (`s3_uris`).
pub fn render(acl: &Acl, owner_id: &str, owner_name: &str, s3_uris: bool) -> String {
    let mut x = Xml::new("AccessControlPolicy");
    x.open("Owner")
        .elem("ID", owner_id)
        .elem("DisplayName", owner_name)
        .close("Owner");
    x.open("AccessControlList");
    for g in acl.effective_grants(owner_id) {
        x.open("Grant");
        match &g.grantee {
            Grantee::User { id } => {
                x.raw(&format!(
                    "<Grantee xmlns:xsi=\"{XSI_NS}\" xsi:type=\"CanonicalUser\">"
                ));
                x.elem("ID", id).elem("DisplayName", id);
            }
            Grantee::Group { uri } => {
                x.raw(&format!(
                    "<Grantee xmlns:xsi=\"{XSI_NS}\" xsi:type=\"Group\">"
                ));
                let uri = if s3_uris && uri == ALL_USERS_URI {
                    S3_ALL_USERS_URI
                } else {
                    uri
                };
                x.elem("URI", uri);
            }
        }
        x.close("Grantee")
            .elem("Permission", g.permission.as_str())
            .close("Grant");
    }
    x.close("AccessControlList");
    x.finish("AccessControlPolicy")
}

/// One `<Grant>` while it is being read.
#[derive(Default)]
struct GrantDraft {
    id: Option<String>,
    uri: Option<String>,
    permission: Option<String>,
}

/// Parses a PUT ?acl document. `<Owner>` is not checked (Node sends a
/// placeholder); a Grantee is a user by `<ID>`, a group by `<URI>`, whatever
/// its `xsi:type` says (Node sends none). Anything unparsable, an unknown
/// Permission or a Grantee with neither → `None` (400 MalformedXML).
pub fn parse_document(body: &[u8]) -> Option<Vec<Grant>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut grants = Vec::new();
    let mut draft: Option<GrantDraft> = None;
    let mut saw_root = false;
    let local = |e: &BytesStart<'_>| String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name = local(&e);
                if path.is_empty() {
                    if name != "AccessControlPolicy" || saw_root {
                        return None;
                    }
                    saw_root = true;
                }
                if name == "Grant" && path.last().map(String::as_str) == Some("AccessControlList") {
                    draft = Some(GrantDraft::default());
                }
                path.push(name);
            }
            Event::Empty(e) => {
                if path.is_empty() {
                    // `<AccessControlPolicy/>`: well-formed, no grants.
                    if local(&e) != "AccessControlPolicy" || saw_root {
                        return None;
                    }
                    saw_root = true;
                } else if local(&e) == "Grant" {
                    return None;
                }
            }
            Event::Text(t) => {
                let value = t.unescape().ok()?.into_owned();
                let n = path.len();
                let (parent, leaf) = match n {
                    0 => return None,
                    1 => ("", path[0].as_str()),
                    _ => (path[n - 2].as_str(), path[n - 1].as_str()),
                };
                if let Some(d) = draft.as_mut() {
                    match (parent, leaf) {
                        ("Grantee", "ID") => d.id = Some(value),
                        ("Grantee", "URI") => d.uri = Some(value),
                        ("Grant", "Permission") => d.permission = Some(value),
                        _ => {}
                    }
                }
            }
            Event::End(_) => {
                let name = path.pop()?;
                if name == "Grant" && path.last().map(String::as_str) == Some("AccessControlList") {
                    let d = draft.take()?;
                    let permission = d.permission.as_deref().and_then(Permission::parse);
                    let grantee = match (d.id, d.uri) {
                        (Some(id), _) if !id.trim().is_empty() => Grantee::User {
                            id: id.trim().to_string(),
                        },
                        (_, Some(uri)) if !uri.trim().is_empty() => Grantee::group(uri.trim()),
                        _ => return None,
                    };
                    let g = Grant {
                        grantee,
                        permission: permission?,
                    };
                    if !grants.contains(&g) {
                        grants.push(g);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root || !path.is_empty() {
        return None;
    }
    Some(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "qcs::cam::uin/1250000000:uin/1250000000";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn canned_values_per_kind() {
        let cases = [
            ("private", AclKind::Bucket, Some(CannedAcl::Private)),
            ("public-read", AclKind::Bucket, Some(CannedAcl::PublicRead)),
            (
                "public-read-write",
                AclKind::Object,
                Some(CannedAcl::PublicReadWrite),
            ),
            ("default", AclKind::Object, Some(CannedAcl::Default)),
            ("default", AclKind::Bucket, None),
            ("public-read-writ", AclKind::Bucket, None),
            ("Public-Read", AclKind::Object, None),
            ("", AclKind::Object, None),
        ];
        for (text, kind, want) in cases {
            assert_eq!(CannedAcl::parse(text, kind), want, "{text} {kind:?}");
        }
    }

    #[test]
    fn grant_header_values() {
        let user = |id: &str| Grantee::User { id: id.into() };
        let ok: &[(&str, Vec<Grantee>)] = &[
            (
                r#"id="qcs::cam::uin/100:uin/100""#,
                vec![user("qcs::cam::uin/100:uin/100")],
            ),
            (
                r#"id="100000000001""#,
                vec![user("qcs::cam::uin/100000000001:uin/100000000001")],
            ),
            (
                r#"id="qcs::cam::uin/1:uin/2", id="qcs::cam::uin/1:uin/3""#,
                vec![user("qcs::cam::uin/1:uin/2"), user("qcs::cam::uin/1:uin/3")],
            ),
            (
                r#"id="qcs::cam::uin/1:uin/2",id="qcs::cam::uin/1:uin/2""#,
                vec![user("qcs::cam::uin/1:uin/2")],
            ),
            (
                r#"uri="http://cam.qcloud.com/groups/global/AllUsers""#,
                vec![Grantee::Group {
                    uri: ALL_USERS_URI.into(),
                }],
            ),
            (r#"ID=qcs::cam::anyone:anyone"#, vec![user(ANYONE_ID)]),
        ];
        for (value, want) in ok {
            assert_eq!(parse_grantees(value).as_ref(), Some(want), "{value}");
        }
        for bad in ["", "100", r#"name="x""#, r#"id="""#, r#"id="a"b""#, ","] {
            assert!(parse_grantees(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn headers_combine_canned_and_grants() {
        let h = headers(&[
            ("x-cos-acl", "public-read"),
            ("x-cos-grant-full-control", r#"id="qcs::cam::uin/1:uin/2""#),
        ]);
        let acl = Acl::from_headers(&h, AclKind::Bucket).unwrap().unwrap();
        assert_eq!(acl.canned, Some(CannedAcl::PublicRead));
        let grants = acl.effective_grants(OWNER);
        assert_eq!(grants.len(), 3);
        assert!(acl.allows_everyone(Permission::Read));
        assert!(!acl.allows_everyone(Permission::Write));

        assert_eq!(
            Acl::from_headers(&HeaderMap::new(), AclKind::Object).unwrap(),
            None
        );
        let err =
            Acl::from_headers(&headers(&[("x-cos-acl", "default")]), AclKind::Bucket).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        let err = Acl::from_headers(&headers(&[("x-cos-grant-read", "bogus")]), AclKind::Bucket)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        let only_grant = Acl::from_headers(
            &headers(&[(
                "x-cos-grant-read",
                r#"uri="http://cam.qcloud.com/groups/global/AllUsers""#,
            )]),
            AclKind::Object,
        )
        .unwrap()
        .unwrap();
        assert_eq!(only_grant.canned, None);
        assert!(only_grant.allows_everyone(Permission::Read));
    }

    #[test]
    fn public_permissions_table() {
        let anyone_write = Acl {
            canned: None,
            grants: vec![Grant {
                grantee: Grantee::User {
                    id: ANYONE_ID.into(),
                },
                permission: Permission::FullControl,
            }],
        };
        let cases = [
            (Acl::canned(CannedAcl::Private), [false, false, false]),
            (Acl::canned(CannedAcl::Default), [false, false, false]),
            (Acl::canned(CannedAcl::PublicRead), [true, false, false]),
            (Acl::canned(CannedAcl::PublicReadWrite), [true, true, false]),
            (anyone_write, [true, true, true]),
        ];
        for (acl, [read, write, read_acp]) in cases {
            assert_eq!(acl.allows_everyone(Permission::Read), read, "{acl:?}");
            assert_eq!(acl.allows_everyone(Permission::Write), write, "{acl:?}");
            assert_eq!(
                acl.allows_everyone(Permission::ReadAcp),
                read_acp,
                "{acl:?}"
            );
        }
    }

    #[test]
    fn render_exact() {
        let doc = render(
            &Acl::canned(CannedAcl::PublicRead),
            OWNER,
            "1250000000",
            false,
        );
        assert_eq!(
            doc,
            "<?xml version='1.0' encoding='utf-8' ?>\n<AccessControlPolicy><Owner><ID>qcs::cam::uin/1250000000:uin/1250000000</ID><DisplayName>1250000000</DisplayName></Owner><AccessControlList>\
<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>qcs::cam::uin/1250000000:uin/1250000000</ID><DisplayName>qcs::cam::uin/1250000000:uin/1250000000</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>\
<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"><URI>http://cam.qcloud.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>\
</AccessControlList></AccessControlPolicy>"
        );
    }

    /// S3's "all users" URI (s3cmd `setacl --acl-public`, boto3 grant
    /// headers) is stored as COS's and rendered back in the client's spelling.
    #[test]
    fn s3_all_users_uri_is_cos_all_users() {
        let s3_doc = format!(
            "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>{OWNER}</ID></Owner><AccessControlList>\
<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"><URI>{S3_ALL_USERS_URI}</URI></Grantee><Permission>READ</Permission></Grant>\
</AccessControlList></AccessControlPolicy>"
        );
        let from_doc = parse_document(s3_doc.as_bytes()).unwrap();
        let from_header = parse_grantees(&format!("uri=\"{S3_ALL_USERS_URI}\"")).unwrap();
        let cos = Grantee::Group {
            uri: ALL_USERS_URI.into(),
        };
        assert_eq!(from_doc[0].grantee, cos);
        assert_eq!(from_header, vec![cos.clone()]);
        let acl = Acl {
            canned: None,
            grants: from_doc,
        };
        assert!(acl.allows_everyone(Permission::Read));
        assert!(!acl.allows_everyone(Permission::Write));
        // A record written before the URI was mapped still counts.
        let old = Grantee::Group {
            uri: S3_ALL_USERS_URI.into(),
        };
        assert!(old.is_everyone());
        let cases = [(false, ALL_USERS_URI), (true, S3_ALL_USERS_URI)];
        for (s3, uri) in cases {
            let doc = render(&acl, OWNER, "1250000000", s3);
            assert!(doc.contains(&format!("<URI>{uri}</URI>")), "{doc}");
        }
    }

    #[test]
    fn documents_parse_or_fail() {
        // Python (xmltodict with xsi:type), Node (no xsi:type), and a group.
        let python = br#"<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>qcs::cam::uin/1:uin/2</ID></Grantee><Permission>READ</Permission></Grant><Grant><Grantee xsi:type="Group" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><URI>http://cam.qcloud.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
        let g = parse_document(python).unwrap();
        assert_eq!(g.len(), 2);
        assert!(g[1].grantee.is_everyone());
        let node = br#"<AccessControlPolicy><Owner><ID>qcs::cam::uin/10001:uin/10001</ID></Owner><AccessControlList><Grant><Permission>WRITE</Permission><Grantee><ID>qcs::cam::uin/10002:uin/10002</ID></Grantee></Grant></AccessControlList></AccessControlPolicy>"#;
        assert_eq!(
            parse_document(node).unwrap(),
            vec![Grant {
                grantee: Grantee::User {
                    id: "qcs::cam::uin/10002:uin/10002".into()
                },
                permission: Permission::Write
            }]
        );
        assert_eq!(parse_document(b"<AccessControlPolicy/>").unwrap(), vec![]);
        let bad: &[&[u8]] = &[
            b"",
            b"<AccessControlPolicy>",
            b"<Other/>",
            b"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>a</ID></Grantee><Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>",
            b"<AccessControlPolicy><AccessControlList><Grant><Grantee></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            b"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>a</ID></Grantee></Grant></AccessControlList></AccessControlPolicy>",
            b"not xml at all",
        ];
        for b in bad {
            assert!(
                parse_document(b).is_none(),
                "{}",
                String::from_utf8_lossy(b)
            );
        }
    }
}
