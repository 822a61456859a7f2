//! Network interfaces with their addresses; the primary one holds the default
//! route (Linux: `/proc/net/route`, then `/proc/net/ipv6_route`).

use breeze_proto::agent::{InterfaceAddress, IpKind, NetworkInterface};
use std::net::IpAddr;
use sysinfo::Networks;

pub fn collect() -> Vec<NetworkInterface> {
    let Ok(networks) = Networks::new_with_refreshed_list() else {
        return Vec::new();
    };
    let primary = default_route_interface();
    let mut out: Vec<NetworkInterface> = (&networks)
        .into_iter()
        .map(|(name, data)| {
            let name = name.to_string_lossy().into_owned();
            let mac = data.mac_address();
            let mut addresses: Vec<InterfaceAddress> = data
                .ip_networks()
                .iter()
                .map(|n| InterfaceAddress {
                    address: n.addr.to_string(),
                    kind: match n.addr {
                        IpAddr::V4(_) => IpKind::Ipv4,
                        IpAddr::V6(_) => IpKind::Ipv6,
                    },
                    prefix_len: n.prefix,
                })
                .collect();
            addresses.sort_by(|a, b| a.address.cmp(&b.address));
            NetworkInterface {
                name: name.clone(),
                mac_address: if mac.is_unspecified() {
                    String::new()
                } else {
                    mac.to_string()
                },
                addresses,
                is_primary: primary.as_deref() == Some(name.as_str()),
                interface_type: interface_type(&name),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Interface of the default route with the lowest metric.
#[cfg(target_os = "linux")]
pub fn default_route_interface() -> Option<String> {
    std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|t| parse_proc_net_route(&t))
        .or_else(|| {
            std::fs::read_to_string("/proc/net/ipv6_route")
                .ok()
                .and_then(|t| parse_ipv6_route(&t))
        })
}

#[cfg(not(target_os = "linux"))]
pub fn default_route_interface() -> Option<String> {
    None
}

/// `/proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric Mask …`.
pub fn parse_proc_net_route(text: &str) -> Option<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (iface, dest, metric, mask) = (f.first()?, f.get(1)?, f.get(6)?, f.get(7)?);
            (*dest == "00000000" && *mask == "00000000")
                .then(|| (metric.parse::<u64>().unwrap_or(u64::MAX), iface.to_string()))
        })
        .min()
        .map(|(_, iface)| iface)
}

/// `/proc/net/ipv6_route`: dest, dest_prefix, src, src_prefix, next_hop, metric, …, iface.
#[cfg(target_os = "linux")]
fn parse_ipv6_route(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let iface = f.get(9)?;
            (f.first()? == &"00000000000000000000000000000000"
                && f.get(1)? == &"00"
                && *iface != "lo")
                .then(|| {
                    (
                        u64::from_str_radix(f.get(5).unwrap_or(&"ffffffff"), 16)
                            .unwrap_or(u64::MAX),
                        iface.to_string(),
                    )
                })
        })
        .min()
        .map(|(_, iface)| iface)
}

/// `ethernet`, `wireless`, `loopback`, `virtual` or `other`.
#[cfg(target_os = "linux")]
fn interface_type(name: &str) -> String {
    let base = std::path::Path::new("/sys/class/net").join(name);
    let kind = if super::read_trimmed(base.join("type")).as_deref() == Some("772") || name == "lo" {
        "loopback"
    } else if base.join("wireless").exists() || base.join("phy80211").exists() {
        "wireless"
    } else if base.join("device").exists() {
        "ethernet"
    } else {
        "virtual"
    };
    kind.to_string()
}

#[cfg(not(target_os = "linux"))]
fn interface_type(name: &str) -> String {
    if name.starts_with("lo") {
        "loopback"
    } else {
        "other"
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_route_with_lowest_metric_wins() {
        let t = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                 wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\n\
                 eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\n\
                 eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\n";
        assert_eq!(parse_proc_net_route(t).as_deref(), Some("eth0"));
        assert_eq!(parse_proc_net_route("Iface\tDestination\n"), None);
    }
}
