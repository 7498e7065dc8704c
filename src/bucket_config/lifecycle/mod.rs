//! Lifecycle `PUT/GET/DELETE /?lifecycle` (cos-bucket.md §4): the document
//! (this file), the per-object decision (`rules.rs`, pure) and the
//! background worker that carries decisions out (`worker.rs`), plus the
//! `x-cos-expiration` response header (NOTES-ON-ISSUES 11).
//!
//! GET unset → 404 NoSuchLifecycleConfiguration. GET returns what was PUT:
//! every element is stored as given (dates verbatim, repeated transitions in
//! order); unknown elements are ignored (§4.1: Python's official test
//! misspells `Transation`).

mod rules;
mod worker;

use serde::{Deserialize, Serialize};

pub use rules::{abort_due, action_for, expiry, is_protected, Action, Subject};
pub use worker::{expiration_header, run, scan_once, ScanReport};

use super::{parse_xml, BucketConfig, Unset};
use crate::archive::StorageClass;
use crate::error::{Error, ErrorCode, Result};
use crate::render::xml::Xml;

/// Most rules one configuration may hold (DOC 436/8280).
pub const MAX_RULES: usize = 1000;
/// Longest rule ID.
pub const MAX_ID_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// `<Filter>`; `None` when the rule used a rule-level `<Prefix>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// A rule-level `<Prefix>` (the older S3 form), kept for GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noncurrent_transitions: Vec<NoncurrentTransition>,
    /// `NoncurrentVersionExpiration/NoncurrentDays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_expiration_days: Option<u64>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_days: Option<u64>,
}

/// `<Filter>`: every condition present must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<And>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
}

/// `<Filter><And>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct And {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_not_equals: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
}

/// A `Days` or a `Date` (exactly one; validated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct When {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u64>,
    /// As sent (GET returns it verbatim, §0.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

impl When {
    /// When this falls due for something created (or become noncurrent)
    /// at `since_ms`: `since + days` rounded up to a day boundary, or the
    /// date itself. `None` for neither.
    pub fn due(&self, since_ms: i64, clock: &crate::clock::DayClock) -> Option<i64> {
        match (&self.days, &self.date) {
            (Some(n), _) => Some(clock.due(since_ms, *n)),
            (None, Some(d)) => parse_iso8601(d),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    #[serde(flatten)]
    pub when: When,
    pub storage_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_frequency: Option<AccessFrequency>,
}

/// `<AccessFrequency>` (access-time rules, allow-listed on COS): stored and
/// returned, never acted upon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFrequency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_count_less_than: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_days: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiration {
    #[serde(flatten)]
    pub when: When,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_object_delete_marker: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentTransition {
    pub days: u64,
    pub storage_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_frequency: Option<AccessFrequency>,
}

// ---------------------------------------------------------------------------
// The request document (every value as text; validated below).

#[derive(Deserialize)]
struct DocIn {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleIn>,
}

#[derive(Deserialize)]
struct RuleIn {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<FilterIn>,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Transition", default)]
    transitions: Vec<TransitionIn>,
    #[serde(rename = "Expiration")]
    expiration: Option<ExpirationIn>,
    #[serde(rename = "NoncurrentVersionTransition", default)]
    noncurrent_transitions: Vec<NoncurrentTransitionIn>,
    #[serde(rename = "NoncurrentVersionExpiration")]
    noncurrent_expiration: Option<NoncurrentDaysIn>,
    #[serde(rename = "AbortIncompleteMultipartUpload")]
    abort: Option<AbortIn>,
}

#[derive(Deserialize, Default)]
struct FilterIn {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tag: Option<TagIn>,
    #[serde(rename = "And")]
    and: Option<AndIn>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_greater_than: Option<String>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_less_than: Option<String>,
}

#[derive(Deserialize, Default)]
struct AndIn {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "PrefixNotEquals")]
    prefix_not_equals: Option<String>,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagIn>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_greater_than: Option<String>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_less_than: Option<String>,
}

#[derive(Deserialize)]
struct TagIn {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "Value")]
    value: Option<String>,
}

#[derive(Deserialize)]
struct TransitionIn {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "StorageClass")]
    storage_class: Option<String>,
    #[serde(rename = "AccessFrequency")]
    access_frequency: Option<AccessFrequencyIn>,
}

#[derive(Deserialize)]
struct AccessFrequencyIn {
    #[serde(rename = "AccessCountLessThan")]
    access_count_less_than: Option<String>,
    #[serde(rename = "RecentDays")]
    recent_days: Option<String>,
}

#[derive(Deserialize)]
struct ExpirationIn {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "ExpiredObjectDeleteMarker")]
    expired_object_delete_marker: Option<String>,
}

#[derive(Deserialize)]
struct NoncurrentTransitionIn {
    #[serde(rename = "NoncurrentDays")]
    days: Option<String>,
    #[serde(rename = "StorageClass")]
    storage_class: Option<String>,
    #[serde(rename = "AccessFrequency")]
    access_frequency: Option<AccessFrequencyIn>,
}

#[derive(Deserialize)]
struct NoncurrentDaysIn {
    #[serde(rename = "NoncurrentDays")]
    days: Option<String>,
}

#[derive(Deserialize)]
struct AbortIn {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, msg.into())
}

fn malformed(msg: &str) -> Error {
    Error::with_message(ErrorCode::MalformedXML, msg)
}

/// A day count: digits only, at least `min`.
fn days(text: &str, what: &str, min: u64) -> Result<u64> {
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(n) if n >= min && t.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(invalid(format!(
            "{what} must be an integer of at least {min}, not `{t}`."
        ))),
    }
}

fn size(text: Option<String>, what: &str) -> Result<Option<u64>> {
    text.map(|t| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| invalid(format!("{what} must be a size in bytes, not `{t}`.")))
    })
    .transpose()
}

fn when(days_text: Option<String>, date: Option<String>, min_days: u64) -> Result<When> {
    if days_text.is_some() && date.is_some() {
        return Err(invalid(
            "Days and Date cannot both be specified in one action.",
        ));
    }
    let days = days_text.map(|d| days(&d, "Days", min_days)).transpose()?;
    if let Some(d) = &date {
        if parse_iso8601(d.trim()).is_none() {
            return Err(invalid(format!("Date `{d}` is not an ISO 8601 date.")));
        }
    }
    Ok(When { days, date })
}

/// A transition target: any storage class but the standard ones.
fn target_class(text: Option<String>) -> Result<String> {
    let text = text.ok_or_else(|| malformed("A transition needs a StorageClass."))?;
    let class = StorageClass::parse(text.trim())?;
    if matches!(class, StorageClass::Standard | StorageClass::MazStandard) {
        return Err(invalid(format!(
            "Objects cannot transition to the {} storage class.",
            class.as_str()
        )));
    }
    Ok(class.as_str().to_string())
}

fn access_frequency(a: Option<AccessFrequencyIn>) -> Option<AccessFrequency> {
    a.map(|a| AccessFrequency {
        access_count_less_than: a.access_count_less_than,
        recent_days: a.recent_days,
    })
}

fn tag(t: TagIn) -> Result<(String, String)> {
    match t.key {
        Some(k) if !k.is_empty() => Ok((k, t.value.unwrap_or_default())),
        _ => Err(malformed("A filter Tag needs a Key.")),
    }
}

fn filter(f: FilterIn) -> Result<Filter> {
    let and = match f.and {
        Some(a) => Some(And {
            prefix: a.prefix,
            prefix_not_equals: a.prefix_not_equals,
            tags: a.tags.into_iter().map(tag).collect::<Result<_>>()?,
            size_greater_than: size(a.size_greater_than, "ObjectSizeGreaterThan")?,
            size_less_than: size(a.size_less_than, "ObjectSizeLessThan")?,
        }),
        None => None,
    };
    Ok(Filter {
        prefix: f.prefix,
        tag: f.tag.map(tag).transpose()?,
        and,
        size_greater_than: size(f.size_greater_than, "ObjectSizeGreaterThan")?,
        size_less_than: size(f.size_less_than, "ObjectSizeLessThan")?,
    })
}

fn rule(r: RuleIn) -> Result<Rule> {
    if let Some(id) = &r.id {
        if id.chars().count() > MAX_ID_LEN {
            return Err(invalid("A rule ID is at most 255 characters."));
        }
    }
    let enabled = match r.status.as_deref().map(str::trim) {
        Some("Enabled") => true,
        Some("Disabled") => false,
        Some(other) => {
            return Err(invalid(format!(
                "Status must be Enabled or Disabled, not `{other}`."
            )))
        }
        None => return Err(malformed("A rule needs a Status.")),
    };
    let filter = match (r.filter, &r.prefix) {
        (Some(f), _) => Some(filter(f)?),
        (None, Some(_)) => None,
        (None, None) => return Err(malformed("A rule needs a Filter.")),
    };
    let transitions = r
        .transitions
        .into_iter()
        .map(|t| {
            let when = when(t.days, t.date, 0)?;
            if when.days.is_none() && when.date.is_none() {
                return Err(invalid("A Transition needs Days or Date."));
            }
            Ok(Transition {
                when,
                storage_class: target_class(t.storage_class)?,
                access_frequency: access_frequency(t.access_frequency),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let expiration = match r.expiration {
        Some(e) => {
            let when = when(e.days, e.date, 1)?;
            let marker = match e.expired_object_delete_marker.as_deref().map(str::trim) {
                None => None,
                Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
                Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
                Some(v) => {
                    return Err(invalid(format!(
                        "ExpiredObjectDeleteMarker must be true or false, not `{v}`."
                    )))
                }
            };
            let timed = when.days.is_some() || when.date.is_some();
            if timed && marker.is_some() {
                return Err(invalid(
                    "ExpiredObjectDeleteMarker cannot be specified with Days or Date.",
                ));
            }
            if !timed && marker.is_none() {
                return Err(invalid(
                    "An Expiration needs Days, Date or ExpiredObjectDeleteMarker.",
                ));
            }
            Some(Expiration {
                when,
                expired_object_delete_marker: marker,
            })
        }
        None => None,
    };
    let noncurrent_transitions = r
        .noncurrent_transitions
        .into_iter()
        .map(|t| {
            let text = t
                .days
                .ok_or_else(|| invalid("A NoncurrentVersionTransition needs NoncurrentDays."))?;
            Ok(NoncurrentTransition {
                days: days(&text, "NoncurrentDays", 0)?,
                storage_class: target_class(t.storage_class)?,
                access_frequency: access_frequency(t.access_frequency),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let noncurrent_expiration_days = match r.noncurrent_expiration {
        Some(n) => {
            let text = n
                .days
                .ok_or_else(|| invalid("A NoncurrentVersionExpiration needs NoncurrentDays."))?;
            Some(days(&text, "NoncurrentDays", 1)?)
        }
        None => None,
    };
    let abort_days = match r.abort {
        Some(a) => {
            let text = a.days.ok_or_else(|| {
                invalid("AbortIncompleteMultipartUpload needs DaysAfterInitiation.")
            })?;
            Some(days(&text, "DaysAfterInitiation", 1)?)
        }
        None => None,
    };
    let rule = Rule {
        id: r.id,
        enabled,
        filter,
        prefix: r.prefix,
        transitions,
        expiration,
        noncurrent_transitions,
        noncurrent_expiration_days,
        abort_days,
    };
    if rule.transitions.is_empty()
        && rule.expiration.is_none()
        && rule.noncurrent_transitions.is_empty()
        && rule.noncurrent_expiration_days.is_none()
        && rule.abort_days.is_none()
    {
        return Err(invalid("A rule needs at least one action."));
    }
    Ok(rule)
}

impl BucketConfig for Lifecycle {
    const NAME: &'static str = "lifecycle";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchLifecycleConfiguration);

    /// # Behavior
    /// - Not XML, another root, no rule, a rule without Status or Filter
    ///   (or rule-level Prefix) → 400 MalformedXML.
    /// - More than 1000 rules, an ID over 255 characters or used twice, a
    ///   Status other than Enabled/Disabled, Days and Date together, Days
    ///   not a number (Expiration ≥ 1, Transition ≥ 0), an unparsable Date,
    ///   an unknown or standard target storage class, a rule without any
    ///   action → 400 InvalidArgument.
    fn parse(body: &[u8]) -> Result<Self> {
        let doc: DocIn = parse_xml(body, "LifecycleConfiguration")?;
        if doc.rules.is_empty() {
            return Err(malformed(
                "A lifecycle configuration needs at least one Rule.",
            ));
        }
        if doc.rules.len() > MAX_RULES {
            return Err(invalid(
                "A lifecycle configuration holds at most 1000 rules.",
            ));
        }
        let rules = doc
            .rules
            .into_iter()
            .map(rule)
            .collect::<Result<Vec<_>>>()?;
        let mut ids = std::collections::HashSet::new();
        for id in rules.iter().filter_map(|r| r.id.as_deref()) {
            if !ids.insert(id) {
                return Err(invalid(format!("The rule ID `{id}` is used twice.")));
            }
        }
        Ok(Lifecycle { rules })
    }

    fn render(&self) -> String {
        let mut x = Xml::new("LifecycleConfiguration");
        for r in &self.rules {
            x.open("Rule");
            if let Some(id) = &r.id {
                x.elem("ID", id);
            }
            x.elem("Status", if r.enabled { "Enabled" } else { "Disabled" });
            if let Some(p) = &r.prefix {
                x.elem("Prefix", p);
            }
            if let Some(f) = &r.filter {
                render_filter(&mut x, f);
            }
            for t in &r.transitions {
                x.open("Transition");
                render_when(&mut x, &t.when);
                x.elem("StorageClass", &t.storage_class);
                render_access(&mut x, t.access_frequency.as_ref());
                x.close("Transition");
            }
            if let Some(e) = &r.expiration {
                x.open("Expiration");
                render_when(&mut x, &e.when);
                if let Some(m) = e.expired_object_delete_marker {
                    x.elem(
                        "ExpiredObjectDeleteMarker",
                        if m { "true" } else { "false" },
                    );
                }
                x.close("Expiration");
            }
            for t in &r.noncurrent_transitions {
                x.open("NoncurrentVersionTransition");
                x.elem("NoncurrentDays", &t.days.to_string());
                x.elem("StorageClass", &t.storage_class);
                render_access(&mut x, t.access_frequency.as_ref());
                x.close("NoncurrentVersionTransition");
            }
            if let Some(n) = r.noncurrent_expiration_days {
                x.open("NoncurrentVersionExpiration");
                x.elem("NoncurrentDays", &n.to_string());
                x.close("NoncurrentVersionExpiration");
            }
            if let Some(n) = r.abort_days {
                x.open("AbortIncompleteMultipartUpload");
                x.elem("DaysAfterInitiation", &n.to_string());
                x.close("AbortIncompleteMultipartUpload");
            }
            x.close("Rule");
        }
        x.finish("LifecycleConfiguration")
    }
}

fn render_tag(x: &mut Xml, (k, v): &(String, String)) {
    x.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
}

fn render_filter(x: &mut Xml, f: &Filter) {
    x.open("Filter");
    if let Some(p) = &f.prefix {
        x.elem("Prefix", p);
    }
    if let Some(t) = &f.tag {
        render_tag(x, t);
    }
    if let Some(a) = &f.and {
        x.open("And");
        if let Some(p) = &a.prefix {
            x.elem("Prefix", p);
        }
        if let Some(p) = &a.prefix_not_equals {
            x.elem("PrefixNotEquals", p);
        }
        for t in &a.tags {
            render_tag(x, t);
        }
        if let Some(n) = a.size_greater_than {
            x.elem("ObjectSizeGreaterThan", &n.to_string());
        }
        if let Some(n) = a.size_less_than {
            x.elem("ObjectSizeLessThan", &n.to_string());
        }
        x.close("And");
    }
    if let Some(n) = f.size_greater_than {
        x.elem("ObjectSizeGreaterThan", &n.to_string());
    }
    if let Some(n) = f.size_less_than {
        x.elem("ObjectSizeLessThan", &n.to_string());
    }
    x.close("Filter");
}

fn render_when(x: &mut Xml, w: &When) {
    if let Some(d) = w.days {
        x.elem("Days", &d.to_string());
    }
    if let Some(d) = &w.date {
        x.elem("Date", d);
    }
}

fn render_access(x: &mut Xml, a: Option<&AccessFrequency>) {
    if let Some(a) = a {
        x.open("AccessFrequency");
        if let Some(v) = &a.access_count_less_than {
            x.elem("AccessCountLessThan", v);
        }
        if let Some(v) = &a.recent_days {
            x.elem("RecentDays", v);
        }
        x.close("AccessFrequency");
    }
}

/// Parses an ISO 8601 date or date-time as Unix milliseconds:
/// `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM:SS[.fff]` with `Z`, a
/// `±HH:MM` / `±HHMM` offset, or none (UTC). `None` for anything else.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (date, rest) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if let Some(rest) = rest {
        let (time, offset_ms) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
            (t, 0)
        } else if let Some(i) = rest.rfind(['+', '-']) {
            let (t, off) = rest.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let off = off[1..].replace(':', "");
            if off.len() != 4 {
                return None;
            }
            let (h, mi) = (num(&off[..2])?, num(&off[2..])?);
            (t, sign * (h * 3_600_000 + mi * 60_000))
        } else {
            (rest, 0)
        };
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (time, None),
        };
        let mut f = hms.split(':');
        let (h, mi) = (num(f.next()?)?, num(f.next()?)?);
        let sec = match f.next() {
            Some(t) => num(t)?,
            None => 0,
        };
        if f.next().is_some() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let frac_ms = match frac {
            Some(t) => {
                let digits: String = t.chars().chain("000".chars()).take(3).collect();
                num(t)?;
                num(&digits)?
            }
            None => 0,
        };
        ms += h * 3_600_000 + mi * 60_000 + sec * 1000 + frac_ms - offset_ms;
    }
    Some(ms)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> String {
        format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>")
    }

    fn rule(body: &str) -> String {
        doc(&format!(
            "<Rule><ID>r</ID><Status>Enabled</Status><Filter/>{body}</Rule>"
        ))
    }

    #[test]
    fn iso8601_dates() {
        let beijing_midnight = 1_893_427_200_000; // 2030-01-01T00:00:00+08:00
        for (text, want) in [
            ("2030-01-01T00:00:00+08:00", Some(beijing_midnight)),
            ("2029-12-31T16:00:00.000Z", Some(beijing_midnight)),
            ("2029-12-31T16:00:00Z", Some(beijing_midnight)),
            ("2030-01-01T00:00:00+0800", Some(beijing_midnight)),
            ("2029-12-31T16:00:00", Some(beijing_midnight)),
            ("2018-07-29T16:00:00.000Z", Some(1_532_880_000_000)),
            ("1970-01-01", Some(0)),
            ("2030-01-01T00:00:00.5Z", Some(1_893_456_000_500)),
            ("2030-13-01", None),
            ("2030-01-01T25:00:00Z", None),
            ("tomorrow", None),
            ("", None),
            ("2030-01-01T00:00:00+8", None),
        ] {
            assert_eq!(parse_iso8601(text), want, "{text}");
        }
    }

    #[test]
    fn validation_table() {
        let bad = |body: String, code: ErrorCode| {
            let e = Lifecycle::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.code, code, "{body}");
        };
        use ErrorCode::{InvalidArgument as IA, MalformedXML as MX};
        bad("not xml".into(), MX);
        bad("<Other/>".into(), MX);
        bad(doc(""), MX);
        bad(
            doc("<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"),
            MX,
        );
        bad(
            doc("<Rule><Filter/><Expiration><Days>1</Days></Expiration></Rule>"),
            MX,
        );
        bad(
            doc("<Rule><Status>On</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"),
            IA,
        );
        bad(
            rule("<Expiration><Days>1</Days><Date>2030-01-01</Date></Expiration>"),
            IA,
        );
        bad(rule("<Expiration><Days>0</Days></Expiration>"), IA);
        bad(rule("<Expiration><Days>-1</Days></Expiration>"), IA);
        bad(rule("<Expiration><Days>x</Days></Expiration>"), IA);
        bad(rule("<Expiration><Date>someday</Date></Expiration>"), IA);
        bad(rule("<Expiration></Expiration>"), IA);
        bad(
            rule("<Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"),
            IA,
        );
        bad(
            rule("<Expiration><ExpiredObjectDeleteMarker>yes</ExpiredObjectDeleteMarker></Expiration>"),
            IA,
        );
        bad(
            rule("<Transition><Days>1</Days><StorageClass>COLD</StorageClass></Transition>"),
            IA,
        );
        bad(
            rule("<Transition><Days>1</Days><StorageClass>STANDARD</StorageClass></Transition>"),
            IA,
        );
        bad(
            rule("<Transition><StorageClass>ARCHIVE</StorageClass></Transition>"),
            IA,
        );
        bad(rule("<Transition><Days>1</Days></Transition>"), MX);
        bad(
            rule("<Transition><Days>1</Days><Date>2030-01-01</Date><StorageClass>ARCHIVE</StorageClass></Transition>"),
            IA,
        );
        bad(
            rule("<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>"),
            IA,
        );
        bad(
            rule("<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>"),
            IA,
        );
        bad(rule(""), IA);
        let long_id = "x".repeat(256);
        bad(
            doc(&format!("<Rule><ID>{long_id}</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>")),
            IA,
        );
        let one = "<Rule><ID>a</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>";
        bad(doc(&one.repeat(2)), IA);
        let many: String = (0..1001)
            .map(|i| format!("<Rule><ID>r{i}</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"))
            .collect();
        bad(doc(&many), IA);
        let thousand: String = (0..1000)
            .map(|i| format!("<Rule><ID>r{i}</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"))
            .collect();
        assert_eq!(
            Lifecycle::parse(doc(&thousand).as_bytes())
                .unwrap()
                .rules
                .len(),
            1000
        );
    }

    #[test]
    fn accepted_documents() {
        let ok = |body: String| Lifecycle::parse(body.as_bytes()).unwrap();
        // Transition Days may be 0; unknown elements are ignored.
        let l = ok(rule(
            "<Transation><Days>1</Days></Transation><Transition><Days>0</Days><StorageClass>ARCHIVE</StorageClass></Transition>",
        ));
        assert_eq!(l.rules[0].transitions[0].when.days, Some(0));
        // A rule-level Prefix instead of a Filter (older S3 form).
        let l = ok(doc(
            "<Rule><Status>Disabled</Status><Prefix>a/</Prefix><Expiration><Days>3</Days></Expiration></Rule>",
        ));
        assert_eq!(l.rules[0].prefix.as_deref(), Some("a/"));
        assert_eq!(l.rules[0].id, None);
        assert!(!l.rules[0].enabled);
        // The full filter.
        let l = ok(doc(
            "<Rule><ID>f</ID><Status>Enabled</Status><Filter><And><Prefix>p/</Prefix><PrefixNotEquals>p/keep/</PrefixNotEquals><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Expiration><Date>2030-01-01T00:00:00+08:00</Date></Expiration></Rule>",
        ));
        let and = l.rules[0].filter.as_ref().unwrap().and.as_ref().unwrap();
        assert_eq!(and.tags.len(), 2);
        assert_eq!(and.prefix_not_equals.as_deref(), Some("p/keep/"));
        assert_eq!(
            (and.size_greater_than, and.size_less_than),
            (Some(10), Some(100))
        );
        // Rendering and parsing again gives the same document.
        let again = Lifecycle::parse(l.render().as_bytes()).unwrap();
        assert_eq!(again, l);
    }
}
