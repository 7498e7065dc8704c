//! The POST policy of a browser form upload (spec cos.md §1.9, §6A.6; s3.md
//! §1.4): a base64 JSON document `{"expiration": ISO-8601, "conditions":
//! [...]}` whose conditions every form must satisfy. Pure: parse, then
//! [`Policy::check`] against the form's values at a given time.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::Value;

use crate::auth::Family;
use crate::error::{Error, ErrorCode, Result};

/// One condition of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "v"}` or `["eq", "$field", "v"]`.
    Eq { field: String, value: String },
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith { field: String, prefix: String },
    /// `["content-length-range", min, max]`: the file's size in bytes.
    LengthRange { min: u64, max: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub expiration: SystemTime,
    pub conditions: Vec<Condition>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidPolicyDocument, message)
}

fn denied(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::AccessDenied, message)
}

/// Fields a form may carry without a condition naming them (S3: the
/// signature itself, the file, the policy and `x-ignore-*`).
fn exempt(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "file" | "policy" | "x-amz-signature" | "signature" | "awsaccesskeyid"
    ) || n.starts_with("x-ignore-")
}

impl Policy {
    /// Decodes the `policy` field. Not base64, not JSON, no `expiration` or
    /// no `conditions`, or a condition of an unknown shape → 400 InvalidPolicyDocument.
    pub fn parse(b64: &str) -> Result<Policy> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| invalid("Invalid Policy: Invalid Base64 Encoding."))?;
        let doc: Value =
            serde_json::from_slice(&raw).map_err(|_| invalid("Invalid Policy: Invalid JSON."))?;
        let expiration = doc
            .get("expiration")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Invalid Policy: Policy missing expiration."))?;
        let expiration =
            humantime::parse_rfc3339_weak(expiration.trim_end_matches('Z')).map_err(|_| {
                invalid(format!(
                    "Invalid Policy: Invalid 'expiration' value: '{expiration}'."
                ))
            })?;
        let conditions = doc
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("Invalid Policy: Policy missing conditions."))?
            .iter()
            .map(parse_condition)
            .collect::<Result<_>>()?;
        Ok(Policy {
            expiration,
            conditions,
        })
    }

    /// Checks the policy against a form. `value(name)` gives a form field's
    /// value (names case-insensitive; `bucket` and the substituted `key`
    /// included). Returns the allowed file size range, if any.
    /// # Behavior
    /// - past `expiration` → 403 AccessDenied naming the expiration and now;
    /// - a condition not met, or naming a field the form lacks → 403
    ///   AccessDenied naming the field and the value (values compare
    ///   case-sensitively);
    /// - S3: a form field no condition names (other than the exempt ones)
    ///   → 403 AccessDenied "Extra input fields".
    pub fn check<'a>(
        &self,
        now: SystemTime,
        family: Family,
        value: impl Fn(&str) -> Option<&'a str>,
        field_names: &[&str],
    ) -> Result<Option<(u64, u64)>> {
        if now > self.expiration {
            let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            return Err(denied(match family {
                Family::Cos => format!(
                    "Request has expired, the policy expiration is {} (unix time {}) and the current unix time is {}.",
                    humantime::format_rfc3339_seconds(self.expiration),
                    secs(self.expiration),
                    secs(now)
                ),
                _ => "Invalid according to Policy: Policy expired.".to_string(),
            }));
        }
        let mut range = None;
        for c in &self.conditions {
            let (field, ok, expected) = match c {
                Condition::LengthRange { min, max } => {
                    range = Some((*min, *max));
                    continue;
                }
                Condition::Eq { field, value: want } => {
                    (field, value(field).is_some_and(|v| v == want), want)
                }
                Condition::StartsWith { field, prefix } => {
                    // An empty prefix allows anything, a missing field too (S3).
                    let got = value(field).or(prefix.is_empty().then_some(""));
                    (
                        field,
                        got.is_some_and(|v| v.starts_with(prefix.as_str())),
                        prefix,
                    )
                }
            };
            if !ok {
                return Err(denied(match family {
                    Family::Cos => {
                        format!("Condition key {field} doesn't match the value {expected}.")
                    }
                    _ => format!(
                        "Invalid according to Policy: Policy Condition failed: {}",
                        describe(c)
                    ),
                }));
            }
        }
        if family == Family::S3 {
            let named = |n: &str| {
                self.conditions.iter().any(|c| match c {
                    Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => {
                        field.eq_ignore_ascii_case(n)
                    }
                    Condition::LengthRange { .. } => false,
                })
            };
            if let Some(extra) = field_names.iter().find(|n| !exempt(n) && !named(n)) {
                return Err(denied(format!(
                    "Invalid according to Policy: Extra input fields: {extra}"
                )));
            }
        }
        Ok(range)
    }
}

fn describe(c: &Condition) -> String {
    match c {
        Condition::Eq { field, value } => format!("[\"eq\", \"${field}\", \"{value}\"]"),
        Condition::StartsWith { field, prefix } => {
            format!("[\"starts-with\", \"${field}\", \"{prefix}\"]")
        }
        Condition::LengthRange { min, max } => format!("[\"content-length-range\", {min}, {max}]"),
    }
}

fn parse_condition(v: &Value) -> Result<Condition> {
    let bad = || invalid(format!("Invalid Policy: Invalid Condition: {v}"));
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        // {"field": "value"}: exactly one pair.
        Value::Object(map) if map.len() == 1 => {
            let (k, val) = map.iter().next().expect("one entry");
            Ok(Condition::Eq {
                field: k.trim_start_matches('$').to_string(),
                value: text(val).ok_or_else(bad)?,
            })
        }
        Value::Array(items) if items.len() == 3 => {
            let op = items[0].as_str().ok_or_else(bad)?.to_ascii_lowercase();
            if op == "content-length-range" {
                let n = |v: &Value| match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                let (min, max) = (n(&items[1]).ok_or_else(bad)?, n(&items[2]).ok_or_else(bad)?);
                return if min <= max {
                    Ok(Condition::LengthRange { min, max })
                } else {
                    Err(bad())
                };
            }
            let field = items[1]
                .as_str()
                .and_then(|f| f.strip_prefix('$'))
                .ok_or_else(bad)?
                .to_string();
            let value = text(&items[2]).ok_or_else(bad)?;
            match op.as_str() {
                "eq" => Ok(Condition::Eq { field, value }),
                "starts-with" => Ok(Condition::StartsWith {
                    field,
                    prefix: value,
                }),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn parses_every_condition_shape() {
        let p = Policy::parse(&b64(
            r#"{"expiration":"2019-08-30T09:38:12.414Z","conditions":[
            {"acl":"default"},{"$bucket":"b-1250000000"},["eq","$key","k"],
            ["starts-with","$Content-Type","image/"],["content-length-range",1,"10"],
            {"success_action_status":201}]}"#,
        ))
        .unwrap();
        assert_eq!(p.expiration, at(1_567_157_892) + Duration::from_millis(414));
        assert_eq!(
            p.conditions,
            vec![
                Condition::Eq {
                    field: "acl".into(),
                    value: "default".into()
                },
                Condition::Eq {
                    field: "bucket".into(),
                    value: "b-1250000000".into()
                },
                Condition::Eq {
                    field: "key".into(),
                    value: "k".into()
                },
                Condition::StartsWith {
                    field: "Content-Type".into(),
                    prefix: "image/".into()
                },
                Condition::LengthRange { min: 1, max: 10 },
                Condition::Eq {
                    field: "success_action_status".into(),
                    value: "201".into()
                },
            ]
        );
    }

    #[test]
    fn bad_documents_are_invalid_policy() {
        for doc in [
            "not base64!",
            &b64("not json"),
            &b64(r#"{"conditions":[]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z"}"#),
            &b64(r#"{"expiration":"tomorrow","conditions":[]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","key","v"]]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["in","$key","v"]]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[{"a":"1","b":"2"}]}"#),
            &b64(
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",5,1]]}"#,
            ),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":["x"]}"#),
        ] {
            let e = Policy::parse(doc).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidPolicyDocument, "{doc}");
        }
    }

    #[test]
    fn conditions_table() {
        let p = Policy::parse(&b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[
            {"bucket":"b-1250000000"},["starts-with","$key","up/"],["eq","$x-cos-meta-a","V"],
            ["starts-with","$Content-Type",""],["content-length-range",0,100]]}"#))
        .unwrap();
        let now = at(1_800_000_000);
        let form = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| *v)
            }
        };
        let ok: &[(&str, &str)] = &[
            ("bucket", "b-1250000000"),
            ("key", "up/a"),
            ("X-Cos-Meta-A", "V"),
        ];
        assert_eq!(
            p.check(now, Family::Cos, form(ok), &[]).unwrap(),
            Some((0, 100))
        );
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("bucket", "other"), ("key", "up/a"), ("x-cos-meta-a", "V")],
                "bucket",
            ),
            (
                &[
                    ("bucket", "b-1250000000"),
                    ("key", "down/a"),
                    ("x-cos-meta-a", "V"),
                ],
                "key",
            ),
            (
                &[
                    ("bucket", "b-1250000000"),
                    ("key", "up/a"),
                    ("x-cos-meta-a", "v"),
                ],
                "x-cos-meta-a",
            ),
            (
                &[("bucket", "b-1250000000"), ("key", "up/a")],
                "x-cos-meta-a",
            ),
        ];
        for (pairs, field) in cases {
            let e = p.check(now, Family::Cos, form(pairs), &[]).unwrap_err();
            assert_eq!(e.code, ErrorCode::AccessDenied);
            assert!(
                e.message().contains(&format!("Condition key {field} ")),
                "{}",
                e.message()
            );
        }
        // Expired: the message names both times.
        let e = p
            .check(at(1_900_000_000), Family::Cos, form(ok), &[])
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessDenied);
        assert!(e.message().contains("1893456000") && e.message().contains("1900000000"));
        let e = p
            .check(at(1_900_000_000), Family::S3, form(ok), &[])
            .unwrap_err();
        assert_eq!(e.message(), "Invalid according to Policy: Policy expired.");
    }

    #[test]
    fn s3_refuses_fields_no_condition_names() {
        let p = Policy::parse(&b64(
            r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["starts-with","$key",""]]}"#,
        ))
        .unwrap();
        let v = |_: &str| Some("k");
        let now = at(1_800_000_000);
        let fine = ["key", "policy", "x-amz-signature", "X-Ignore-me", "file"];
        assert!(p.check(now, Family::S3, v, &fine).is_ok());
        let e = p.check(now, Family::S3, v, &["key", "acl"]).unwrap_err();
        assert_eq!(
            e.message(),
            "Invalid according to Policy: Extra input fields: acl"
        );
        // COS does not ask for it.
        assert!(p.check(now, Family::Cos, v, &["key", "acl"]).is_ok());
    }
}
