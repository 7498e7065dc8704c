//! Bucket policy `PUT/GET/DELETE /?policy` (cos-bucket.md §3): a CAM policy
//! in JSON, validated against the grammar COS accepts, stored as sent (the
//! top-level keys normalised to `Statement` and `version`, as COS answers),
//! and evaluated with the ACLs by `authz::check` through [`evaluate`].
//!
//! Evaluation (§3.2, CAM semantics): a matching `deny` wins over everything
//! (ACL grants, key scope, a matching `allow`); a matching `allow` grants an
//! anonymous request what its ACLs would refuse. Principals and localcos
//! identities:
//! * `*`, `qcs::cam::anyone:anyone` (also `{"qcs": "*"}`): every requester,
//!   anonymous or signed;
//! * `qcs::cam::anonymous:anonymous`: unsigned requests only;
//! * `qcs::cam::uin/<appid>:uin/<appid>` (the root account of the bucket's
//!   APPID): the owner, i.e. an unscoped read-write key;
//! * `qcs::cam::uin/<appid>:uin/<SecretId>` (or `uin/*`): that key (any key);
//! * other CAM principals (groups, roles, other accounts) name nobody here.
//!
//! An `allow` never widens a signed key's configured scope (`buckets`,
//! `read-only`): the scope is the key's CAM policy and stays a hard limit.
//! The owner is never locked out of `?policy` itself (§3.2).

use std::borrow::Cow;
use std::net::IpAddr;

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{BucketConfig, Subresource, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::http::query::Query;
use crate::route::Operation;

/// Largest policy document accepted (the CAM/S3 bucket-policy limit).
pub const MAX_SIZE: usize = 20 * 1024;
/// Most statements one policy may hold.
pub const MAX_STATEMENTS: usize = 100;

/// The stored document (JSON as sent, top-level keys normalised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BucketPolicy {
    pub doc: Value,
}

fn malformed(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::MalformedPolicy, message.into())
}

impl BucketConfig for BucketPolicy {
    const NAME: &'static str = "policy";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchPolicy);
    const PUT_STATUS: StatusCode = StatusCode::NO_CONTENT;
    const CONTENT_TYPE: &'static str = "application/json";

    /// # Behavior
    /// - Over [`MAX_SIZE`] bytes, not JSON, not an object, or anything
    ///   outside the grammar ([`compile`]) → 400 MalformedPolicy.
    fn parse(body: &[u8]) -> Result<Self> {
        if body.len() > MAX_SIZE {
            return Err(malformed("Policies must be smaller than 20 KB."));
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| malformed(format!("Invalid JSON: {e}.")))?;
        let Value::Object(obj) = value else {
            return Err(malformed("A policy is a JSON object."));
        };
        let mut doc = Map::new();
        for (k, v) in obj {
            let name = match k.as_str() {
                "statement" | "Statement" => "Statement".to_string(),
                "version" | "Version" => "version".to_string(),
                _ => k,
            };
            if doc.insert(name.clone(), v).is_some() {
                return Err(malformed(format!("Duplicate element {name}.")));
            }
        }
        doc.entry("version")
            .or_insert_with(|| Value::String("2.0".into()));
        let doc = Value::Object(doc);
        compile(&doc)?;
        Ok(BucketPolicy { doc })
    }

    fn render(&self) -> String {
        self.doc.to_string()
    }
}

/// One compiled policy, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    deny: bool,
    principals: Vec<Principal>,
    /// Lower-case action globs without `name/` (`cos:getobject`, `cos:*`, `*`).
    actions: Vec<String>,
    /// Resource globs (`*` matches any run of characters).
    resources: Vec<String>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
enum Principal {
    /// `*`, `qcs::cam::anyone:anyone`.
    Anyone,
    /// `qcs::cam::anonymous:anonymous`.
    Anonymous,
    /// `qcs::cam::uin/<root>:uin/<sub>`.
    Uin { root: String, sub: String },
    /// Other CAM principals: nobody localcos knows.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEqual,
    StringNotEqual,
    StringLike,
    StringNotLike,
    IpEqual,
    IpNotEqual,
    NumericEqual,
    NumericNotEqual,
    NumericLessThan,
    NumericLessThanEqual,
    NumericGreaterThan,
    NumericGreaterThanEqual,
    Bool,
}

const OPERATORS: &[(&str, Op)] = &[
    ("string_equal", Op::StringEqual),
    ("string_not_equal", Op::StringNotEqual),
    ("string_like", Op::StringLike),
    ("string_not_like", Op::StringNotLike),
    ("ip_equal", Op::IpEqual),
    ("ip_not_equal", Op::IpNotEqual),
    ("numeric_equal", Op::NumericEqual),
    ("numeric_not_equal", Op::NumericNotEqual),
    ("numeric_less_than", Op::NumericLessThan),
    ("numeric_less_than_equal", Op::NumericLessThanEqual),
    ("numeric_greater_than", Op::NumericGreaterThan),
    ("numeric_greater_than_equal", Op::NumericGreaterThanEqual),
    ("bool", Op::Bool),
];

impl Op {
    /// Negated operators hold when no value matches (and when the key is absent).
    fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEqual | Op::StringNotLike | Op::IpNotEqual | Op::NumericNotEqual
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    op: Op,
    if_exist: bool,
    /// Lower-case condition key, e.g. `qcs:ip`.
    key: String,
    values: Vec<CondValue>,
}

#[derive(Debug, Clone, PartialEq)]
enum CondValue {
    Text(String),
    Net(IpAddr, u8),
    Number(f64),
    Bool(bool),
}

/// A top-level or statement element, spelt lower-case or capitalised.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a Value>> {
    // `name` is one of the grammar's ASCII element names.
    let capital = format!("{}{}", name[..1].to_ascii_uppercase(), &name[1..]);
    match (obj.get(name), obj.get(&capital)) {
        (Some(_), Some(_)) => Err(malformed(format!("Duplicate element {capital}."))),
        (a, b) => Ok(a.or(b)),
    }
}

/// A string or a non-empty array of strings.
fn strings<'a>(v: &'a Value, what: &str) -> Result<Vec<&'a str>> {
    let bad = || malformed(format!("{what} must be a string or a list of strings."));
    match v {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|i| i.as_str().ok_or_else(bad)).collect()
        }
        _ => Err(bad()),
    }
}

fn known_key(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<()> {
    for k in obj.keys() {
        let lower = k.to_ascii_lowercase();
        // All lower-case, or only the first letter capitalised.
        let capitalised_or_lower = k.get(1..).is_some_and(|rest| Some(rest) == lower.get(1..));
        if !capitalised_or_lower || !allowed.contains(&lower.as_str()) {
            return Err(malformed(format!("Unknown element {k} in {what}.")));
        }
    }
    Ok(())
}

fn principal(p: &str) -> Result<Principal> {
    let p = p.trim();
    if p == "*" || p == "qcs::cam::anyone:anyone" {
        return Ok(Principal::Anyone);
    }
    if p == "qcs::cam::anonymous:anonymous" {
        return Ok(Principal::Anonymous);
    }
    let bad = || malformed(format!("Invalid principal {p}."));
    let rest = p.strip_prefix("qcs::cam::uin/").ok_or_else(bad)?;
    let (root, entity) = rest.split_once(':').ok_or_else(bad)?;
    if root.is_empty() || !root.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (kind, id) = entity.split_once('/').ok_or_else(bad)?;
    if kind.is_empty() || id.is_empty() {
        return Err(bad());
    }
    Ok(if kind == "uin" {
        Principal::Uin {
            root: root.to_string(),
            sub: id.to_string(),
        }
    } else {
        Principal::Other
    })
}

fn principals(v: &Value) -> Result<Vec<Principal>> {
    match v {
        Value::String(s) if s == "*" => Ok(vec![Principal::Anyone]),
        Value::Object(o) => {
            let mut out = Vec::new();
            for (k, v) in o {
                if k != "qcs" {
                    return Err(malformed(format!("Unknown principal type {k}.")));
                }
                for p in strings(v, "principal.qcs")? {
                    out.push(principal(p)?);
                }
            }
            if out.is_empty() {
                return Err(malformed("principal names nobody."));
            }
            Ok(out)
        }
        _ => Err(malformed("principal must be {\"qcs\": [...]} or \"*\".")),
    }
}

fn action(a: &str) -> Result<String> {
    let a = a.trim();
    let bad = || malformed(format!("Invalid action {a}."));
    if a == "*" {
        return Ok("*".into());
    }
    let a = a.strip_prefix("name/").unwrap_or(a);
    let name = a.strip_prefix("cos:").ok_or_else(bad)?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*') {
        return Err(bad());
    }
    Ok(format!("cos:{}", name.to_ascii_lowercase()))
}

fn resource(r: &str) -> Result<String> {
    let r = r.trim();
    if r == "*" || r.starts_with("qcs::cos:") {
        Ok(r.to_string())
    } else {
        Err(malformed(format!(
            "Invalid resource {r}: expected qcs::cos:<region>:uid/<appid>:<bucket>/<key>."
        )))
    }
}

/// `a.b.c.d`, `a.b.c.d/n`, IPv6 forms likewise.
fn net(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.trim().split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s.trim(), None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

fn condition_values(op: Op, key: &str, v: &Value) -> Result<Vec<CondValue>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) if !a.is_empty() => a.iter().collect(),
        Value::Array(_) => return Err(malformed(format!("Condition {key} has no value."))),
        other => vec![other],
    };
    let bad = || malformed(format!("Invalid value for condition key {key}."));
    items
        .into_iter()
        .map(|item| {
            let text = match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(bad()),
            };
            Ok(match op {
                Op::IpEqual | Op::IpNotEqual => {
                    let (ip, bits) = net(&text).ok_or_else(bad)?;
                    CondValue::Net(ip, bits)
                }
                Op::Bool => CondValue::Bool(match text.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad()),
                }),
                Op::StringEqual | Op::StringNotEqual | Op::StringLike | Op::StringNotLike => {
                    CondValue::Text(text)
                }
                _ => CondValue::Number(text.trim().parse().map_err(|_| bad())?),
            })
        })
        .collect()
}

fn conditions(v: &Value) -> Result<Vec<Condition>> {
    let Value::Object(ops) = v else {
        return Err(malformed("condition must be an object."));
    };
    let mut out = Vec::new();
    for (name, keys) in ops {
        let lower = name.to_ascii_lowercase();
        let (base, if_exist) = match lower.strip_suffix("_if_exist") {
            Some(b) => (b, true),
            None => (lower.as_str(), false),
        };
        let op = OPERATORS
            .iter()
            .find(|(n, _)| *n == base)
            .map(|(_, op)| *op)
            .ok_or_else(|| malformed(format!("Unknown condition operator {name}.")))?;
        let Value::Object(keys) = keys else {
            return Err(malformed(format!(
                "Condition {name} must map keys to values."
            )));
        };
        if keys.is_empty() {
            return Err(malformed(format!("Condition {name} names no key.")));
        }
        for (key, values) in keys {
            let key = key.to_ascii_lowercase();
            if !key.contains(':') {
                return Err(malformed(format!("Invalid condition key {key}.")));
            }
            let is_ip_key = key == "qcs:ip";
            if is_ip_key != matches!(op, Op::IpEqual | Op::IpNotEqual) {
                return Err(malformed(format!(
                    "Operator {name} does not apply to condition key {key}."
                )));
            }
            out.push(Condition {
                op,
                if_exist,
                values: condition_values(op, &key, values)?,
                key,
            });
        }
    }
    Ok(out)
}

/// Validates a stored document and compiles it.
/// # Behavior
/// - `version` other than "2.0"; no or an empty `statement` list (over
///   [`MAX_STATEMENTS`]); a statement without `effect` (allow|deny, any
///   case), `principal` (here or at the top), `action` or `resource`; an
///   unknown element, principal form, action, resource form, condition
///   operator or a bad condition value → 400 MalformedPolicy.
pub fn compile(doc: &Value) -> Result<Compiled> {
    let Value::Object(top) = doc else {
        return Err(malformed("A policy is a JSON object."));
    };
    known_key(
        top,
        &["version", "statement", "principal", "id"],
        "the policy",
    )?;
    match field(top, "version")? {
        None => {}
        Some(Value::String(v)) if v == "2.0" => {}
        Some(_) => return Err(malformed("version must be \"2.0\".")),
    }
    let shared = match field(top, "principal")? {
        Some(p) => Some(principals(p)?),
        None => None,
    };
    let list: Vec<&Value> = match field(top, "statement")? {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        Some(_) => return Err(malformed("statement must be a list.")),
        None => return Err(malformed("A policy needs a statement list.")),
    };
    if list.is_empty() || list.len() > MAX_STATEMENTS {
        return Err(malformed(format!(
            "A policy holds 1 to {MAX_STATEMENTS} statements."
        )));
    }
    let mut statements = Vec::with_capacity(list.len());
    for s in list {
        let Value::Object(s) = s else {
            return Err(malformed("A statement is a JSON object."));
        };
        known_key(
            s,
            &[
                "sid",
                "effect",
                "principal",
                "action",
                "resource",
                "condition",
            ],
            "a statement",
        )?;
        let deny = match field(s, "effect")?.and_then(Value::as_str) {
            Some(e) if e.eq_ignore_ascii_case("allow") => false,
            Some(e) if e.eq_ignore_ascii_case("deny") => true,
            _ => return Err(malformed("effect must be allow or deny.")),
        };
        let principals = match (field(s, "principal")?, &shared) {
            (Some(p), _) => principals(p)?,
            (None, Some(p)) => p.clone(),
            (None, None) => return Err(malformed("A statement needs a principal.")),
        };
        let actions = strings(
            field(s, "action")?.ok_or_else(|| malformed("A statement needs an action."))?,
            "action",
        )?
        .into_iter()
        .map(action)
        .collect::<Result<_>>()?;
        let resources = strings(
            field(s, "resource")?.ok_or_else(|| malformed("A statement needs a resource."))?,
            "resource",
        )?
        .into_iter()
        .map(resource)
        .collect::<Result<_>>()?;
        let conditions = match field(s, "condition")? {
            Some(c) => conditions(c)?,
            None => Vec::new(),
        };
        statements.push(Statement {
            deny,
            principals,
            actions,
            resources,
            conditions,
        });
    }
    Ok(Compiled { statements })
}

/// `*` matches any run of characters, `?` exactly one (condition `_like`
/// operators); everything else literally. `ci`: ASCII case-insensitive.
pub fn wildcard(pattern: &str, value: &str, ci: bool) -> bool {
    let (p, v) = (pattern.as_bytes(), value.as_bytes());
    let eq = |a: u8, b: u8| {
        if ci {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || eq(p[pi], v[vi])) {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Who is asking, as far as localcos knows identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester<'a> {
    Anonymous,
    /// A signed request: its SecretId, and whether the key is the owner
    /// (unscoped read-write).
    Key {
        secret_id: &'a str,
        owner: bool,
    },
}

/// What a request does to what, plus what conditions may test.
pub struct Request<'a> {
    pub requester: Requester<'a>,
    /// The COS action name without `name/cos:`, e.g. `GetObject` ([`action_of`]).
    pub action: &'a str,
    pub region: &'a str,
    /// The bucket owner's APPID (the bucket name's suffix).
    pub appid: &'a str,
    /// Full bucket name, `<name>-<appid>`.
    pub bucket: &'a str,
    /// `None` for bucket-level actions.
    pub key: Option<&'a str>,
    /// The client's address (`qcs:ip`); `None` when unknown.
    pub ip: Option<IpAddr>,
    /// Whether the request came over TLS (`cos:secure-transport`).
    pub secure: bool,
    pub headers: &'a HeaderMap,
    pub query: &'a Query,
}

/// A policy's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A matching `deny`: refused whatever else says.
    Deny,
    /// A matching `allow` and no matching `deny`.
    Allow,
    /// No statement applies.
    NotApplicable,
}

impl Compiled {
    /// # Behavior
    /// - A statement applies when its principal names the requester, one
    ///   action glob and one resource glob match, and every condition holds.
    /// - Any applying `deny` → Deny; else any applying `allow` → Allow.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let resource = format!(
            "qcs::cos:{}:uid/{}:{}/{}",
            req.region,
            req.appid,
            req.bucket,
            req.key.unwrap_or("")
        );
        let mut allowed = false;
        for s in &self.statements {
            if (s.deny || !allowed) && s.applies(req, &resource) {
                if s.deny {
                    return Decision::Deny;
                }
                allowed = true;
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }
}

impl Statement {
    fn applies(&self, req: &Request<'_>, resource: &str) -> bool {
        self.principals.iter().any(|p| p.names(req))
            && self.actions.iter().any(|a| {
                a == "*"
                    || a.strip_prefix("cos:")
                        .is_some_and(|a| wildcard(a, req.action, true))
            })
            && self
                .resources
                .iter()
                .any(|r| resource_matches(r, resource, req))
            && self.conditions.iter().all(|c| c.holds(req))
    }
}

/// Matches the standard form, and the legacy
/// `qcs::cos:<region>:uid/<appid>:prefix//<appid>/<short-bucket>/<key>` one.
fn resource_matches(pattern: &str, resource: &str, req: &Request<'_>) -> bool {
    if wildcard(pattern, resource, false) {
        return true;
    }
    if pattern.contains(":prefix//") {
        let short = req
            .bucket
            .strip_suffix(req.appid)
            .and_then(|s| s.strip_suffix('-'))
            .unwrap_or(req.bucket);
        let legacy = format!(
            "qcs::cos:{}:uid/{}:prefix//{}/{}/{}",
            req.region,
            req.appid,
            req.appid,
            short,
            req.key.unwrap_or("")
        );
        return wildcard(pattern, &legacy, false);
    }
    false
}

impl Principal {
    fn names(&self, req: &Request<'_>) -> bool {
        match (self, req.requester) {
            (Principal::Anyone, _) => true,
            (Principal::Anonymous, r) => r == Requester::Anonymous,
            (Principal::Uin { root, sub }, Requester::Key { secret_id, owner }) => {
                (root == req.appid || root == "*")
                    && (sub == "*" || sub == secret_id || (owner && sub == req.appid))
            }
            _ => false,
        }
    }
}

impl Condition {
    fn value<'a>(&self, req: &'a Request<'_>) -> Option<Cow<'a, str>> {
        let header = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed)
        };
        let query = |n: &str| req.query.get(n).map(Cow::Borrowed);
        match self.key.as_str() {
            "qcs:ip" => req.ip.map(|ip| Cow::Owned(ip.to_string())),
            "cos:secure-transport" => {
                Some(Cow::Borrowed(if req.secure { "true" } else { "false" }))
            }
            "cos:x-cos-storage-class" => header("x-cos-storage-class"),
            "cos:x-cos-acl" => header("x-cos-acl"),
            "cos:content-type" => header("content-type"),
            "cos:content-length" => header("content-length"),
            "cos:versionid" => query("versionId"),
            "cos:prefix" => query("prefix"),
            "cos:response-content-type" => query("response-content-type"),
            _ => None,
        }
    }

    fn holds(&self, req: &Request<'_>) -> bool {
        let Some(actual) = self.value(req) else {
            return self.if_exist || self.op.negated();
        };
        let any = self.values.iter().any(|v| match (self.op, v) {
            (Op::StringEqual | Op::StringNotEqual, CondValue::Text(t)) => *t == actual,
            (Op::StringLike | Op::StringNotLike, CondValue::Text(t)) => wildcard(t, &actual, false),
            (Op::IpEqual | Op::IpNotEqual, CondValue::Net(net, bits)) => {
                req.ip.is_some_and(|ip| in_net(ip, *net, *bits))
            }
            (Op::Bool, CondValue::Bool(b)) => actual.eq_ignore_ascii_case(&b.to_string()),
            (op, CondValue::Number(n)) => actual.trim().parse::<f64>().is_ok_and(|a| match op {
                Op::NumericEqual | Op::NumericNotEqual => a == *n,
                Op::NumericLessThan => a < *n,
                Op::NumericLessThanEqual => a <= *n,
                Op::NumericGreaterThan => a > *n,
                Op::NumericGreaterThanEqual => a >= *n,
                _ => false,
            }),
            _ => false,
        });
        any != self.op.negated()
    }
}

/// Whether `ip` lies in `net/bits` (an IPv4-mapped IPv6 client counts as IPv4).
fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The COS action name (`name/cos:<this>`) of each operation: one table.
pub fn action_of(op: &Operation) -> Cow<'static, str> {
    Cow::Borrowed(match op {
        Operation::ListBuckets => "GetService",
        Operation::CreateBucket(_) => "PutBucket",
        Operation::HeadBucket(_) => "HeadBucket",
        Operation::DeleteBucket(_) => "DeleteBucket",
        Operation::ListObjects(_) | Operation::ListObjectsV2(_) => "GetBucket",
        Operation::GetBucketLocation(_) => "GetBucketLocation",
        Operation::DeleteObjects(_) => "DeleteMultipleObjects",
        Operation::GetBucketVersioning(_) => "GetBucketVersioning",
        Operation::PutBucketVersioning(_) => "PutBucketVersioning",
        Operation::ListObjectVersions(_) => "GetBucketObjectVersions",
        Operation::PutObject(..) | Operation::CopyObject(..) => "PutObject",
        Operation::AppendObject(..) => "AppendObject",
        Operation::GetObject(..) => "GetObject",
        Operation::HeadObject(..) => "HeadObject",
        Operation::DeleteObject(..) => "DeleteObject",
        Operation::RestoreObject(..) => "PostObjectRestore",
        Operation::GetBucketAcl(_) => "GetBucketACL",
        Operation::PutBucketAcl(_) => "PutBucketACL",
        Operation::GetObjectAcl(..) => "GetObjectACL",
        Operation::PutObjectAcl(..) => "PutObjectACL",
        Operation::GetObjectTagging(..) => "GetObjectTagging",
        Operation::PutObjectTagging(..) => "PutObjectTagging",
        Operation::DeleteObjectTagging(..) => "DeleteObjectTagging",
        Operation::ListMultipartUploads(_) => "ListMultipartUploads",
        Operation::InitiateMultipartUpload(..) => "InitiateMultipartUpload",
        Operation::UploadPart(..) | Operation::UploadPartCopy(..) => "UploadPart",
        Operation::CompleteMultipartUpload(..) => "CompleteMultipartUpload",
        Operation::AbortMultipartUpload(..) => "AbortMultipartUpload",
        Operation::ListParts(..) => "ListParts",
        Operation::PostObject(_) => "PostObject",
        Operation::GetObjectRetention(..) => "GetObjectRetention",
        Operation::PutObjectRetention(..) => "PutObjectRetention",
        Operation::GetSymlink(..) => "GetSymlink",
        Operation::PutSymlink(..) => "PutSymlink",
        Operation::GetBucketConfig(_, s) => return config_action("Get", *s),
        Operation::PutBucketConfig(_, s) => return config_action("Put", *s),
        Operation::DeleteBucketConfig(_, s) => return config_action("Delete", *s),
    })
}

/// `PutBucketCORS`, `GetBucketPolicy`, ... from the sub-resource's label.
fn config_action(verb: &str, sub: Subresource) -> Cow<'static, str> {
    let label = match sub.label() {
        "Cors" => "CORS",
        other => other,
    };
    Cow::Owned(format!("{verb}Bucket{label}"))
}

/// Whether `op` reads or changes the bucket policy itself (the owner is
/// never locked out of those).
pub fn is_policy_call(op: &Operation) -> bool {
    matches!(
        op,
        Operation::GetBucketConfig(_, Subresource::Policy)
            | Operation::PutBucketConfig(_, Subresource::Policy)
            | Operation::DeleteBucketConfig(_, Subresource::Policy)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RES: &str = "qcs::cos:ap-guangzhou:uid/1250000000:examplebucket-1250000000";

    fn parse(text: &str) -> Result<BucketPolicy> {
        BucketPolicy::parse(text.as_bytes())
    }

    #[test]
    fn grammar_table() {
        let ok_statement = format!(
            r#"{{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"allow","action":["name/cos:GetObject"],"resource":["{RES}/public/*"]}}"#
        );
        let cases: Vec<(String, bool)> = vec![
            // the SDK documents
            (format!(r#"{{"version":"2.0","statement":[{ok_statement}]}}"#), true),
            (format!(r#"{{"Version":"2.0","Statement":[{ok_statement}]}}"#), true),
            (format!(r#"{{"statement":[{ok_statement}]}}"#), true),
            (format!(r#"{{"statement":{ok_statement}}}"#), true),
            // capitalised statement elements, principal forms, actions, conditions
            (
                r#"{"Statement":[{"Principal":"*","Effect":"Deny","Action":"cos:*","Resource":"*","Condition":{"ip_not_equal":{"qcs:ip":["10.0.0.0/8","::1"]}}}]}"#.to_string(),
                true,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":{{"qcs":"qcs::cam::uin/100000000001:uin/100000000011"}},"effect":"allow","action":["*"],"resource":["{RES}/*"],"condition":{{"string_equal_if_exist":{{"cos:x-cos-acl":"private"}},"numeric_less_than":{{"cos:content-length":1024}},"bool":{{"cos:secure-transport":true}}}}}}]}}"#
                ),
                true,
            ),
            (
                format!(
                    r#"{{"principal":{{"qcs":["qcs::cam::anonymous:anonymous"]}},"statement":[{{"effect":"allow","action":["name/cos:Get*"],"resource":["{RES}/*"]}}]}}"#
                ),
                true,
            ),
            // malformed
            ("not json".into(), false),
            (format!(r#"{{"statement":[{ok_statement}],"":1}}"#), false),
            (format!(r#"{{"statement":[{ok_statement}],"éx":1}}"#), false),
            (format!(r#"{{"STATEMENT":[{ok_statement}]}}"#), false),
            ("[]".into(), false),
            (r#"{"version":"2.0"}"#.into(), false),
            (r#"{"version":"2.0","statement":[]}"#.into(), false),
            (format!(r#"{{"version":"1.0","statement":[{ok_statement}]}}"#), false),
            (format!(r#"{{"version":"2.0","statement":[{ok_statement}],"extra":1}}"#), false),
            (format!(r#"{{"statement":[{ok_statement}],"Statement":[{ok_statement}]}}"#), false),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"maybe","action":"*","resource":"{RES}/*"}}]}}"#
                ),
                false,
            ),
            (
                format!(r#"{{"statement":[{{"effect":"allow","action":"*","resource":"{RES}/*"}}]}}"#),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":{{"qcs":["someone"]}},"effect":"allow","action":"*","resource":"{RES}/*"}}]}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"allow","action":"s3:GetObject","resource":"{RES}/*"}}]}}"#
                ),
                false,
            ),
            (
                r#"{"statement":[{"principal":"*","effect":"allow","action":"*","resource":"arn:aws:s3:::b/*"}]}"#.into(),
                false,
            ),
            (
                r#"{"statement":[{"principal":"*","effect":"allow","action":"*"}]}"#.into(),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"allow","action":"*","resource":"{RES}/*","condition":{{"ip_like":{{"qcs:ip":"1.2.3.4"}}}}}}]}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"allow","action":"*","resource":"{RES}/*","condition":{{"ip_equal":{{"qcs:ip":"1.2.3.400/8"}}}}}}]}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"allow","action":"*","resource":"{RES}/*","condition":{{"string_equal":{{"qcs:ip":"1.2.3.4"}}}}}}]}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"allow","action":"*","resource":"{RES}/*","condition":{{"numeric_equal":{{"cos:content-length":"many"}}}}}}]}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"allow","action":[],"resource":"{RES}/*"}}]}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"statement":[{{"principal":"*","effect":"allow","action":"*","resource":"{RES}/*","notaction":"x"}}]}}"#
                ),
                false,
            ),
        ];
        for (text, ok) in cases {
            let got = parse(&text);
            assert_eq!(got.is_ok(), ok, "{text}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.code, ErrorCode::MalformedPolicy, "{text}");
            }
        }
        let big = format!(
            r#"{{"statement":[{ok_statement}],"id":"{}"}}"#,
            "x".repeat(MAX_SIZE)
        );
        assert_eq!(parse(&big).unwrap_err().code, ErrorCode::MalformedPolicy);
    }

    #[test]
    fn stored_document_normalises_top_level_keys_only() {
        let p = parse(&format!(
            r#"{{"statement":[{{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"allow","action":["name/cos:GetObject"],"resource":["{RES}/a*"]}}]}}"#
        ))
        .unwrap();
        let back: Value = serde_json::from_str(&p.render()).unwrap();
        assert_eq!(back["version"], "2.0");
        assert_eq!(back["Statement"][0]["resource"][0], format!("{RES}/a*"));
        assert_eq!(back["Statement"][0]["effect"], "allow");
        assert!(back.get("statement").is_none());
    }

    #[test]
    fn wildcard_table() {
        let cases = [
            ("*", "", true),
            ("*", "anything/at/all", true),
            ("public/*", "public/a/b", true),
            ("public/*", "public", false),
            ("public/*", "private/x", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXcYYb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("exact", "exact", true),
            ("exact", "Exact", false),
        ];
        for (p, v, want) in cases {
            assert_eq!(wildcard(p, v, false), want, "{p} {v}");
        }
        assert!(wildcard("getobj*", "GetObject", true));
    }

    struct Ctx {
        headers: HeaderMap,
        query: Query,
    }

    fn ctx() -> Ctx {
        Ctx {
            headers: HeaderMap::new(),
            query: Query::from_pairs(vec![]),
        }
    }

    fn req<'a>(
        c: &'a Ctx,
        requester: Requester<'a>,
        action: &'a str,
        key: Option<&'a str>,
        ip: Option<&str>,
    ) -> Request<'a> {
        Request {
            requester,
            action,
            region: "ap-guangzhou",
            appid: "1250000000",
            bucket: "examplebucket-1250000000",
            key,
            ip: ip.map(|i| i.parse().unwrap()),
            secure: false,
            headers: &c.headers,
            query: &c.query,
        }
    }

    fn compiled(statements: &str) -> Compiled {
        compile(&serde_json::from_str(&format!(r#"{{"statement":{statements}}}"#)).unwrap())
            .unwrap()
    }

    #[test]
    fn evaluation_table() {
        use Decision::*;
        let anon = Requester::Anonymous;
        let owner = Requester::Key {
            secret_id: "AKIDowner",
            owner: true,
        };
        let sub = Requester::Key {
            secret_id: "AKIDsub",
            owner: false,
        };
        let public_read = compiled(&format!(
            r#"[{{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"allow","action":["name/cos:GetObject","name/cos:HeadObject"],"resource":["{RES}/public/*"]}},
                {{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"deny","action":["name/cos:GetObject"],"resource":["{RES}/public/private/*"],"condition":{{"ip_not_equal":{{"qcs:ip":["192.168.1.0/24"]}}}}}}]"#
        ));
        let deny_all = compiled(&format!(
            r#"[{{"principal":"*","effect":"allow","action":"*","resource":"*"}},{{"principal":"*","effect":"deny","action":"cos:Delete*","resource":"{RES}/*"}}]"#
        ));
        let by_key = compiled(&format!(
            r#"[{{"principal":{{"qcs":["qcs::cam::uin/1250000000:uin/AKIDsub"]}},"effect":"deny","action":"*","resource":"{RES}/*"}},
                {{"principal":{{"qcs":["qcs::cam::uin/1250000000:uin/1250000000"]}},"effect":"deny","action":"name/cos:PutObject","resource":"{RES}/locked/*"}},
                {{"principal":{{"qcs":["qcs::cam::anonymous:anonymous"]}},"effect":"allow","action":"name/cos:GetBucket","resource":"{RES}/"}}]"#
        ));
        let legacy = compiled(
            r#"[{"principal":"*","effect":"allow","action":"name/cos:GetObject","resource":"qcs::cos:ap-guangzhou:uid/1250000000:prefix//1250000000/examplebucket/*"}]"#,
        );
        let c = ctx();
        let cases: Vec<(&Compiled, Request<'_>, Decision)> = vec![
            // allow on a prefix, nothing elsewhere
            (
                &public_read,
                req(&c, anon, "GetObject", Some("public/a.txt"), None),
                Allow,
            ),
            (
                &public_read,
                req(&c, anon, "HeadObject", Some("public/a.txt"), None),
                Allow,
            ),
            (
                &public_read,
                req(&c, anon, "GetObject", Some("secret/a.txt"), None),
                NotApplicable,
            ),
            (
                &public_read,
                req(&c, anon, "PutObject", Some("public/a.txt"), None),
                NotApplicable,
            ),
            (
                &public_read,
                req(&c, anon, "GetObject", Some("publicity"), None),
                NotApplicable,
            ),
            // ip condition: deny outside 192.168.1.0/24 (and when unknown)
            (
                &public_read,
                req(
                    &c,
                    anon,
                    "GetObject",
                    Some("public/private/x"),
                    Some("10.1.2.3"),
                ),
                Deny,
            ),
            (
                &public_read,
                req(&c, anon, "GetObject", Some("public/private/x"), None),
                Deny,
            ),
            (
                &public_read,
                req(
                    &c,
                    anon,
                    "GetObject",
                    Some("public/private/x"),
                    Some("192.168.1.77"),
                ),
                Allow,
            ),
            (
                &public_read,
                req(
                    &c,
                    anon,
                    "GetObject",
                    Some("public/private/x"),
                    Some("::ffff:192.168.1.77"),
                ),
                Allow,
            ),
            // anyone covers signed requests; deny beats allow
            (
                &deny_all,
                req(&c, owner, "DeleteObject", Some("k"), None),
                Deny,
            ),
            (
                &deny_all,
                req(&c, anon, "DeleteMultipleObjects", None, None),
                Deny,
            ),
            (&deny_all, req(&c, sub, "GetObject", Some("k"), None), Allow),
            // uin principals: a key by SecretId, the owner as the root account
            (&by_key, req(&c, sub, "GetObject", Some("k"), None), Deny),
            (
                &by_key,
                req(&c, anon, "GetObject", Some("k"), None),
                NotApplicable,
            ),
            (
                &by_key,
                req(&c, owner, "GetObject", Some("k"), None),
                NotApplicable,
            ),
            (
                &by_key,
                req(&c, owner, "PutObject", Some("locked/k"), None),
                Deny,
            ),
            (&by_key, req(&c, anon, "GetBucket", None, None), Allow),
            (
                &by_key,
                req(&c, owner, "GetBucket", None, None),
                NotApplicable,
            ),
            // the legacy resource form
            (
                &legacy,
                req(&c, anon, "GetObject", Some("a/b"), None),
                Allow,
            ),
            (&legacy, req(&c, anon, "GetObject", None, None), Allow),
        ];
        for (i, (policy, r, want)) in cases.iter().enumerate() {
            assert_eq!(
                policy.evaluate(r),
                *want,
                "case {i}: {} {:?}",
                r.action,
                r.key
            );
        }
    }

    #[test]
    fn conditions_table() {
        let p = compiled(&format!(
            r#"[{{"principal":"*","effect":"allow","action":"*","resource":"{RES}/*","condition":{{
                "string_like":{{"cos:content-type":"image/*"}},
                "string_not_equal_if_exist":{{"cos:x-cos-acl":"public-read-write"}},
                "numeric_less_than_equal":{{"cos:content-length":"100"}}}}}}]"#
        ));
        let mut c = ctx();
        let anon = Requester::Anonymous;
        let d = |c: &Ctx| p.evaluate(&req(c, anon, "PutObject", Some("k"), None));
        // content-type missing: string_like fails
        assert_eq!(d(&c), Decision::NotApplicable);
        c.headers
            .insert("content-type", "image/png".parse().unwrap());
        c.headers.insert("content-length", "100".parse().unwrap());
        assert_eq!(d(&c), Decision::Allow);
        c.headers
            .insert("x-cos-acl", "public-read-write".parse().unwrap());
        assert_eq!(d(&c), Decision::NotApplicable);
        c.headers.insert("x-cos-acl", "private".parse().unwrap());
        c.headers.insert("content-length", "101".parse().unwrap());
        assert_eq!(d(&c), Decision::NotApplicable);
    }

    #[test]
    fn actions_table() {
        let b = crate::http::target::BucketName::parse("x", "1250000000", "ap-guangzhou").unwrap();
        let k = crate::http::target::ObjectKey::parse("k").unwrap();
        let cases = [
            (Operation::GetObject(b.clone(), k.clone()), "GetObject"),
            (Operation::HeadObject(b.clone(), k.clone()), "HeadObject"),
            (Operation::PutObject(b.clone(), k.clone()), "PutObject"),
            (Operation::CopyObject(b.clone(), k.clone()), "PutObject"),
            (Operation::ListObjects(b.clone()), "GetBucket"),
            (Operation::ListObjectsV2(b.clone()), "GetBucket"),
            (Operation::DeleteObjects(b.clone()), "DeleteMultipleObjects"),
            (Operation::PutBucketAcl(b.clone()), "PutBucketACL"),
            (
                Operation::PutBucketConfig(b.clone(), Subresource::Cors),
                "PutBucketCORS",
            ),
            (
                Operation::GetBucketConfig(b.clone(), Subresource::Policy),
                "GetBucketPolicy",
            ),
            (
                Operation::DeleteBucketConfig(b.clone(), Subresource::Policy),
                "DeleteBucketPolicy",
            ),
        ];
        for (op, want) in cases {
            assert_eq!(action_of(&op), want, "{op:?}");
        }
    }
}
