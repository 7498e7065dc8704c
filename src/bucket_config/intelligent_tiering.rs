//! Intelligent tiering (cos-bucket.md §13): v1 `PUT/GET /?intelligenttiering`
//! (one bucket-wide rule, which cannot be changed once enabled) and v2
//! `PUT/GET/DELETE /?intelligent-tiering&id=<Id>` plus the list `GET
//! /?intelligent-tiering`. The v1 rule is the v2 rule `default` (which
//! cannot be modified either). Stored and returned; localcos moves no data
//! (objects of class INTELLIGENT_TIERING stay in the FREQUENT tier).
//!
//! GET unset (v1, or an unknown id) → 404 NoSuchConfiguration.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{parse_xml, read_body, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::Xml;

/// The v2 id of the v1 rule.
pub const DEFAULT_ID: &str = "default";
/// Where the v2 rules (other than a v1 `default`) are stored.
const V2_NAME: &str = "intelligent-tiering";

fn invalid(msg: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, msg.into())
}

fn status(text: Option<String>) -> Result<String> {
    match text.as_deref().map(str::trim) {
        // The SDK's docstring spells it `Enable`; kept as sent.
        Some(s @ ("Enabled" | "Disabled" | "Enable" | "Disable")) => Ok(s.to_string()),
        Some(other) => Err(invalid(format!(
            "Status must be Enabled or Disabled, not `{other}`."
        ))),
        None => Err(Error::with_message(
            ErrorCode::MalformedXML,
            "Status is required.",
        )),
    }
}

fn positive(text: &str, what: &str) -> Result<u64> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(invalid(format!(
            "{what} must be a positive integer, not `{text}`."
        ))),
    }
}

// ---------------------------------------------------------------------------
// v1

/// `<IntelligentTieringConfiguration><Status/><Transition><Days/><RequestFrequent/></Transition>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelligentTiering {
    pub status: String,
    /// 30, 60 or 90.
    pub days: u64,
    pub request_frequent: u64,
}

#[derive(Deserialize)]
struct V1In {
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Transition")]
    transition: Option<V1TransitionIn>,
}

#[derive(Deserialize)]
struct V1TransitionIn {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "RequestFrequent")]
    request_frequent: Option<String>,
}

impl BucketConfig for IntelligentTiering {
    const NAME: &'static str = "intelligenttiering";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchConfiguration);

    /// # Behavior
    /// - No Status → 400 MalformedXML; Status not Enabled/Disabled, Days
    ///   not 30/60/90, RequestFrequent not a positive integer → 400
    ///   InvalidArgument. Transition omitted: 30 days, 1 request.
    fn parse(body: &[u8]) -> Result<Self> {
        let doc: V1In = parse_xml(body, "IntelligentTieringConfiguration")?;
        let status = status(doc.status)?;
        let (days, freq) = match doc.transition {
            Some(t) => (t.days, t.request_frequent),
            None => (None, None),
        };
        let days = match days {
            Some(d) => match d.trim() {
                "30" => 30,
                "60" => 60,
                "90" => 90,
                other => {
                    return Err(invalid(format!(
                        "Days must be 30, 60 or 90, not `{other}`."
                    )))
                }
            },
            None => 30,
        };
        let request_frequent = match freq {
            Some(f) => positive(&f, "RequestFrequent")?,
            None => 1,
        };
        Ok(IntelligentTiering {
            status,
            days,
            request_frequent,
        })
    }

    fn render(&self) -> String {
        let mut x = Xml::new("IntelligentTieringConfiguration");
        x.elem("Status", &self.status);
        x.open("Transition")
            .elem("Days", &self.days.to_string())
            .elem("RequestFrequent", &self.request_frequent.to_string())
            .close("Transition");
        x.finish("IntelligentTieringConfiguration")
    }

    /// Once enabled, only the same document may be PUT again.
    fn check_replace(&self, current: Option<&Self>) -> Result<()> {
        match current {
            Some(c) if c.status.starts_with("Enable") && c != self => Err(invalid(
                "Not support modify intelligent tiering configuration",
            )),
            _ => Ok(()),
        }
    }
}

impl IntelligentTiering {
    /// The v1 rule as the v2 rule `default`.
    fn as_v2(&self) -> TieringRule {
        TieringRule {
            id: DEFAULT_ID.to_string(),
            status: self.status.clone(),
            filter: None,
            tierings: vec![Tiering {
                access_tier: "INFREQUENT".to_string(),
                days: self.days,
                request_frequent: Some(self.request_frequent),
            }],
        }
    }
}

// ---------------------------------------------------------------------------
// v2

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieringRule {
    pub id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<TieringFilter>,
    pub tierings: Vec<Tiering>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieringFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<TieringAnd>,
}

/// `<Filter><And>`: its prefix and tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieringAnd {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tiering {
    /// INFREQUENT, ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS.
    pub access_tier: String,
    pub days: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_frequent: Option<u64>,
}

/// The stored v2 rules, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct V2Rules {
    rules: BTreeMap<String, TieringRule>,
}

#[derive(Deserialize)]
struct V2In {
    #[serde(rename = "Id")]
    id: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<V2FilterIn>,
    #[serde(rename = "Tiering", default)]
    tierings: Vec<TieringIn>,
}

#[derive(Deserialize, Default)]
struct V2FilterIn {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tag: Option<TagIn>,
    #[serde(rename = "And")]
    and: Option<V2AndIn>,
}

#[derive(Deserialize, Default)]
struct V2AndIn {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagIn>,
}

#[derive(Deserialize)]
struct TagIn {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "Value")]
    value: Option<String>,
}

#[derive(Deserialize)]
struct TieringIn {
    #[serde(rename = "AccessTier")]
    access_tier: Option<String>,
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "RequestFrequent")]
    request_frequent: Option<String>,
}

/// A valid v2 id: 1–64 of letters, digits, `-`, `_` and `.`.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn tag(t: TagIn) -> Result<(String, String)> {
    match t.key {
        Some(k) if !k.is_empty() => Ok((k, t.value.unwrap_or_default())),
        _ => Err(Error::with_message(
            ErrorCode::MalformedXML,
            "A Tag needs a Key.",
        )),
    }
}

/// Parses a v2 PUT body for the id in the query.
/// # Behavior
/// - Not XML / wrong root / no Status / no Tiering → 400 MalformedXML.
/// - A body `Id` other than the query's, a bad id, an unknown or repeated
///   AccessTier, Days or RequestFrequent not positive, a bad Status →
///   400 InvalidArgument.
pub fn parse_v2(body: &[u8], id: &str) -> Result<TieringRule> {
    let doc: V2In = parse_xml(body, "IntelligentTieringConfiguration")?;
    if !valid_id(id) {
        return Err(invalid(
            "The id must be 1-64 letters, digits, '-', '_' or '.'.",
        ));
    }
    if doc.id.as_deref().is_some_and(|b| b.trim() != id) {
        return Err(invalid("The Id in the body must equal the id parameter."));
    }
    let status = status(doc.status)?;
    if doc.tierings.is_empty() {
        return Err(Error::with_message(
            ErrorCode::MalformedXML,
            "At least one Tiering is required.",
        ));
    }
    let mut tierings: Vec<Tiering> = Vec::new();
    for t in doc.tierings {
        let tier = t.access_tier.unwrap_or_default().trim().to_string();
        if !["INFREQUENT", "ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"].contains(&tier.as_str()) {
            return Err(invalid(format!(
                "AccessTier must be INFREQUENT, ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS, not `{tier}`."
            )));
        }
        if tierings.iter().any(|x| x.access_tier == tier) {
            return Err(invalid(format!("The AccessTier {tier} is given twice.")));
        }
        let days = positive(t.days.as_deref().unwrap_or(""), "Days")?;
        let request_frequent = t
            .request_frequent
            .map(|f| positive(&f, "RequestFrequent"))
            .transpose()?;
        tierings.push(Tiering {
            access_tier: tier,
            days,
            request_frequent,
        });
    }
    let filter = match doc.filter {
        Some(f) => Some(TieringFilter {
            prefix: f.prefix,
            tag: f.tag.map(tag).transpose()?,
            and: match f.and {
                Some(a) => Some(TieringAnd {
                    prefix: a.prefix,
                    tags: a.tags.into_iter().map(tag).collect::<Result<_>>()?,
                }),
                None => None,
            },
        }),
        None => None,
    };
    Ok(TieringRule {
        id: id.to_string(),
        status,
        filter,
        tierings,
    })
}

fn render_rule(x: &mut Xml, r: &TieringRule) {
    x.elem("Id", &r.id).elem("Status", &r.status);
    if let Some(f) = &r.filter {
        x.open("Filter");
        if let Some(p) = &f.prefix {
            x.elem("Prefix", p);
        }
        if let Some((k, v)) = &f.tag {
            x.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
        }
        if let Some(a) = &f.and {
            x.open("And");
            if let Some(p) = &a.prefix {
                x.elem("Prefix", p);
            }
            for (k, v) in &a.tags {
                x.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
            }
            x.close("And");
        }
        x.close("Filter");
    }
    for t in &r.tierings {
        x.open("Tiering")
            .elem("AccessTier", &t.access_tier)
            .elem("Days", &t.days.to_string());
        if let Some(f) = t.request_frequent {
            x.elem("RequestFrequent", &f.to_string());
        }
        x.close("Tiering");
    }
}

/// Every v2 rule of a bucket record, the v1 rule included as `default`.
fn all_rules(rec: &crate::storage::BucketRecord) -> BTreeMap<String, TieringRule> {
    let mut rules = rec
        .configs
        .get(V2_NAME)
        .and_then(|v| serde_json::from_value::<V2Rules>(v.clone()).ok())
        .unwrap_or_default()
        .rules;
    if let Some(v1) = super::stored::<IntelligentTiering>(rec) {
        rules.insert(DEFAULT_ID.to_string(), v1.as_v2());
    }
    rules
}

/// `?intelligent-tiering` (v2): GET with an id, GET without (list), PUT
/// and DELETE with an id.
pub async fn handle_v2(
    state: &AppState,
    bucket: &BucketName,
    method: &http::Method,
    req: Req,
) -> Result<Response> {
    let rec = super::bucket_record(state, bucket).await?;
    let id = req.query.get("id").map(str::to_string);
    match (method.clone(), id) {
        (http::Method::GET, None) => {
            let mut x = Xml::new("ListBucketIntelligentTieringConfigurationsOutput");
            for r in all_rules(&rec).values() {
                x.open("IntelligentTieringConfiguration");
                render_rule(&mut x, r);
                x.close("IntelligentTieringConfiguration");
            }
            let body = x.finish("ListBucketIntelligentTieringConfigurationsOutput");
            Ok(ResponseBuilder::new(StatusCode::OK).xml(body))
        }
        (http::Method::GET, Some(id)) => match all_rules(&rec).get(&id) {
            Some(r) => {
                let mut x = Xml::new("IntelligentTieringConfiguration");
                render_rule(&mut x, r);
                Ok(ResponseBuilder::new(StatusCode::OK)
                    .xml(x.finish("IntelligentTieringConfiguration")))
            }
            None => Err(Error::new(ErrorCode::NoSuchConfiguration)),
        },
        (_, None) => Err(invalid("The id parameter is required.")),
        (http::Method::PUT, Some(id)) => {
            let body = read_body(req).await?;
            let rule = parse_v2(&body, &id)?;
            if id == DEFAULT_ID {
                if let Some(existing) = all_rules(&rec).get(DEFAULT_ID) {
                    if *existing != rule {
                        return Err(invalid("The default rule cannot be modified"));
                    }
                }
            }
            update(state, bucket, move |rules| {
                rules.insert(rule.id.clone(), rule);
            })
            .await?;
            Ok(ResponseBuilder::new(StatusCode::OK)
                .content_length(0)
                .empty())
        }
        (_, Some(id)) => {
            if !all_rules(&rec).contains_key(&id) {
                return Err(Error::new(ErrorCode::NoSuchConfiguration));
            }
            if id == DEFAULT_ID {
                return Err(invalid("The default rule cannot be modified"));
            }
            update(state, bucket, move |rules| {
                rules.remove(&id);
            })
            .await?;
            Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
        }
    }
}

/// Changes the stored v2 rules in one bucket-record update.
async fn update(
    state: &AppState,
    bucket: &BucketName,
    change: impl FnOnce(&mut BTreeMap<String, TieringRule>) + Send + 'static,
) -> Result<()> {
    state
        .store
        .meta()
        .update_bucket(
            bucket.as_str(),
            Box::new(move |rec| {
                let mut v2 = rec
                    .configs
                    .get(V2_NAME)
                    .and_then(|v| serde_json::from_value::<V2Rules>(v.clone()).ok())
                    .unwrap_or_default();
                change(&mut v2.rules);
                if v2.rules.is_empty() {
                    rec.configs.remove(V2_NAME);
                } else if let Ok(v) = serde_json::to_value(&v2) {
                    rec.configs.insert(V2_NAME.to_string(), v);
                }
            }),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_validation() {
        let p = |s: &str| IntelligentTiering::parse(s.as_bytes());
        let ok = p("<IntelligentTieringConfiguration><Status>Enabled</Status><Transition><Days>60</Days><RequestFrequent>1</RequestFrequent></Transition></IntelligentTieringConfiguration>").unwrap();
        assert_eq!((ok.days, ok.request_frequent), (60, 1));
        for (doc, code) in [
            ("<X/>", ErrorCode::MalformedXML),
            ("<IntelligentTieringConfiguration/>", ErrorCode::MalformedXML),
            ("<IntelligentTieringConfiguration><Status>On</Status></IntelligentTieringConfiguration>", ErrorCode::InvalidArgument),
            ("<IntelligentTieringConfiguration><Status>Enabled</Status><Transition><Days>45</Days></Transition></IntelligentTieringConfiguration>", ErrorCode::InvalidArgument),
            ("<IntelligentTieringConfiguration><Status>Enabled</Status><Transition><Days>30</Days><RequestFrequent>0</RequestFrequent></Transition></IntelligentTieringConfiguration>", ErrorCode::InvalidArgument),
        ] {
            assert_eq!(p(doc).unwrap_err().code, code, "{doc}");
        }
        // Once enabled, it stays as it is.
        let other = IntelligentTiering {
            days: 90,
            ..ok.clone()
        };
        assert!(ok.check_replace(Some(&ok)).is_ok());
        assert_eq!(
            other.check_replace(Some(&ok)).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        assert!(other.check_replace(None).is_ok());
    }

    #[test]
    fn v2_validation() {
        let doc = |inner: &str| {
            format!("<IntelligentTieringConfiguration>{inner}</IntelligentTieringConfiguration>")
        };
        let tier = "<Tiering><AccessTier>ARCHIVE_ACCESS</AccessTier><Days>91</Days></Tiering>";
        let ok = parse_v2(
            doc(&format!("<Id>a</Id><Status>Enabled</Status>{tier}")).as_bytes(),
            "a",
        )
        .unwrap();
        assert_eq!(ok.tierings[0].days, 91);
        for (body, id, code) in [
            (doc("<Status>Enabled</Status>"), "a", ErrorCode::MalformedXML),
            (doc(tier), "a", ErrorCode::MalformedXML),
            (doc(&format!("<Id>b</Id><Status>Enabled</Status>{tier}")), "a", ErrorCode::InvalidArgument),
            (doc(&format!("<Status>Enabled</Status>{tier}")), "bad id!", ErrorCode::InvalidArgument),
            (doc(&format!("<Status>Enabled</Status>{tier}{tier}")), "a", ErrorCode::InvalidArgument),
            (doc("<Status>Enabled</Status><Tiering><AccessTier>HOT</AccessTier><Days>1</Days></Tiering>"), "a", ErrorCode::InvalidArgument),
            (doc("<Status>Enabled</Status><Tiering><AccessTier>INFREQUENT</AccessTier><Days>0</Days></Tiering>"), "a", ErrorCode::InvalidArgument),
        ] {
            assert_eq!(parse_v2(body.as_bytes(), id).unwrap_err().code, code, "{body}");
        }
    }
}
