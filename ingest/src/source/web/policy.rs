//! The server-side request forgery guard: which addresses a web source may reach. It belongs to
//! the operator's configuration (`[sources.web]`), never to a tenant's source settings, so a
//! tenant cannot point the crawler at the cloud metadata service or the cluster's internals.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which addresses outbound fetches may connect to. The default is strict: public addresses only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebFetchPolicy {
    /// Lets crawls reach the organisation's internal networks: RFC 1918 private ranges, the
    /// carrier-grade NAT range 100.64.0.0/10 and IPv6 unique-local fc00::/7. Loopback,
    /// link-local (the cloud metadata service 169.254.169.254) and the other special ranges stay
    /// refused unless listed in `allowed_networks`.
    pub allow_private_networks: bool,
    /// Networks allowed whatever their kind, e.g. `["10.20.0.0/16", "127.0.0.1/32"]`. Cloud
    /// metadata services are refused even here.
    pub allowed_networks: Vec<IpNet>,
    /// Ports a crawl may connect to besides 80 and 443, e.g. `[8080]`.
    pub allowed_ports: Vec<u16>,
}

/// The ports every policy allows.
pub const DEFAULT_PORTS: [u16; 2] = [80, 443];

/// Cloud metadata and host services: never crawled, whatever the policy lists. Some sit in
/// ranges an intranet policy opens (AWS's IPv6 service in fc00::/7, Alibaba's in 100.64.0.0/10)
/// or even in public space (Azure's wire server).
const METADATA_SERVICES: [IpAddr; 8] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)), // AWS, GCP, Azure, Oracle, DigitalOcean, …
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),   // AWS ECS task metadata
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),  // AWS EKS pod identity
    IpAddr::V4(Ipv4Addr::new(169, 254, 0, 23)),    // Tencent Cloud
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)), // Alibaba Cloud
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),   // Azure wire server
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)), // AWS (IPv6)
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)), // AWS EKS pod identity (IPv6)
];

/// What kind of address an IP is, as far as the guard cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Public,
    /// A cloud metadata or host service (always refused).
    Metadata,
    /// RFC 1918 (IPv4) or unique-local fc00::/7 (IPv6).
    Private,
    /// Carrier-grade NAT, 100.64.0.0/10.
    SharedNat,
    Loopback,
    /// 169.254.0.0/16 (including the cloud metadata service) and fe80::/10.
    LinkLocal,
    Multicast,
    Unspecified,
    Broadcast,
    /// TEST-NET and 2001:db8::/32 style ranges.
    Documentation,
    /// Benchmarking, protocol-assignment, future-use and deprecated ranges.
    Reserved,
}

impl AddressKind {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Metadata => "a cloud metadata service, never crawled",
            Self::Private => "a private-network address",
            Self::SharedNat => "a carrier-grade NAT address",
            Self::Loopback => "a loopback address",
            Self::LinkLocal => "a link-local address (cloud metadata services live there)",
            Self::Multicast => "a multicast address",
            Self::Unspecified => "the unspecified address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Reserved => "a reserved address",
        }
    }
}

/// A refused address, with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{ip} is {}; refused by the web fetch policy (an operator can allow it in [sources.web] allowed_networks)",
    .kind.describe()
)]
pub struct Refused {
    pub ip: IpAddr,
    pub kind: AddressKind,
}

impl WebFetchPolicy {
    /// Whether connecting to `port` is allowed: 80, 443 and `allowed_ports`.
    pub fn check_port(&self, port: u16) -> Result<(), String> {
        if DEFAULT_PORTS.contains(&port) || self.allowed_ports.contains(&port) {
            Ok(())
        } else {
            Err(format!(
                "port {port} is refused by the web fetch policy (80 and 443 only; an operator can \
                 allow more in [sources.web] allowed_ports)"
            ))
        }
    }

    /// Whether connecting to `ip` is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let kind = classify(ip);
        if kind == AddressKind::Metadata {
            return Err(Refused { ip, kind });
        }
        if self.allowed_networks.iter().any(|net| net.contains(ip)) {
            return Ok(());
        }
        let allowed = match kind {
            AddressKind::Public => true,
            AddressKind::Private | AddressKind::SharedNat => self.allow_private_networks,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Refused { ip, kind })
        }
    }
}

/// Classifies an address; IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64,
/// 6to4) are classified by the address they carry, since that is where packets may end up.
pub fn classify(ip: IpAddr) -> AddressKind {
    if METADATA_SERVICES.contains(&ip) {
        return AddressKind::Metadata;
    }
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    use AddressKind::*;
    let table: &[([u8; 4], u32, AddressKind)] = &[
        ([255, 255, 255, 255], 32, Broadcast),
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedNat),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Reserved),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map_or(Public, |(_, _, kind)| *kind)
}

fn in_v6(ip: Ipv6Addr, net: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == net & mask
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    use AddressKind::*;
    let bits = u128::from(ip);
    let low_v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if ip.is_unspecified() {
        return Unspecified;
    }
    if ip.is_loopback() {
        return Loopback;
    }
    // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::/96 and
    // 64:ff9b:1::/48 (NAT64): the IPv4 address decides.
    if in_v6(ip, 0xffff_0000_0000, 96)
        || in_v6(ip, 0, 96)
        || in_v6(ip, 0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96)
        || in_v6(ip, 0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48)
    {
        return classify(IpAddr::V4(low_v4));
    }
    // 2002::/16 (6to4) carries the IPv4 address in bits 16..48.
    if in_v6(ip, 0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        return classify(IpAddr::V4(Ipv4Addr::from(
            ((bits >> 80) & 0xffff_ffff) as u32,
        )));
    }
    let table: &[(u128, u32, AddressKind)] = &[
        (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, Reserved), // discard-only
        (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, Documentation),
        (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, Documentation),
        (0x2001_0000_0000_0000_0000_0000_0000_0000, 23, Reserved), // IETF protocol assignments, Teredo
        (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, Private),   // unique-local
        (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, LinkLocal),
        (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, Reserved), // site-local, deprecated
        (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, Multicast),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map_or(Public, |(_, _, kind)| *kind)
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `fd00::/8`; a bare address means /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let prefix = u32::from(self.prefix);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => in_v4(ip, net.octets(), prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => in_v6(ip, u128::from(net), prefix),
            // An IPv4 network also covers the IPv4-mapped IPv6 form of its addresses.
            (IpAddr::V4(net), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| in_v4(v4, net.octets(), prefix)),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid =
            || format!("invalid network {text:?}: expected CIDR such as 10.0.0.0/8 or fd00::/8");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| invalid())?,
            None => max,
        };
        if prefix > max {
            return Err(invalid());
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for IpNet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn special_ranges_are_classified() {
        let cases = [
            ("8.8.8.8", AddressKind::Public),
            ("2606:4700::1111", AddressKind::Public),
            ("10.1.2.3", AddressKind::Private),
            ("172.31.255.255", AddressKind::Private),
            ("172.32.0.1", AddressKind::Public),
            ("192.168.1.1", AddressKind::Private),
            ("100.64.0.1", AddressKind::SharedNat),
            ("100.128.0.1", AddressKind::Public),
            ("127.0.0.1", AddressKind::Loopback),
            ("127.255.0.9", AddressKind::Loopback),
            ("169.254.169.254", AddressKind::Metadata),
            ("169.254.1.1", AddressKind::LinkLocal),
            ("100.100.100.200", AddressKind::Metadata),
            ("fd00:ec2::254", AddressKind::Metadata),
            ("224.0.0.251", AddressKind::Multicast),
            ("0.0.0.0", AddressKind::Unspecified),
            ("255.255.255.255", AddressKind::Broadcast),
            ("192.0.2.10", AddressKind::Documentation),
            ("198.51.100.1", AddressKind::Documentation),
            ("203.0.113.7", AddressKind::Documentation),
            ("198.18.0.1", AddressKind::Reserved),
            ("::", AddressKind::Unspecified),
            ("::1", AddressKind::Loopback),
            ("fd12:3456::1", AddressKind::Private),
            ("fc00::1", AddressKind::Private),
            ("fe80::1", AddressKind::LinkLocal),
            ("ff02::1", AddressKind::Multicast),
            ("2001:db8::1", AddressKind::Documentation),
        ];
        for (text, kind) in cases {
            assert_eq!(classify(ip(text)), kind, "{text}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_classified_by_the_ipv4_address() {
        assert_eq!(classify(ip("::ffff:127.0.0.1")), AddressKind::Loopback);
        assert_eq!(
            classify(ip("::ffff:169.254.169.254")),
            AddressKind::Metadata
        );
        assert_eq!(classify(ip("::ffff:a9fe:0101")), AddressKind::LinkLocal);
        assert_eq!(classify(ip("::ffff:10.0.0.1")), AddressKind::Private);
        assert_eq!(classify(ip("::ffff:8.8.8.8")), AddressKind::Public);
        assert_eq!(classify(ip("::127.0.0.1")), AddressKind::Loopback);
        assert_eq!(classify(ip("64:ff9b::a9fe:a9fe")), AddressKind::Metadata);
        assert_eq!(classify(ip("2002:7f00:0001::1")), AddressKind::Loopback);
        assert_eq!(classify(ip("2002:0808:0808::1")), AddressKind::Public);
    }

    #[test]
    fn strict_by_default_and_lifted_only_as_configured() {
        let strict = WebFetchPolicy::default();
        assert!(strict.check(ip("93.184.216.34")).is_ok());
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            let err = strict.check(ip(refused)).unwrap_err();
            assert!(
                err.to_string().contains("refused by the web fetch policy"),
                "{err}"
            );
        }

        let intranet = WebFetchPolicy {
            allow_private_networks: true,
            ..WebFetchPolicy::default()
        };
        assert!(intranet.check(ip("10.0.0.1")).is_ok());
        assert!(intranet.check(ip("100.64.1.1")).is_ok());
        assert!(intranet.check(ip("fd00::1")).is_ok());
        assert!(
            intranet.check(ip("127.0.0.1")).is_err(),
            "loopback needs an explicit network"
        );
        assert!(
            intranet.check(ip("169.254.169.254")).is_err(),
            "metadata stays refused"
        );

        let loopback = WebFetchPolicy {
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
            ..WebFetchPolicy::default()
        };
        assert!(loopback.check(ip("127.0.0.1")).is_ok());
        assert!(
            loopback.check(ip("::ffff:127.0.0.1")).is_ok(),
            "mapped form of an allowed network"
        );
        assert!(loopback.check(ip("::1")).is_err());
        assert!(loopback.check(ip("10.0.0.1")).is_err());
    }

    #[test]
    fn cloud_metadata_services_are_refused_whatever_the_policy_lists() {
        let everything = WebFetchPolicy {
            allow_private_networks: true,
            allowed_networks: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            allowed_ports: vec![],
        };
        for metadata in [
            "169.254.169.254",
            "100.100.100.200",
            "168.63.129.16",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::ffff:100.100.100.200",
        ] {
            let err = everything.check(ip(metadata)).unwrap_err();
            assert_eq!(err.kind, AddressKind::Metadata, "{metadata}");
            assert!(err.to_string().contains("metadata"), "{err}");
        }
        // Their neighbours are ordinary addresses of their ranges.
        assert!(everything.check(ip("100.100.100.201")).is_ok());
        assert!(everything.check(ip("fd00:ec2::255")).is_ok());
    }

    #[test]
    fn only_web_ports_unless_the_operator_adds_more() {
        let strict = WebFetchPolicy::default();
        assert!(strict.check_port(80).is_ok() && strict.check_port(443).is_ok());
        let err = strict.check_port(6379).unwrap_err();
        assert!(
            err.contains("port 6379") && err.contains("allowed_ports"),
            "{err}"
        );
        let with_8080 = WebFetchPolicy {
            allowed_ports: vec![8080],
            ..WebFetchPolicy::default()
        };
        assert!(with_8080.check_port(8080).is_ok());
        assert!(with_8080.check_port(22).is_err());
    }

    #[test]
    fn networks_parse_and_serialise() {
        let net: IpNet = "10.20.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.20.3.4")));
        assert!(!net.contains(ip("10.21.0.1")));
        let host: IpNet = "fd00::5".parse().unwrap();
        assert_eq!(host.to_string(), "fd00::5/128");
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("example.com/8".parse::<IpNet>().is_err());
        let policy: WebFetchPolicy =
            serde_json::from_str(r#"{"allowed_networks": ["0.0.0.0/0"]}"#).unwrap();
        assert!(policy.check(ip("127.0.0.1")).is_ok());
        assert!(serde_json::from_str::<WebFetchPolicy>(r#"{"allow_all": true}"#).is_err());
    }
}
