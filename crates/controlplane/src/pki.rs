//! Certificates and keys for a loopback control plane, as kubeadm lays them out
//! (upstream: `cmd/kubeadm/app/phases/certs/certlist.go`): a cluster CA signing the API
//! server's serving certificate and the clients' certificates, a front-proxy CA for the
//! aggregation layer, and the service-account signing key pair.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Pem {
    /// The certificate (`CERTIFICATE`).
    pub cert: String,
    /// The private key (`PRIVATE KEY`, PKCS#8).
    pub key: String,
}

/// Every certificate and key the control plane needs.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The cluster CA: trusted by every client and by the API server for client certificates.
    pub ca: Pem,
    /// The API server's serving certificate (loopback and the in-cluster names).
    pub apiserver: Pem,
    /// The API server's client certificate towards aggregated APIs (front-proxy CA).
    pub front_proxy_ca: Pem,
    /// The front proxy's client certificate (`CN=front-proxy-client`).
    pub front_proxy_client: Pem,
    /// The administrator (`O=system:masters`), written into the run directory's kubeconfig.
    pub admin: Pem,
    /// `CN=system:kube-controller-manager`, bound by the bootstrap RBAC policy.
    pub controller_manager: Pem,
    /// `CN=system:kube-scheduler`, bound by the bootstrap RBAC policy.
    pub scheduler: Pem,
    /// The service-account token signing key: private key PEM.
    pub service_account_key: String,
    /// The service-account token verification key: public key PEM.
    pub service_account_pub: String,
}

/// A PKI error (rcgen's message).
#[derive(Debug, thiserror::Error)]
#[error("generating certificates: {0}")]
pub struct PkiError(#[from] rcgen::Error);

fn new_ca(cn: &str) -> Result<(Pem, Issuer<'static, KeyPair>), PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let pem = Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    };
    Ok((pem, Issuer::new(params, key)))
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    cn: &str,
    orgs: &[&str],
    sans: &[SanType],
    usage: ExtendedKeyUsagePurpose,
) -> Result<Pem, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    for o in orgs {
        params.distinguished_name.push(DnType::OrganizationName, *o);
    }
    params.subject_alt_names = sans.to_vec();
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

fn dns(name: &str) -> Result<SanType, PkiError> {
    Ok(SanType::DnsName(name.try_into()?))
}

impl Pki {
    /// Generates a fresh PKI (ECDSA P-256 keys). `service_ip` is the first address of the
    /// service range, which the `kubernetes` Service gets (kubeadm adds it to the SANs too).
    pub fn generate(service_ip: Ipv4Addr) -> Result<Pki, PkiError> {
        let (ca, ca_issuer) = new_ca("kscale-ca")?;
        let (front_proxy_ca, fp_issuer) = new_ca("kscale-front-proxy-ca")?;
        let mut sans = vec![
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::IpAddress(IpAddr::V4(service_ip)),
        ];
        for name in [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ] {
            sans.push(dns(name)?);
        }
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        let client = || ExtendedKeyUsagePurpose::ClientAuth;
        let apiserver = leaf(&ca_issuer, "kube-apiserver", &[], &sans, server)?;
        let front_proxy_client = leaf(&fp_issuer, "front-proxy-client", &[], &[], client())?;
        let admin = leaf(
            &ca_issuer,
            "kscale-admin",
            &["system:masters"],
            &[],
            client(),
        )?;
        let controller_manager = leaf(
            &ca_issuer,
            "system:kube-controller-manager",
            &[],
            &[],
            client(),
        )?;
        let scheduler = leaf(&ca_issuer, "system:kube-scheduler", &[], &[], client())?;
        let sa = KeyPair::generate()?;
        Ok(Pki {
            ca,
            apiserver,
            front_proxy_ca,
            front_proxy_client,
            admin,
            controller_manager,
            scheduler,
            service_account_key: sa.serialize_pem(),
            service_account_pub: sa.public_key_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_distinct_pem_material() {
        let pki = Pki::generate(Ipv4Addr::new(10, 96, 0, 1)).unwrap();
        for pem in [&pki.ca, &pki.apiserver, &pki.admin, &pki.scheduler] {
            assert!(pem.cert.starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(pem.key.starts_with("-----BEGIN PRIVATE KEY-----"));
        }
        assert_ne!(pki.ca.cert, pki.front_proxy_ca.cert);
        assert_ne!(pki.admin.key, pki.scheduler.key);
        assert!(
            pki.service_account_pub
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
    }
}
