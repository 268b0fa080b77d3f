//! HTTPS (`--tls`): the certificate the server serves, either made at start for
//! `127.0.0.1`, `::1` and `localhost` (a throwaway CA signs it; clients trust the CA's PEM)
//! or read from the user's own PEM files, and the handshake that wraps each connection.
//! Uses rustls with the `ring` provider.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// The names the generated certificate is valid for.
pub const GENERATED_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// A certificate and key ready to serve, and the PEM a client should trust.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    /// The PEM a client trusts: the generated CA, or the user's certificate file as given.
    trust_pem: String,
    /// The user's certificate file (`--tls-cert`); `None` for a generated one.
    cert_file: Option<PathBuf>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("cert_file", &self.cert_file).finish_non_exhaustive()
    }
}

/// Why HTTPS cannot be set up: each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(pub String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl Tls {
    /// Makes a CA and a certificate it signs for [`GENERATED_NAMES`]; nothing is written.
    pub fn generate() -> Result<Tls, TlsError> {
        let failed = |e: rcgen::Error| TlsError(format!("cannot make a certificate: {e}"));
        let ca_key = KeyPair::generate().map_err(failed)?;
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name = name("mock-server local CA");
        let ca = ca.self_signed(&ca_key).map_err(failed)?;

        let key = KeyPair::generate().map_err(failed)?;
        let names = GENERATED_NAMES.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut leaf = CertificateParams::new(names).map_err(failed)?;
        leaf.distinguished_name = name("localhost");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf.signed_by(&key, &ca, &ca_key).map_err(failed)?;

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let acceptor = acceptor(vec![leaf.der().clone()], key)?;
        Ok(Tls { acceptor, trust_pem: ca.pem(), cert_file: None })
    }

    /// Reads a certificate chain and its private key from PEM files (`--tls-cert`, `--tls-key`).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let trust_pem =
            std::fs::read_to_string(cert).map_err(|e| TlsError(format!("--tls-cert {}: {e}", cert.display())))?;
        let chain = CertificateDer::pem_slice_iter(trust_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError(format!("--tls-cert {}: not a PEM certificate: {e}", cert.display())))?;
        if chain.is_empty() {
            return Err(TlsError(format!(
                "--tls-cert {}: no CERTIFICATE block found; give a PEM certificate file",
                cert.display()
            )));
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            TlsError(format!("--tls-key {}: no PEM private key read ({e}); give a PEM key file", key.display()))
        })?;
        let acceptor = acceptor(chain, private)?;
        Ok(Tls { acceptor, trust_pem, cert_file: Some(cert.to_path_buf()) })
    }

    /// The PEM a client should trust: the generated CA, or the user's certificate file.
    pub fn trust_pem(&self) -> &str {
        &self.trust_pem
    }

    /// The user's certificate file, when the certificate was not generated.
    pub fn cert_file(&self) -> Option<&Path> {
        self.cert_file.as_deref()
    }

    /// The TLS handshake on an accepted connection, bounded by `timeout`. A client that
    /// speaks plain HTTP is told to use `https://` (in plain HTTP, its only language) and
    /// closed; `None` when the connection is over.
    pub(crate) async fn accept(
        &self,
        stream: crate::stall::WriteDeadline<TcpStream>,
        timeout: Duration,
    ) -> Option<tokio_rustls::server::TlsStream<crate::stall::WriteDeadline<TcpStream>>> {
        let handshake = async {
            let mut first = [0u8; 1];
            // A TLS connection opens with a handshake record (0x16); HTTP with a letter.
            if stream.get_ref().peek(&mut first).await.ok()? == 1 && first[0].is_ascii_alphabetic() {
                refuse_plain_http(stream).await;
                return None;
            }
            self.acceptor.accept(stream).await.ok()
        };
        tokio::time::timeout(timeout, handshake).await.ok().flatten()
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn acceptor(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("cannot set up tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            TlsError(format!("the certificate and key do not go together: {e}; check --tls-cert and --tls-key"))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Answers a plain-HTTP request on the HTTPS port with a 400 that says so, and closes.
async fn refuse_plain_http(mut stream: crate::stall::WriteDeadline<TcpStream>) {
    use tokio::io::AsyncWriteExt;
    let response = crate::respond::plain_http_on_tls();
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&response)).await;
    let _ = stream.shutdown().await;
}
