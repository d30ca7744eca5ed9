//! Which IP addresses are on the public internet.
//!
//! The guard against server-side request forgery asks this of every address a
//! user-supplied name resolves to. The answer follows IANA's special-purpose
//! address registries (IPv4: <https://www.iana.org/assignments/iana-ipv4-special-registry/>,
//! IPv6: <https://www.iana.org/assignments/iana-ipv6-special-registry/>): an
//! address in a block the registry marks "Globally Reachable: False" is not
//! public. Beyond the registries, deliberately:
//! - IPv4 multicast and IPv6 anything outside global unicast `2000::/3` are not public;
//! - every IPv6 form that embeds an IPv4 address and reaches it through the host's
//!   own stack (IPv4-mapped, IPv4-compatible, IPv4-translated) is refused outright;
//! - NAT64 `64:ff9b::/96` and 6to4 `2002::/16` reach the embedded IPv4 address
//!   through a translator, so they are public exactly when that address is;
//! - the deprecated site-local `fec0::/10` and Teredo `2001::/32` (its IPv4 is obfuscated) are refused;
//! - `192.0.0.0/24` is refused as a whole, its anycast exceptions included.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `(network, prefix length, globally reachable)` as IANA lists them.
type V4Block = (Ipv4Addr, u8, bool);
type V6Block = (Ipv6Addr, u8, bool);

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, d, e, f, g, h)
}

/// The IPv4 special-purpose registry, plus multicast.
pub const IPV4_SPECIAL: &[V4Block] = &[
    (v4(0, 0, 0, 0), 8, false),          // "This network" (RFC 791)
    (v4(10, 0, 0, 0), 8, false),         // private use (RFC 1918)
    (v4(100, 64, 0, 0), 10, false),      // shared address space (RFC 6598)
    (v4(127, 0, 0, 0), 8, false),        // loopback
    (v4(169, 254, 0, 0), 16, false),     // link local (cloud metadata lives here)
    (v4(172, 16, 0, 0), 12, false),      // private use
    (v4(192, 0, 0, 0), 24, false),       // IETF protocol assignments (RFC 6890), whole block
    (v4(192, 0, 2, 0), 24, false),       // documentation TEST-NET-1
    (v4(192, 31, 196, 0), 24, true),     // AS112-v4 (RFC 7535)
    (v4(192, 52, 193, 0), 24, true),     // AMT (RFC 7450)
    (v4(192, 88, 99, 0), 24, false),     // deprecated 6to4 relay anycast (RFC 7526)
    (v4(192, 168, 0, 0), 16, false),     // private use
    (v4(192, 175, 48, 0), 24, true),     // direct delegation AS112 (RFC 7534)
    (v4(198, 18, 0, 0), 15, false),      // benchmarking (RFC 2544)
    (v4(198, 51, 100, 0), 24, false),    // documentation TEST-NET-2
    (v4(203, 0, 113, 0), 24, false),     // documentation TEST-NET-3
    (v4(224, 0, 0, 0), 4, false),        // multicast (RFC 5771)
    (v4(240, 0, 0, 0), 4, false),        // reserved (RFC 1112)
    (v4(255, 255, 255, 255), 32, false), // limited broadcast
];

/// The IPv6 special-purpose registry, plus the blocks this guard refuses besides.
pub const IPV6_SPECIAL: &[V6Block] = &[
    (v6(0, 0, 0, 0, 0, 0, 0, 1), 128, false),            // loopback
    (v6(0, 0, 0, 0, 0, 0, 0, 0), 128, false),            // unspecified
    (v6(0, 0, 0, 0, 0, 0, 0, 0), 96, false),             // IPv4-compatible (deprecated, RFC 4291)
    (v6(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, false),        // IPv4-mapped
    (v6(0, 0, 0, 0, 0xffff, 0, 0, 0), 96, false),        // IPv4-translated (RFC 2765)
    (v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, true),      // NAT64 well-known prefix (embedded IPv4 checked)
    (v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, false),     // local-use NAT64 (RFC 8215)
    (v6(0x100, 0, 0, 0, 0, 0, 0, 0), 64, false),         // discard-only (RFC 6666)
    (v6(0x100, 0, 0, 1, 0, 0, 0, 0), 64, false),         // dummy IPv6 prefix (RFC 9780)
    (v6(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, false),        // IETF protocol assignments
    (v6(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, false),        // Teredo (obfuscated IPv4)
    (v6(0x2001, 1, 0, 0, 0, 0, 0, 1), 128, true),        // port control protocol anycast
    (v6(0x2001, 1, 0, 0, 0, 0, 0, 2), 128, true),        // TURN anycast
    (v6(0x2001, 1, 0, 0, 0, 0, 0, 3), 128, true),        // DNS-SD service registration anycast
    (v6(0x2001, 2, 0, 0, 0, 0, 0, 0), 48, false),        // benchmarking
    (v6(0x2001, 3, 0, 0, 0, 0, 0, 0), 32, true),         // AMT
    (v6(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48, true),     // AS112-v6
    (v6(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28, false),     // deprecated ORCHID
    (v6(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28, true),      // ORCHIDv2
    (v6(0x2001, 0x30, 0, 0, 0, 0, 0, 0), 28, true),      // drone remote ID
    (v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, false),    // documentation
    (v6(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, true),         // 6to4 (embedded IPv4 checked)
    (v6(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48, true), // direct delegation AS112
    (v6(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, false),        // documentation (RFC 9637)
    (v6(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, false),        // segment routing SIDs (RFC 9602)
    (v6(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, false),         // unique local
    (v6(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, false),        // link local
    (v6(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, false),        // site local (deprecated, RFC 3879)
    (v6(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, false),         // multicast
];

fn v4_in(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    (u32::from(ip) & mask) == (u32::from(net) & mask)
}

fn v6_in(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

/// The most specific registry block holding `ip`, if any.
fn v4_block(ip: Ipv4Addr) -> Option<&'static V4Block> {
    IPV4_SPECIAL.iter().filter(|(net, len, _)| v4_in(ip, *net, *len)).max_by_key(|(_, len, _)| *len)
}

fn v6_block(ip: Ipv6Addr) -> Option<&'static V6Block> {
    IPV6_SPECIAL.iter().filter(|(net, len, _)| v6_in(ip, *net, *len)).max_by_key(|(_, len, _)| *len)
}

/// Whether an address is on the public internet (see the module docs).
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => v4_block(a).is_none_or(|(_, _, global)| *global),
        IpAddr::V6(a) => {
            if let Some(embedded) = translated_ipv4(a) {
                return is_public(IpAddr::V4(embedded));
            }
            match v6_block(a) {
                Some((_, _, global)) => *global,
                // Only global unicast is allocated for the public internet.
                None => v6_in(a, v6(0x2000, 0, 0, 0, 0, 0, 0, 0), 3),
            }
        }
    }
}

/// The IPv4 address a NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address reaches.
fn translated_ipv4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(a);
    if v6_in(a, v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        return Some(Ipv4Addr::from((bits & 0xffff_ffff) as u32));
    }
    if v6_in(a, v6(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address inside a block, away from its first address.
    fn inside_v4(net: Ipv4Addr, len: u8) -> Ipv4Addr {
        if len >= 31 { net } else { Ipv4Addr::from(u32::from(net) | 1) }
    }

    fn inside_v6(net: Ipv6Addr, len: u8) -> Ipv6Addr {
        if len >= 127 { net } else { Ipv6Addr::from(u128::from(net) | 0x1234) }
    }

    /// Every registry block answers as its "Globally Reachable" column says, at
    /// its first and last address and one inside.
    #[test]
    fn every_ipv4_special_block_answers_as_the_registry_says() {
        for (net, len, global) in IPV4_SPECIAL {
            let last = Ipv4Addr::from(u32::from(*net) | (u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0)));
            for ip in [*net, inside_v4(*net, *len), last] {
                assert_eq!(is_public(IpAddr::V4(ip)), *global, "{ip} in {net}/{len}");
            }
        }
    }

    #[test]
    fn every_ipv6_special_block_answers_as_the_registry_says() {
        for (net, len, global) in IPV6_SPECIAL {
            let ip = inside_v6(*net, *len);
            let expected = match translated_ipv4(ip) {
                Some(embedded) => is_public(IpAddr::V4(embedded)),
                None => *global,
            };
            assert_eq!(is_public(IpAddr::V6(ip)), expected, "{ip} in {net}/{len}");
        }
    }

    #[test]
    fn addresses_named_in_the_review_are_refused() {
        for ip in [
            "64:ff9b::7f00:1",    // NAT64 of 127.0.0.1
            "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
            "::7f00:1",           // IPv4-compatible 127.0.0.1
            "::ffff:0:7f00:1",    // IPv4-translated 127.0.0.1
            "::ffff:127.0.0.1",   // IPv4-mapped
            "::ffff:1.1.1.1",     // IPv4-mapped, even of a public address
            "2002:7f00:1::1",     // 6to4 of 127.0.0.1
            "2002:c0a8:101::1",   // 6to4 of 192.168.1.1
            "fec0::1",            // site local
            "2001::1",            // Teredo
            "192.0.0.1",          // IETF protocol assignments
            "192.0.0.9",          // … its anycast exceptions too
            "100.100.100.200",    // shared address space
            "169.254.169.254",    // link local, cloud metadata
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "4000::1", // outside global unicast
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "140.82.112.3",
            "192.31.196.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "64:ff9b::101:101", // NAT64 of 1.1.1.1
            "2002:101:101::1",  // 6to4 of 1.1.1.1
            "2001:4:112::1",    // AS112-v6
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }
}
