//! Which ingress rules a plan may add to the tenant's security group.
//!
//! A rule's source is a canonical IPv4 or IPv6 CIDR, or [`VPC_PLACEHOLDER`] for the VPC's
//! own blocks. It is private only when it lies entirely inside one of the VPC's blocks;
//! anything else (any public address, a /8 outside the VPC, `0.0.0.0/0`, `::/0`) needs the
//! `public-ingress` allowance.

use serde::{Deserialize, Serialize};
use std::net::Ipv6Addr;

use ipnet::{IpNet, Ipv6Net};

/// One extra ingress rule on the tenant's security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// First port.
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// Source: a canonical CIDR, or [`VPC_PLACEHOLDER`] for the VPC's own blocks.
    pub cidr: String,
    /// Why the rule exists.
    pub description: String,
}

/// What a plugin declared and an admin allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowances {
    /// The plugin's manifest declares `public-ingress`, and an admin enabled it.
    pub public_ingress: bool,
}

/// The source a plan writes for "the VPC's own CIDR blocks"; [`expand_vpc`] fills it in.
pub const VPC_PLACEHOLDER: &str = "{vpc}";

/// Protocols a rule may name, exactly as written.
pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "icmp"];

/// Longest rule description, in characters (EC2's limit).
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// Characters EC2 allows in a rule description, beside ASCII letters and digits.
pub const DESCRIPTION_PUNCTUATION: &str = ". _-:/()#,@[]+=&;{}!$*";

type Broken = (&'static str, String);

/// Replaces each rule from [`VPC_PLACEHOLDER`] with one rule per VPC block (IPv4 and IPv6
/// alike); other rules are kept as they are. Blocks that are not CIDRs are left out, as
/// validation ignores them.
pub fn expand_vpc(rules: &[IngressRule], vpc_cidrs: &[String]) -> Vec<IngressRule> {
    let mut out = Vec::new();
    for rule in rules {
        if rule.cidr == VPC_PLACEHOLDER {
            for block in vpc_cidrs.iter().filter(|b| b.parse::<IpNet>().is_ok()) {
                out.push(IngressRule { cidr: block.clone(), ..rule.clone() });
            }
        } else {
            out.push(rule.clone());
        }
    }
    out
}

/// Parses a rule's CIDR: exactly a network in canonical text, no host bits, no zone, and
/// not an IPv4-mapped (`::ffff:0:0/96`) or IPv4-compatible (`::/96`) IPv6 range, which
/// would name IPv4 hosts behind the IPv6 checks' back.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let net: IpNet = text.parse().map_err(|_| format!("'{text}' is not a CIDR"))?;
    if net.trunc() != net {
        return Err(format!("'{text}' has host bits set; write '{}'", net.trunc()));
    }
    if net.to_string() != text {
        return Err(format!("'{text}' is not in canonical form; write '{net}'"));
    }
    if let IpNet::V6(v6) = net {
        let mapped = Ipv6Net::new(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96).expect("a valid prefix");
        let compatible = Ipv6Net::new(Ipv6Addr::UNSPECIFIED, 96).expect("a valid prefix");
        if mapped.contains(&v6) || compatible.contains(&v6) {
            return Err(format!("'{text}' is an IPv4-mapped or IPv4-compatible IPv6 range"));
        }
    }
    Ok(net)
}

/// The VPC's blocks that parse; the others make nothing private.
pub fn vpc_networks(vpc_cidrs: &[String]) -> Vec<IpNet> {
    vpc_cidrs.iter().filter_map(|b| b.parse::<IpNet>().ok()).map(|n| n.trunc()).collect()
}

/// Whether `net` lies entirely inside one of the VPC's blocks.
pub fn is_private(net: &IpNet, vpc: &[IpNet]) -> bool {
    vpc.iter().any(|block| block.contains(net))
}

/// Checks one rule.
pub fn check_ingress(rule: &IngressRule, vpc: &[IpNet], allowances: Allowances) -> Result<(), Broken> {
    if !PROTOCOLS.contains(&rule.protocol.as_str()) {
        return Err(("ingress-shape", format!("protocol '{}' is not tcp, udp or icmp", rule.protocol)));
    }
    if rule.from_port > rule.to_port {
        return Err(("ingress-shape", format!("ports {}-{} are reversed", rule.from_port, rule.to_port)));
    }
    if rule.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err((
            "ingress-shape",
            format!("a rule's description is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if let Some(c) =
        rule.description.chars().find(|c| !(c.is_ascii_alphanumeric() || DESCRIPTION_PUNCTUATION.contains(*c)))
    {
        return Err((
            "ingress-shape",
            format!("{c:?} is not allowed in a rule's description (letters, digits and {DESCRIPTION_PUNCTUATION})"),
        ));
    }
    if rule.cidr == VPC_PLACEHOLDER {
        return Ok(());
    }
    let net = parse_cidr(&rule.cidr).map_err(|why| ("ingress-shape", why))?;
    if !is_private(&net, vpc) && !allowances.public_ingress {
        return Err((
            "no-public-ingress",
            format!(
                "'{}' is not inside the VPC; the plugin must declare 'public-ingress' and an admin enable it",
                rule.cidr
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn rule(protocol: &str, from: u16, to: u16, cidr: &str) -> IngressRule {
        IngressRule {
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            cidr: cidr.into(),
            description: "test".into(),
        }
    }

    fn vpc() -> Vec<IpNet> {
        vpc_networks(&["10.0.0.0/16".into(), "2600:1f18:abcd:1200::/56".into(), "garbage".into()])
    }

    /// Sources that are never private for the VPC 10.0.0.0/16 + 2600:1f18:abcd:1200::/56.
    pub(crate) const PUBLIC_CIDRS: [&str; 23] = [
        "0.0.0.0/0",
        "0.0.0.0/1",
        "128.0.0.0/1",
        "::/0",
        "2000::/3",
        "203.0.113.7/32",
        "8.8.8.8/32",
        "8.0.0.0/8",
        "52.95.0.0/16",
        "10.0.0.0/8",
        "10.0.0.0/15",
        "10.1.0.0/16",
        "10.1.0.1/32",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.1/32",
        "169.254.169.254/32",
        "2600:1f18:abcd::/48",
        "2600:1f18:abcd:1300::/56",
        "2001:db8::/32",
        "fe80::/10",
        "fc00::/7",
    ];

    /// Sources that are not CIDRs as EC2 should get them.
    pub(crate) const MALFORMED_CIDRS: [&str; 37] = [
        "",
        "10.0.0.0",
        "10.0.0.0/",
        "/16",
        "10.0.0.0/33",
        "10.0.0.1/8",
        "10.0.0.1/16",
        "10.0.0.0/08",
        "10.0.0.0/+16",
        "010.0.0.0/16",
        "10.0.0/16",
        "10.0.0.0.0/16",
        " 10.0.0.0/16",
        "10.0.0.0/16 ",
        "10.0.0.0 /16",
        "10.0.0.0/16\n",
        "10.0.0.0/16/16",
        "10.0.0.0-10.0.255.255",
        "10.0.0.0/255.255.0.0",
        "0x0a.0.0.0/16",
        "::ffff:0:0/96",
        "::ffff:0.0.0.0/96",
        "::ffff:10.0.0.0/112",
        "::ffff:a00:0/104",
        "::/96",
        "::a00:0/104",
        "2600:1F18:ABCD:1200::/56",
        "2600:1f18:abcd:1200:0::/56",
        "2600:1f18:abcd:1200::1/56",
        "fe80::1%eth0/128",
        "fe80::%1/64",
        "::/129",
        "::1/128",
        "{vpc} ",
        "{VPC}",
        "vpc",
        "１0.0.0.0/16",
    ];

    #[test]
    fn private_sources_pass_without_the_allowance() {
        for cidr in [
            "10.0.0.0/16",
            "10.0.1.0/24",
            "10.0.255.255/32",
            "2600:1f18:abcd:1200::/56",
            "2600:1f18:abcd:12ff::/64",
            VPC_PLACEHOLDER,
        ] {
            check_ingress(&rule("tcp", 22, 22, cidr), &vpc(), Allowances::default())
                .unwrap_or_else(|e| panic!("{cidr}: {e:?}"));
        }
    }

    #[test]
    fn public_sources_need_the_allowance() {
        for cidr in PUBLIC_CIDRS {
            let refused = check_ingress(&rule("tcp", 22, 22, cidr), &vpc(), Allowances::default()).unwrap_err();
            assert_eq!(refused.0, "no-public-ingress", "{cidr}: {}", refused.1);
            check_ingress(&rule("tcp", 22, 22, cidr), &vpc(), Allowances { public_ingress: true }).unwrap();
        }
    }

    #[test]
    fn malformed_sources_are_refused_even_with_the_allowance() {
        for cidr in MALFORMED_CIDRS {
            for allowances in [Allowances::default(), Allowances { public_ingress: true }] {
                let refused = check_ingress(&rule("tcp", 22, 22, cidr), &vpc(), allowances).unwrap_err();
                assert_eq!(refused.0, "ingress-shape", "{cidr:?}: {}", refused.1);
            }
        }
    }

    #[test]
    fn nothing_is_private_without_a_parsable_vpc() {
        for blocks in [vec![], vec!["garbage".to_string()], vec!["10.0.0.0/16 ".to_string()]] {
            let vpc = vpc_networks(&blocks);
            let refused = check_ingress(&rule("tcp", 22, 22, "10.0.0.0/24"), &vpc, Allowances::default()).unwrap_err();
            assert_eq!(refused.0, "no-public-ingress");
        }
    }

    #[test]
    fn protocols_ports_and_descriptions() {
        let bad = [
            rule("gre", 1, 1, "10.0.0.0/16"),
            rule("TCP", 1, 1, "10.0.0.0/16"),
            rule("tcp ", 1, 1, "10.0.0.0/16"),
            rule("-1", 0, 65535, "10.0.0.0/16"),
            rule("all", 0, 65535, "10.0.0.0/16"),
            rule("6", 1, 1, "10.0.0.0/16"),
            rule("", 1, 1, "10.0.0.0/16"),
            rule("tcp", 9, 1, "10.0.0.0/16"),
            rule("udp", 65535, 0, "10.0.0.0/16"),
            IngressRule { description: "d".repeat(MAX_DESCRIPTION_CHARS + 1), ..rule("tcp", 1, 1, "10.0.0.0/16") },
            IngressRule { description: "é".repeat(10), ..rule("tcp", 1, 1, "10.0.0.0/16") },
            IngressRule { description: "line\nbreak".into(), ..rule("tcp", 1, 1, "10.0.0.0/16") },
            IngressRule { description: "quote'".into(), ..rule("tcp", 1, 1, "10.0.0.0/16") },
            IngressRule { description: "back\\slash".into(), ..rule("tcp", 1, 1, "10.0.0.0/16") },
            IngressRule { description: "tab\there".into(), ..rule("tcp", 1, 1, "10.0.0.0/16") },
        ];
        for r in bad {
            assert_eq!(
                check_ingress(&r, &vpc(), Allowances { public_ingress: true }).unwrap_err().0,
                "ingress-shape",
                "{r:?}"
            );
        }
        let good = [
            rule("udp", 0, 65535, "10.0.0.0/16"),
            rule("icmp", 8, 8, "10.0.0.0/16"),
            IngressRule { description: "d".repeat(MAX_DESCRIPTION_CHARS), ..rule("tcp", 1, 1, "10.0.0.0/16") },
            IngressRule { description: format!("Az09{DESCRIPTION_PUNCTUATION}"), ..rule("tcp", 1, 1, "10.0.0.0/16") },
            IngressRule { description: String::new(), ..rule("tcp", 1, 1, "10.0.0.0/16") },
        ];
        for r in good {
            check_ingress(&r, &vpc(), Allowances::default()).unwrap_or_else(|e| panic!("{r:?}: {e:?}"));
        }
    }

    #[test]
    fn the_vpc_placeholder_expands_to_every_block() {
        let rules = [rule("tcp", 8888, 8888, VPC_PLACEHOLDER), rule("tcp", 443, 443, "203.0.113.0/24")];
        let blocks = ["10.0.0.0/16".to_string(), "2600:1f18:abcd:1200::/56".to_string(), "junk".to_string()];
        let expanded = expand_vpc(&rules, &blocks);
        let cidrs: Vec<&str> = expanded.iter().map(|r| r.cidr.as_str()).collect();
        assert_eq!(cidrs, ["10.0.0.0/16", "2600:1f18:abcd:1200::/56", "203.0.113.0/24"]);
        assert!(expanded[..2].iter().all(|r| r.from_port == 8888 && r.protocol == "tcp"));
        assert!(expand_vpc(&rules[..1], &[]).is_empty());
    }
}
