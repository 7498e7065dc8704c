//! Back-to-origin in redirect mode (spec cos.md §6 "Origin-pull 302",
//! cos-bucket.md §11; https://cloud.tencent.com/document/product/436/13310):
//! a GET/HEAD of a missing key answers 302 with `Location:` the origin URL
//! for that key. localcos never fetches in this mode.
//!
//! Two pure pieces, reused by the `?origin` bucket sub-resource later:
//! - [`validate`]: an origin address is `http(s)://host[:port][/base/]`, no
//!   credentials, query or fragment, and its host must not be (or resolve to)
//!   loopback, private, link-local or otherwise internal addresses unless
//!   `allow_private` is set; cloud metadata services are refused always
//!   (the SSRF warning, NOTES-ON-ISSUES 10).
//! - [`Origin::location`]: the key is percent-encoded onto the base, so no
//!   key (`//evil.com/x`, `@evil.com`, `\evil.com`, `http://…`) can change the
//!   scheme or host of the redirect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// A validated origin: scheme, host and a base path ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `scheme://host[:port]/base/`, always ending in `/`.
    base: String,
    host: String,
}

/// Why an origin address is refused (the message is shown at start-up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("`{0}` is not an absolute http:// or https:// URL")]
    NotHttpUrl(String),
    #[error("`{0}`: an origin carries no user name, password, query or fragment")]
    ExtraParts(String),
    #[error("`{url}`: host {host} is {class}; set allow_private (origin) to allow loopback, private and link-local origins")]
    Private {
        url: String,
        host: String,
        class: AddrClass,
    },
    #[error("`{url}`: host {host} is {class}, never allowed as an origin")]
    Forbidden {
        url: String,
        host: String,
        class: AddrClass,
    },
}

/// What kind of address a host is, for the SSRF rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    Public,
    Loopback,
    /// RFC 1918, CGNAT 100.64/10, benchmarking 198.18/15, IPv6 ULA fc00::/7.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// Cloud instance metadata services (AWS/GCP/Azure 169.254.169.254,
    /// Tencent 169.254.0.23, Alibaba 100.100.100.200, AWS fd00:ec2::254).
    Metadata,
    /// Unspecified, broadcast, multicast, reserved 240/4.
    Reserved,
}

impl std::fmt::Display for AddrClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "a loopback address",
            AddrClass::Private => "a private address",
            AddrClass::LinkLocal => "a link-local address",
            AddrClass::Metadata => "a cloud metadata service",
            AddrClass::Reserved => "a reserved address",
        })
    }
}

const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 0, 23),
    Ipv4Addr::new(100, 100, 100, 200),
];
const METADATA_HOSTS: [&str; 4] = [
    "metadata",
    "metadata.google.internal",
    "metadata.tencentyun.com",
    "instance-data",
];

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, ..] = ip.octets();
    if METADATA_V4.contains(&ip) {
        AddrClass::Metadata
    } else if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if ip.is_private()
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b & 0xfe) == 18)
    {
        AddrClass::Private
    } else if a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

/// The class of an address; IPv4-mapped and NAT64 IPv6 addresses are judged
/// by the IPv4 address inside.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let o = v6.octets();
                return classify_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                AddrClass::Metadata
            } else if v6.is_loopback() {
                AddrClass::Loopback
            } else if (seg[0] & 0xffc0) == 0xfe80 {
                AddrClass::LinkLocal
            } else if (seg[0] & 0xfe00) == 0xfc00 {
                AddrClass::Private
            } else if v6.is_unspecified() || v6.is_multicast() {
                AddrClass::Reserved
            } else {
                AddrClass::Public
            }
        }
    }
}

/// Whether an address of `class` may be an origin.
pub fn allowed(class: AddrClass, allow_private: bool) -> bool {
    match class {
        AddrClass::Public => true,
        AddrClass::Loopback | AddrClass::Private | AddrClass::LinkLocal => allow_private,
        AddrClass::Metadata | AddrClass::Reserved => false,
    }
}

/// Resolves a host name to addresses (the system resolver at start-up; tests
/// pass a table). An error means "could not resolve".
pub type Resolver<'a> = &'a dyn Fn(&str, u16) -> std::io::Result<Vec<IpAddr>>;

/// The system resolver (blocking: used once, at start-up).
pub fn system_resolver(host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
    use std::net::ToSocketAddrs;
    Ok((host, port).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// Checks an origin address (see the module docs). Host names are checked by
/// name (`localhost`, metadata names) and by every address they resolve to;
/// a name that does not resolve now is accepted (redirect mode never
/// connects; a fetching mode checks the resolved address at fetch time).
pub fn validate(
    text: &str,
    allow_private: bool,
    resolve: Resolver<'_>,
) -> Result<Origin, OriginError> {
    let not_url = || OriginError::NotHttpUrl(text.to_string());
    let url = url::Url::parse(text.trim()).map_err(|_| not_url())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(not_url());
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(OriginError::ExtraParts(text.to_string()));
    }
    let host = url.host().ok_or_else(not_url)?;
    let host_text = host.to_string();
    let judge = |class: AddrClass| -> Result<(), OriginError> {
        if allowed(class, allow_private) {
            Ok(())
        } else if allowed(class, true) {
            Err(OriginError::Private {
                url: text.to_string(),
                host: host_text.clone(),
                class,
            })
        } else {
            Err(OriginError::Forbidden {
                url: text.to_string(),
                host: host_text.clone(),
                class,
            })
        }
    };
    match host {
        url::Host::Ipv4(ip) => judge(classify(IpAddr::V4(ip)))?,
        url::Host::Ipv6(ip) => judge(classify(IpAddr::V6(ip)))?,
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_HOSTS.contains(&name.as_str()) {
                judge(AddrClass::Metadata)?;
            }
            if name == "localhost" || name.ends_with(".localhost") {
                judge(AddrClass::Loopback)?;
            }
            let port = url.port_or_known_default().unwrap_or(80);
            match resolve(&name, port) {
                Ok(addrs) => {
                    for ip in addrs {
                        judge(classify(ip))?;
                    }
                }
                Err(e) => {
                    tracing::warn!(origin = text, error = %e, "origin host does not resolve now")
                }
            }
        }
    }
    let mut base = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        base.push_str(&format!(":{port}"));
    }
    base.push_str(url.path());
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(Origin {
        base,
        host: host_text,
    })
}

/// Characters of a key kept as they are in a redirect: the unreserved set
/// and `/` (a path separator after the base). Everything else, notably
/// `@ : \ ? # %` and spaces, is percent-encoded.
const KEY_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A key as URL path text: every byte but the unreserved set and `/`
/// percent-encoded, so it can only add path after an authority.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_KEEP).to_string()
}

impl Origin {
    /// `scheme://host[:port]/base/` (ends in `/`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The host (name or address) the redirect goes to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The redirect target for `key`: the base followed by the encoded key.
    /// The base already ends the authority, so the key only adds path.
    pub fn location(&self, key: &str) -> String {
        format!("{}{}", self.base, utf8_percent_encode(key, KEY_KEEP))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        let ips: &[&str] = match host {
            "origin.example.com" => &["93.184.216.34", "2606:2800:220:1::1"],
            "internal.example.com" => &["10.1.2.3"],
            "sneaky.example.com" => &["93.184.216.34", "169.254.169.254"],
            "v6local.example.com" => &["::1"],
            _ => return Err(std::io::Error::other("NXDOMAIN")),
        };
        Ok(ips.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn check(url: &str, allow_private: bool) -> Result<Origin, OriginError> {
        validate(url, allow_private, &fake)
    }

    #[test]
    fn address_classes() {
        for (ip, want) in [
            ("8.8.8.8", AddrClass::Public),
            ("93.184.216.34", AddrClass::Public),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.8.9.10", AddrClass::Loopback),
            ("10.0.0.1", AddrClass::Private),
            ("172.16.5.4", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Private),
            ("198.18.0.1", AddrClass::Private),
            ("169.254.1.1", AddrClass::LinkLocal),
            ("169.254.169.254", AddrClass::Metadata),
            ("169.254.0.23", AddrClass::Metadata),
            ("100.100.100.200", AddrClass::Metadata),
            ("0.0.0.0", AddrClass::Reserved),
            ("255.255.255.255", AddrClass::Reserved),
            ("224.0.0.1", AddrClass::Reserved),
            ("::1", AddrClass::Loopback),
            ("::", AddrClass::Reserved),
            ("fe80::1", AddrClass::LinkLocal),
            ("fd12:3456::1", AddrClass::Private),
            ("fd00:ec2::254", AddrClass::Metadata),
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("::ffff:169.254.169.254", AddrClass::Metadata),
            ("64:ff9b::a00:1", AddrClass::Private),
            ("2606:2800:220:1::1", AddrClass::Public),
        ] {
            assert_eq!(classify(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn validation_table() {
        use OriginError as E;
        let ok = |u: &str, allow: bool| check(u, allow).map(|o| o.base().to_string());
        // Accepted, with the base normalised to end in `/`.
        assert_eq!(
            ok("https://origin.example.com", false).unwrap(),
            "https://origin.example.com/"
        );
        assert_eq!(
            ok("http://origin.example.com:8080/static", false).unwrap(),
            "http://origin.example.com:8080/static/"
        );
        assert_eq!(
            ok("https://93.184.216.34/a/", false).unwrap(),
            "https://93.184.216.34/a/"
        );
        assert_eq!(
            ok("http://does-not-resolve.invalid/", false).unwrap(),
            "http://does-not-resolve.invalid/"
        );
        // Private ranges only behind the switch.
        for u in [
            "http://127.0.0.1:9000/",
            "http://localhost/",
            "http://app.localhost/",
            "http://10.0.0.1/",
            "http://[::1]:80/",
            "http://[fe80::1]/",
            "http://internal.example.com/",
            "http://v6local.example.com/",
            // Odd IPv4 spellings are still 127.0.0.1 (WHATWG URL parsing).
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
        ] {
            assert!(
                matches!(check(u, false), Err(E::Private { .. })),
                "{u}: {:?}",
                check(u, false)
            );
            assert!(check(u, true).is_ok(), "{u} with allow_private");
        }
        // Never: metadata services, reserved addresses.
        for u in [
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/",
            "http://metadata.tencentyun.com/",
            "http://[::ffff:169.254.169.254]/",
            "http://sneaky.example.com/",
            "http://0.0.0.0/",
        ] {
            assert!(
                matches!(check(u, true), Err(E::Forbidden { .. })),
                "{u}: {:?}",
                check(u, true)
            );
        }
        // Not an origin at all.
        for u in [
            "ftp://origin.example.com/",
            "origin.example.com",
            "file:///etc/passwd",
            "",
            "javascript:alert(1)",
        ] {
            assert!(matches!(check(u, true), Err(E::NotHttpUrl(_))), "{u}");
        }
        for u in [
            "https://user:pw@origin.example.com/",
            "https://origin.example.com/?a=b",
            "https://origin.example.com/#x",
        ] {
            assert!(matches!(check(u, true), Err(E::ExtraParts(_))), "{u}");
        }
        let msg = check("http://127.0.0.1/", false).unwrap_err().to_string();
        assert!(msg.contains("allow_private"), "{msg}");
    }

    /// No key can move the redirect to another host or scheme.
    #[test]
    fn location_keeps_host_and_scheme() {
        let o = check("https://origin.example.com/base", false).unwrap();
        assert_eq!(
            o.location("a/b c.jpg"),
            "https://origin.example.com/base/a/b%20c.jpg"
        );
        assert_eq!(
            o.location("中文.txt"),
            "https://origin.example.com/base/%E4%B8%AD%E6%96%87.txt"
        );
        for key in [
            "//evil.com/x",
            "/evil.com",
            "@evil.com",
            ":@evil.com",
            "\\\\evil.com\\x",
            "http://evil.com/",
            "https:evil.com",
            "../../../x",
            "%2F%2Fevil.com",
            "a?b=c#d",
            "x\r\nLocation: http://evil.com",
            "#@evil.com",
        ] {
            let loc = o.location(key);
            let parsed = url::Url::parse(&loc).unwrap_or_else(|e| panic!("{key:?} → {loc}: {e}"));
            assert_eq!(parsed.scheme(), "https", "{key:?} → {loc}");
            assert_eq!(
                parsed.host_str(),
                Some("origin.example.com"),
                "{key:?} → {loc}"
            );
            assert_eq!(parsed.port(), None, "{key:?} → {loc}");
            assert!(
                parsed.query().is_none() && parsed.fragment().is_none(),
                "{key:?} → {loc}"
            );
            assert!(loc.bytes().all(|b| b.is_ascii_graphic()), "{key:?} → {loc}");
        }
    }
}
