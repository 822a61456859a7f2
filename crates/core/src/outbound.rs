//! Where the server may connect on a tenant's behalf (SMTP now; webhooks, chat, paging and
//! SMS later): pure classification of addresses and the operator's allow-list. The IO
//! (resolving names, connecting to the address that was checked) lives in the server's
//! `notify::guard`.
//!
//! Refused unless allow-listed: loopback, private (RFC 1918, ULA), link-local, CGNAT,
//! multicast, unspecified, broadcast, "this network" (0.0.0.0/8), benchmark and reserved
//! ranges, cloud metadata addresses, and every IPv6 form that embeds one of these
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4). Documentation ranges (TEST-NET, 2001:db8::/32)
//! reach nothing and stay allowed.

use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host as the operating system's resolver would read it: the IPv4 forms `inet_aton`
/// accepts (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`), IPv6 with or without
/// brackets, one trailing dot ignored. `None`: a name, to be resolved.
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    let h = host.trim();
    let h = h.strip_suffix('.').unwrap_or(h);
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    if let Ok(v6) = h.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    inet_aton(h).map(IpAddr::V4)
}

/// One `inet_aton` part: `0x…` hexadecimal, `0…` octal, else decimal.
fn aton_part(p: &str) -> Option<u64> {
    if p.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (hex, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        // `0x` alone is 0 for glibc.
        return (radix == 16).then_some(0);
    }
    if digits.len() > 12 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// `a`, `a.b`, `a.b.c` or `a.b.c.d`, the last part filling the remaining bytes.
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let nums: Vec<u64> = parts.iter().map(|p| aton_part(p)).collect::<Option<_>>()?;
    let (head, last) = nums.split_at(nums.len() - 1);
    let mut v: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        if *n > 255 {
            return None;
        }
        v |= n << (24 - 8 * i);
    }
    let rest_bits = 32 - 8 * head.len();
    let last = *last.first()?;
    if rest_bits < 64 && last >= (1u64 << rest_bits) {
        return None;
    }
    v |= last;
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

/// A name that always means this machine (RFC 6761): `localhost` and `*.localhost`.
pub fn is_local_name(host: &str) -> bool {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    // IPv4-compatible ::a.b.c.d (deprecated, but still routed by some stacks).
    if s[..6].iter().all(|x| *x == 0) && ip != Ipv6Addr::UNSPECIFIED && ip != Ipv6Addr::LOCALHOST {
        return Some(tail);
    }
    // NAT64: 64:ff9b::/96 and the local-use 64:ff9b:1::/48.
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2] == 1 || s[2..6].iter().all(|x| *x == 0)) {
        return Some(tail);
    }
    // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

fn v4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let reason = match o {
        [0, ..] => "unspecified address",
        [127, ..] => "loopback address",
        [10, ..] => "private address",
        [172, b, ..] if (16..32).contains(&b) => "private address",
        [192, 168, ..] => "private address",
        [100, b, ..] if (64..128).contains(&b) => "shared (CGNAT) address",
        [169, 254, 169, 254] => "cloud metadata address",
        [169, 254, ..] => "link-local address",
        [192, 0, 0, _] => "reserved address",
        [192, 88, 99, _] => "reserved address",
        [198, b, ..] if b == 18 || b == 19 => "benchmarking address",
        [255, 255, 255, 255] => "broadcast address",
        [a, ..] if (224..240).contains(&a) => "multicast address",
        [a, ..] if a >= 240 => "reserved address",
        _ => return None,
    };
    Some(reason)
}

/// Why the server must not connect to `ip` on a tenant's behalf; `None` for a public address.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_refusal(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_unspecified() {
                return Some("unspecified address");
            }
            if v6.is_loopback() {
                return Some("loopback address");
            }
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                return Some("cloud metadata address");
            }
            if let Some(v4) = embedded_v4(v6) {
                return v4_refusal(v4);
            }
            let reason = match s[0] {
                x if x & 0xfe00 == 0xfc00 => "private address",
                x if x & 0xffc0 == 0xfe80 => "link-local address",
                x if x & 0xffc0 == 0xfec0 => "site-local address",
                x if x & 0xff00 == 0xff00 => "multicast address",
                // Discard-only 100::/64 and Teredo 2001::/32 (tunnels to anywhere).
                0x100 if s[1..4].iter().all(|x| *x == 0) => "reserved address",
                0x2001 if s[1] == 0 => "reserved address",
                _ => return None,
            };
            Some(reason)
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; others unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// An address range, `10.2.0.0/16` or `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a CIDR"))?;
        let net: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("`{s}`: `{addr}` is not an IP address"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = len
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?;
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// One allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// A host name (lower case, no trailing dot), on one port or any: whatever it resolves to.
    Host {
        name: String,
        port: Option<u16>,
    },
    /// One address, on one port or any.
    Addr {
        ip: IpAddr,
        port: Option<u16>,
    },
    Cidr(Cidr),
}

fn port_of(entry: &str, p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{entry}`: `{p}` is not a port"))
}

fn host_name(entry: &str, h: &str) -> Result<String, String> {
    let name = h.trim_end_matches('.').to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !name.starts_with(['.', '-'])
        && !name.contains("..");
    if ok {
        Ok(name)
    } else {
        Err(format!("`{entry}` is not a host, host:port or CIDR"))
    }
}

impl AllowEntry {
    /// `127.0.0.1`, `mail.internal:587`, `10.2.0.0/16`, `::1`, `[::1]:25`, `fd00::/8`.
    pub fn parse(raw: &str) -> Result<AllowEntry, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("an empty entry".into());
        }
        if s.contains('/') {
            return Cidr::parse(s).map(AllowEntry::Cidr);
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (addr, tail) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{s}`: missing `]`"))?;
            let ip: Ipv6Addr = addr
                .parse()
                .map_err(|_| format!("`{s}`: `{addr}` is not an IPv6 address"))?;
            let port = match tail {
                "" => None,
                t => Some(port_of(s, t.strip_prefix(':').unwrap_or(t))?),
            };
            return Ok(AllowEntry::Addr {
                ip: canonical(IpAddr::V6(ip)),
                port,
            });
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(AllowEntry::Addr {
                ip: canonical(ip),
                port: None,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(port_of(s, p)?)),
            None => (s, None),
        };
        if let Some(ip) = literal_ip(host) {
            return Ok(AllowEntry::Addr {
                ip: canonical(ip),
                port,
            });
        }
        Ok(AllowEntry::Host {
            name: host_name(s, host)?,
            port,
        })
    }

    fn permits(&self, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match self {
            AllowEntry::Host { name, port: p } => {
                port_ok(p) && host.trim_end_matches('.').eq_ignore_ascii_case(name)
            }
            AllowEntry::Addr { ip: a, port: p } => {
                port_ok(p) && ip.is_some_and(|ip| canonical(ip) == *a)
            }
            AllowEntry::Cidr(c) => ip.is_some_and(|ip| c.contains(ip)),
        }
    }
}

/// The operator's allow-list (`[outbound] allow`), parsed once when the configuration loads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct AllowList(Vec<AllowEntry>);

impl TryFrom<Vec<String>> for AllowList {
    type Error = String;
    fn try_from(v: Vec<String>) -> Result<Self, String> {
        AllowList::parse(&v)
    }
}

impl AllowList {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, String> {
        entries
            .iter()
            .map(|e| AllowEntry::parse(e.as_ref()).map_err(|m| format!("outbound.allow: {m}")))
            .collect::<Result<Vec<_>, _>>()
            .map(AllowList)
    }

    pub fn entries(&self) -> &[AllowEntry] {
        &self.0
    }

    /// Whether `host` (as the tenant gave it) on `port`, at `ip` once resolved, is allowed
    /// although its address is refused.
    pub fn permits(&self, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
        self.0.iter().any(|e| e.permits(host, ip, port))
    }
}

/// What the guard decides about one destination address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Refused(&'static str),
}

/// The decision for `host` resolved to `ip` on `port`: refused ranges unless allow-listed.
pub fn judge(allow: &AllowList, host: &str, ip: IpAddr, port: u16) -> Verdict {
    match refusal(ip) {
        None => Verdict::Allowed,
        Some(_) if allow.permits(host, Some(ip), port) => Verdict::Allowed,
        Some(r) => Verdict::Refused(r),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        literal_ip(s).unwrap_or_else(|| panic!("{s} is an address"))
    }

    #[test]
    fn numeric_host_forms_are_the_addresses_getaddrinfo_makes_of_them() {
        for (form, want) in [
            ("127.0.0.1", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0X7F000001", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("0", "0.0.0.0"),
            ("127.0.0.1.", "127.0.0.1"),
            ("[::1]", "::1"),
            ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ] {
            assert_eq!(ip(form), want.parse::<IpAddr>().unwrap(), "{form}");
        }
        for name in [
            "smtp.example.com",
            "localhost",
            "256.1.1.1",
            "1.2.3.4.5",
            "08.1.1.1",
            "1..1",
        ] {
            assert_eq!(literal_ip(name), None, "{name} is a name");
        }
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_are_not() {
        for a in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "0x7f000001",
            "2130706433",
            "0177.0.0.1",
            "169.254.169.254",
            "169.254.1.1",
            "10.0.0.1",
            "192.168.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "100.64.0.1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::7f00:1",
            "2002:7f00:1::",
            "0.0.0.0",
            "0.1.2.3",
            "::",
            "224.0.0.1",
            "239.255.255.250",
            "ff02::1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "2001::1",
        ] {
            assert!(refusal(ip(a)).is_some(), "{a} must be refused");
        }
        for a in [
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.10",
            "2606:4700::1111",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(refusal(ip(a)), None, "{a} is public");
        }
        assert_eq!(
            refusal(ip("169.254.169.254")),
            Some("cloud metadata address")
        );
    }

    #[test]
    fn local_names_are_recognised_with_or_without_the_root_dot() {
        assert!(is_local_name("localhost"));
        assert!(is_local_name("LOCALHOST."));
        assert!(is_local_name("db.localhost"));
        assert!(!is_local_name("localhost.example.com"));
    }

    #[test]
    fn allow_list_entries_parse_and_match() {
        let a = AllowList::parse(&[
            "127.0.0.1",
            "mail.internal:587",
            "10.2.0.0/16",
            "[::1]:25",
            "fd00::/8",
            "Relay.Corp.",
        ])
        .expect("valid");
        let lo = ip("127.0.0.1");
        assert!(a.permits("127.0.0.1", Some(lo), 25));
        assert!(a.permits("whatever", Some(ip("::ffff:127.0.0.1")), 2525));
        assert!(a.permits("mail.internal", Some(ip("10.9.9.9")), 587));
        assert!(!a.permits("mail.internal", Some(ip("10.9.9.9")), 25));
        assert!(a.permits("x", Some(ip("10.2.200.1")), 1));
        assert!(!a.permits("x", Some(ip("10.3.0.1")), 1));
        assert!(a.permits("x", Some(ip("::1")), 25));
        assert!(!a.permits("x", Some(ip("::1")), 26));
        assert!(a.permits("x", Some(ip("fd12::1")), 26));
        assert!(a.permits("relay.corp", Some(ip("192.168.0.1")), 26));
        assert_eq!(
            judge(&a, "x", ip("10.3.0.1"), 1),
            Verdict::Refused("private address")
        );
        assert_eq!(judge(&a, "x", ip("8.8.8.8"), 1), Verdict::Allowed);
        for bad in [
            "",
            "10.0.0.0/33",
            "mail.internal:smtp",
            "mail.internal:0",
            "a b",
            "[::1",
            "x/8",
        ] {
            let e = AllowList::parse(&[bad]).expect_err(bad);
            assert!(e.starts_with("outbound.allow"), "{e}");
        }
    }
}
