//! The XML of versioning: `<VersioningConfiguration>` (GET/PUT Bucket
//! versioning, 436/19888, 436/19889) and `<ListVersionsResult>` (GET Bucket
//! Object Versions, 436/35521), written with the same writer as `xml.rs`.

use serde::Deserialize;

use super::xml::{iso8601, url_encode_key, Owner, Xml};
use crate::storage::{Versioning, VersionsPage};

/// GET `?versioning`: `<Status>` only once set; an empty root before.
pub fn versioning_configuration(state: Versioning) -> String {
    let mut x = Xml::new("VersioningConfiguration");
    if let Some(status) = state.status() {
        x.elem("Status", status);
    }
    x.finish("VersioningConfiguration")
}

/// PUT `?versioning` body. Unknown elements (e.g. `MfaDelete`) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename = "VersioningConfiguration")]
pub struct VersioningConfiguration {
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
}

/// GET `?versions` input echoed in the result.
pub struct VersionsParams<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub key_marker: &'a str,
    pub version_id_marker: &'a str,
    pub delimiter: &'a str,
    pub max_keys: usize,
    pub url_encode: bool,
}

/// `<ListVersionsResult>`: versions and delete markers in key order, newest
/// first within a key, then the common prefixes.
pub fn list_versions(p: &VersionsParams<'_>, owner: &Owner<'_>, page: &VersionsPage) -> String {
    let enc = |s: &str| {
        if p.url_encode {
            url_encode_key(s)
        } else {
            s.to_string()
        }
    };
    let mut x = Xml::new("ListVersionsResult");
    x.elem("Name", p.bucket);
    if p.url_encode {
        x.elem("EncodingType", "url");
    }
    x.elem("Prefix", &enc(p.prefix))
        .elem("KeyMarker", &enc(p.key_marker))
        .elem("VersionIdMarker", p.version_id_marker)
        .elem("MaxKeys", &p.max_keys.to_string());
    if !p.delimiter.is_empty() {
        x.elem("Delimiter", &enc(p.delimiter));
    }
    x.elem(
        "IsTruncated",
        if page.is_truncated { "true" } else { "false" },
    );
    if let Some(m) = &page.next_key_marker {
        x.elem("NextKeyMarker", &enc(m));
    }
    if let Some(m) = &page.next_version_id_marker {
        x.elem("NextVersionIdMarker", m);
    }
    for e in &page.entries {
        let rec = &e.record;
        let tag = if rec.delete_marker {
            "DeleteMarker"
        } else {
            "Version"
        };
        x.open(tag)
            .elem("Key", &enc(&e.key))
            .elem("VersionId", e.version_id())
            .elem("IsLatest", if e.is_latest { "true" } else { "false" })
            .elem("LastModified", &iso8601(rec.last_modified()));
        if !rec.delete_marker {
            x.elem("ETag", &format!("\"{}\"", rec.etag))
                .elem("Size", &rec.size.to_string())
                .elem("StorageClass", &rec.storage_class);
        }
        x.open("Owner")
            .elem("ID", owner.id)
            .elem("DisplayName", owner.display_name)
            .close("Owner")
            .close(tag);
    }
    for cp in &page.common_prefixes {
        x.open("CommonPrefixes")
            .elem("Prefix", &enc(cp))
            .close("CommonPrefixes");
    }
    x.finish("ListVersionsResult")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{ObjectRecord, VersionEntry};

    fn rec(version_id: Option<&str>, delete_marker: bool) -> ObjectRecord {
        ObjectRecord {
            size: if delete_marker { 0 } else { 3 },
            etag: if delete_marker {
                String::new()
            } else {
                "900150983cd24fb0d6963f7d28e17f72".into()
            },
            crc64: 0,
            last_modified_ms: 1_700_000_000_000,
            headers: Default::default(),
            storage_class: "STANDARD".into(),
            segments: Vec::new(),
            sse: None,
            version_id: version_id.map(str::to_string),
            delete_marker,
            restore: None,
            checksum: None,
            acl: None,
            tags: Vec::new(),
            appendable: false,
            retain_until_ms: None,
            symlink_target: None,
            replication_status: None,
            corrupt: None,
        }
    }

    #[test]
    fn versioning_configuration_exact() {
        assert_eq!(
            versioning_configuration(Versioning::Off),
            "<?xml version='1.0' encoding='utf-8' ?>\n<VersioningConfiguration></VersioningConfiguration>"
        );
        assert_eq!(
            versioning_configuration(Versioning::Suspended),
            "<?xml version='1.0' encoding='utf-8' ?>\n<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"
        );
    }

    #[test]
    fn list_versions_exact() {
        let page = VersionsPage {
            entries: vec![
                VersionEntry {
                    key: "a b".into(),
                    seq: 7,
                    record: rec(Some("MTg0NDUxNTc1NjIzMTQ1MDAwODg"), true),
                    is_latest: true,
                },
                VersionEntry {
                    key: "a b".into(),
                    seq: 0,
                    record: rec(None, false),
                    is_latest: false,
                },
            ],
            common_prefixes: vec!["d/".into()],
            is_truncated: true,
            next_key_marker: Some("a b".into()),
            next_version_id_marker: Some("null".into()),
        };
        let p = VersionsParams {
            bucket: "b-1250000000",
            prefix: "",
            key_marker: "",
            version_id_marker: "",
            delimiter: "/",
            max_keys: 2,
            url_encode: true,
        };
        let owner = Owner {
            id: "qcs::cam::uin/1:uin/1",
            display_name: "1",
        };
        assert_eq!(
            list_versions(&p, &owner, &page),
            "<?xml version='1.0' encoding='utf-8' ?>\n<ListVersionsResult><Name>b-1250000000</Name><EncodingType>url</EncodingType><Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><NextKeyMarker>a%20b</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>\
<DeleteMarker><Key>a%20b</Key><VersionId>MTg0NDUxNTc1NjIzMTQ1MDAwODg</VersionId><IsLatest>true</IsLatest><LastModified>2023-11-14T22:13:20.000Z</LastModified><Owner><ID>qcs::cam::uin/1:uin/1</ID><DisplayName>1</DisplayName></Owner></DeleteMarker>\
<Version><Key>a%20b</Key><VersionId>null</VersionId><IsLatest>false</IsLatest><LastModified>2023-11-14T22:13:20.000Z</LastModified><ETag>\"900150983cd24fb0d6963f7d28e17f72\"</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass><Owner><ID>qcs::cam::uin/1:uin/1</ID><DisplayName>1</DisplayName></Owner></Version>\
<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListVersionsResult>"
        );
    }
}
