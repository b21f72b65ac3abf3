//! Kubeconfig files with the certificates embedded (so a copied file keeps working).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::pki::Pem;

/// A kubeconfig for `user` (client certificate `cred`) against `server`, trusting `ca_pem`.
pub fn render(server: &str, ca_pem: &str, user: &str, cred: &Pem) -> String {
    let b = |s: &str| STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kscale\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user:?}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: kscale\n  context:\n    cluster: kscale\n    user: {user:?}\ncurrent-context: kscale\n",
        ca = b(ca_pem),
        cert = b(&cred.cert),
        key = b(&cred.key),
    )
}
