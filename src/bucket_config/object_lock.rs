//! Object lock (WORM) `PUT/GET/DELETE /?object-lock` (cos-bucket.md §12).
//!
//! ```text
//! <ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>
//!   <Rule><DefaultRetention><Days>1..36500</Days><Mode>COMPLIANCE</Mode>?</DefaultRetention></Rule>?
//! </ObjectLockConfiguration>
//! ```
//!
//! Only `Enabled` is accepted and object lock can never be turned off; the
//! rule may be changed or removed (a PUT without `Rule`, or a DELETE:
//! NOTES-ON-ISSUES 8). GET unset → 404 ObjectLockConfigurationNotFoundError.
//! The effect (retention stamped on new versions, deletes and overwrites
//! refused) lives in the storage rules: `storage::lock`. The object-level
//! `?retention` call is in `op::retention`.

use http::StatusCode;
use serde::Deserialize;

use super::{get, parse_xml, read_body, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::Xml;
pub use crate::storage::lock::{retained, ObjectLockConfig};

/// Longest default retention COS accepts, in days.
pub const MAX_DAYS: u64 = 36_500;
/// The one retention mode COS offers.
pub const COMPLIANCE: &str = "COMPLIANCE";

const ROOT: &str = "ObjectLockConfiguration";

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "ObjectLockEnabled")]
    enabled: Option<String>,
    #[serde(rename = "Rule")]
    rule: Option<RuleDoc>,
}

#[derive(Deserialize)]
struct RuleDoc {
    #[serde(rename = "DefaultRetention")]
    retention: Option<RetentionDoc>,
}

#[derive(Deserialize)]
struct RetentionDoc {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Mode")]
    mode: Option<String>,
}

fn invalid(message: &str) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, message.to_string())
}

impl BucketConfig for ObjectLockConfig {
    const NAME: &'static str = crate::storage::lock::CONFIG_NAME;
    const UNSET: Unset = Unset::Error(ErrorCode::ObjectLockConfigurationNotFoundError);

    /// # Behavior
    /// - Not well-formed, wrong root, no `ObjectLockEnabled`, a `Rule`
    ///   without `DefaultRetention/Days`, Days not a whole number → 400
    ///   MalformedXML.
    /// - `ObjectLockEnabled` other than `Enabled`, Days outside 1..=36500,
    ///   Mode other than `COMPLIANCE` → 400 InvalidArgument.
    fn parse(body: &[u8]) -> Result<Self> {
        let doc: Doc = parse_xml(body, ROOT)?;
        let malformed = || Error::new(ErrorCode::MalformedXML);
        let enabled = doc.enabled.ok_or_else(malformed)?;
        if enabled.trim() != "Enabled" {
            return Err(invalid(
                "ObjectLockEnabled must be Enabled: object lock cannot be turned off.",
            ));
        }
        let Some(rule) = doc.rule else {
            return Ok(ObjectLockConfig::default());
        };
        let retention = rule.retention.ok_or_else(malformed)?;
        let days: u64 = retention
            .days
            .ok_or_else(malformed)?
            .trim()
            .parse()
            .map_err(|_| malformed())?;
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(invalid("Days must be between 1 and 36500."));
        }
        let mode = match retention.mode.map(|m| m.trim().to_string()) {
            None => None,
            Some(m) if m == COMPLIANCE => Some(m),
            Some(_) => return Err(invalid("Mode must be COMPLIANCE.")),
        };
        Ok(ObjectLockConfig {
            days: Some(days),
            mode,
            day_ms: 0,
        })
    }

    fn render(&self) -> String {
        let mut x = Xml::new(ROOT);
        x.elem("ObjectLockEnabled", "Enabled");
        if let Some(days) = self.days {
            x.open("Rule").open("DefaultRetention");
            x.elem("Days", &days.to_string());
            if let Some(mode) = &self.mode {
                x.elem("Mode", mode);
            }
            x.close("DefaultRetention").close("Rule");
        }
        x.finish(ROOT)
    }
}

/// Routes `?object-lock` by method.
pub async fn dispatch(
    state: &AppState,
    bucket: &BucketName,
    method: &http::Method,
    req: Req,
) -> Result<Response> {
    match *method {
        http::Method::GET => get::<ObjectLockConfig>(state, bucket).await,
        http::Method::PUT => put(state, bucket, req).await,
        _ => delete(state, bucket).await,
    }
}

/// PUT: stores the document with the day clock's current day length (the
/// retention every node stamps, `storage::lock`).
async fn put(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    super::bucket_record(state, bucket).await?;
    let body = read_body(req).await?;
    let mut doc = ObjectLockConfig::parse(&body)?;
    doc.day_ms = state.config.days.days_ms(1);
    store(state, bucket, Some(doc)).await?;
    Ok(ResponseBuilder::new(StatusCode::OK)
        .content_length(0)
        .empty())
}

/// DELETE: object lock stays enabled; only the default rule goes
/// (NOTES-ON-ISSUES 8). 204 whether or not anything was configured.
async fn delete(state: &AppState, bucket: &BucketName) -> Result<Response> {
    store(state, bucket, None).await?;
    Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
}

/// Writes `doc` (`None`: drop the rule of a stored configuration) in one
/// bucket-record update.
async fn store(state: &AppState, bucket: &BucketName, doc: Option<ObjectLockConfig>) -> Result<()> {
    state
        .store
        .meta()
        .update_bucket(
            bucket.as_str(),
            Box::new(move |rec| {
                let name = <ObjectLockConfig as BucketConfig>::NAME;
                let next = match doc {
                    Some(d) => Some(d),
                    None => ObjectLockConfig::of(rec).map(|c| ObjectLockConfig {
                        days: None,
                        mode: None,
                        ..c
                    }),
                };
                if let Some(value) = next.and_then(|d| serde_json::to_value(d).ok()) {
                    rec.configs.insert(name.to_string(), value);
                }
            }),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ObjectLockConfig> {
        ObjectLockConfig::parse(s.as_bytes())
    }

    fn doc(inner: &str) -> String {
        format!("<ObjectLockConfiguration>{inner}</ObjectLockConfiguration>")
    }

    #[test]
    fn documents_table() {
        let en = "<ObjectLockEnabled>Enabled</ObjectLockEnabled>";
        let rule = |d: &str| format!("<Rule><DefaultRetention>{d}</DefaultRetention></Rule>");
        type Want = std::result::Result<(Option<u64>, Option<&'static str>), &'static str>;
        let table: Vec<(String, Want)> = vec![
            (doc(en), Ok((None, None))),
            (
                format!("{}{}", doc(&format!("{en}{}", rule("<Days>30</Days>"))), ""),
                Ok((Some(30), None)),
            ),
            (
                doc(&format!(
                    "{}{en}",
                    rule("<Mode>COMPLIANCE</Mode><Days>1</Days>")
                )),
                Ok((Some(1), Some("COMPLIANCE"))),
            ),
            (
                doc(&format!("{en}{}", rule("<Days>36500</Days>"))),
                Ok((Some(36500), None)),
            ),
            (
                doc(&format!("{en}{}", rule("<Days>0</Days>"))),
                Err("InvalidArgument"),
            ),
            (
                doc(&format!("{en}{}", rule("<Days>36501</Days>"))),
                Err("InvalidArgument"),
            ),
            (
                doc(&format!("{en}{}", rule("<Days>-1</Days>"))),
                Err("MalformedXML"),
            ),
            (
                doc(&format!("{en}{}", rule("<Days>ten</Days>"))),
                Err("MalformedXML"),
            ),
            (
                doc(&format!("{en}{}", rule("<Mode>COMPLIANCE</Mode>"))),
                Err("MalformedXML"),
            ),
            (doc(&format!("{en}<Rule></Rule>")), Err("MalformedXML")),
            (
                doc(&format!(
                    "{en}{}",
                    rule("<Days>3</Days><Mode>GOVERNANCE</Mode>")
                )),
                Err("InvalidArgument"),
            ),
            (
                doc("<ObjectLockEnabled>Disabled</ObjectLockEnabled>"),
                Err("InvalidArgument"),
            ),
            (doc(""), Err("MalformedXML")),
            (
                "<ObjectLock><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLock>".into(),
                Err("MalformedXML"),
            ),
            ("<ObjectLockConfiguration>".into(), Err("MalformedXML")),
            (String::new(), Err("MalformedXML")),
        ];
        for (body, want) in table {
            match (parse(&body), want) {
                (Ok(got), Ok((days, mode))) => {
                    assert_eq!(got.days, days, "{body}");
                    assert_eq!(got.mode.as_deref(), mode, "{body}");
                }
                (Err(e), Err(code)) => assert_eq!(e.code.as_str(), code, "{body}"),
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn render_round_trips() {
        for body in [
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Days>30</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Days>7</Days><Mode>COMPLIANCE</Mode></DefaultRetention></Rule></ObjectLockConfiguration>",
        ] {
            let rendered = parse(body).unwrap().render();
            let (_, doc) = rendered.split_once("?>").unwrap();
            assert_eq!(doc.trim().replace('\n', ""), body);
        }
    }
}
