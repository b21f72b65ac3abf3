//! Generated names made comparable across runs.
//!
//! Kubernetes generates the tail of many names at random or from hashes: a Deployment's
//! ReplicaSet is `NAME-<pod-template-hash>` and its pods `NAME-<hash>-<5 chars>`; Karpenter's
//! NodeClaims are `POOL-<5 chars>`. Both parts are drawn from the alphabet
//! `bcdfghjklmnpqrstvwxz2456789` (no vowels, no 0/1/3), which ordinary words seldom fit. A
//! trailing `-<5 such chars>` is taken as a random suffix, then a trailing `-<6 to 10 such
//! chars>` as a hash. Cloud node names (`ip-10-0-1-2.us-east-1.compute.internal`) carry IPs.

/// Kubernetes' alphabet for generated name parts (`k8s.io/apimachinery/pkg/util/rand`).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Whether `s` is `min..=max` characters of the generated-name alphabet.
fn generated(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// `name` without a trailing `-<random suffix>`, if it has one.
fn strip_random(name: &str) -> Option<&str> {
    let (head, tail) = name.rsplit_once('-')?;
    (!head.is_empty() && generated(tail, 5, 5)).then_some(head)
}

/// `name` without a trailing `-<hash>`, if it has one.
fn strip_hash(name: &str) -> Option<&str> {
    let (head, tail) = name.rsplit_once('-')?;
    (!head.is_empty() && generated(tail, 6, 10)).then_some(head)
}

/// The owning workload of a generated name: `web-6bff4dcddd-qjtzd` (pod) and `web-6bff4dcddd`
/// (ReplicaSet) give `web`, `default-x7k2p` (NodeClaim) gives `default`; other names are kept.
pub fn owner(name: &str) -> &str {
    let base = strip_random(name).unwrap_or(name);
    strip_hash(base).unwrap_or(base)
}

/// Whether `name` is a cloud node name made from an IP (`ip-10-0-1-2...`).
pub fn is_ip_node(name: &str) -> bool {
    ip_node_prefix(name).is_some()
}

/// The length of the `ip-A-B-C-D` prefix of `s`, if it starts with one.
fn ip_node_prefix(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("ip-")?;
    let mut len = 3;
    let mut parts = 0;
    for part in rest.split(['-', '.']) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        parts += 1;
        len += part.len();
        if parts == 4 {
            return Some(len);
        }
        len += 1;
    }
    None
}

/// Whether `s` is a dotted IPv4 address.
fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255))
}

/// Whether `s` is a UUID (`8-4-4-4-12` hex digits).
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One word of command output made run-independent: UUIDs become `<uid>`, IPv4 addresses
/// `<ip>`, `ip-A-B-C-D` node names `ip-<ip>`, bare hashes `<hash>`, and generated suffixes
/// `-<hash>` / `-<id>`.
pub fn normalize_word(w: &str) -> String {
    if is_uuid(w) {
        return "<uid>".into();
    }
    // A uid-derived name, e.g. a container ID `<uid>-app`.
    if w.len() > 37 && w.is_char_boundary(36) && w.as_bytes()[36] == b'-' && is_uuid(&w[..36]) {
        return format!("<uid>{}", &w[36..]);
    }
    if is_ipv4(w) {
        return "<ip>".into();
    }
    if let Some(n) = ip_node_prefix(w) {
        return format!("ip-<ip>{}", &w[n..]);
    }
    // A bare hash, e.g. a `pod-template-hash` label's value (the real controller hashes the
    // template as the API server stored it, with its defaults).
    if generated(w, 6, 10)
        && w.bytes().any(|b| b.is_ascii_digit())
        && w.bytes().any(|b| b.is_ascii_alphabetic())
    {
        return "<hash>".into();
    }
    let mut out = w;
    let mut tail = String::new();
    if let Some(h) = strip_random(out) {
        out = h;
        tail = "-<id>".into();
    }
    if let Some(h) = strip_hash(out) {
        out = h;
        tail = format!("-<hash>{tail}");
    }
    format!("{out}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_of_generated_names() {
        assert_eq!(owner("web-6bff4dcddd-qjtzd"), "web");
        assert_eq!(owner("web-6bff4dcddd"), "web");
        assert_eq!(owner("my-web-app-7d4b9c8f5-x2x4z"), "my-web-app");
        assert_eq!(owner("default-x7k2p"), "default");
        assert_eq!(owner("nginx"), "nginx");
        assert_eq!(owner("worker-2"), "worker-2");
        assert_eq!(owner("queue-worker"), "queue-worker");
    }

    #[test]
    fn words() {
        assert_eq!(normalize_word("10.0.12.7"), "<ip>");
        assert_eq!(normalize_word("1.35.0"), "1.35.0");
        assert_eq!(
            normalize_word("ip-192-168-3-4.us-east-1.compute.internal"),
            "ip-<ip>.us-east-1.compute.internal"
        );
        assert!(is_ip_node("ip-10-0-1-2.eu-west-1.compute.internal"));
        assert!(!is_ip_node("ip-pool"));
        assert_eq!(
            normalize_word("3f2a1b4c-0d1e-4f5a-8b6c-7d8e9f0a1b2c"),
            "<uid>"
        );
        assert_eq!(normalize_word("web-6bff4dcddd-qjtzd"), "web-<hash>-<id>");
        assert_eq!(normalize_word("web-6bff4dcddd"), "web-<hash>");
        assert_eq!(normalize_word("default-x7k2p"), "default-<id>");
        assert_eq!(normalize_word("m5.large"), "m5.large");
        assert_eq!(
            normalize_word("3f2a1b4c-0d1e-4f5a-8b6c-7d8e9f0a1b2c-app"),
            "<uid>-app"
        );
        assert_eq!(
            normalize_word("kube-api-access-555d5"),
            "kube-api-access-<id>"
        );
        assert_eq!(normalize_word("7556b94985"), "<hash>");
        assert_eq!(normalize_word("2457600"), "2457600");
        assert_eq!(normalize_word("kubectl"), "kubectl");
    }
}
