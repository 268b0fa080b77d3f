//! The verifier's HTTP client: any base URL, `http://` or `https://` (rustls, Mozilla's roots
//! or a `--tls-ca` PEM), one fresh connection per call, every failure an error that says
//! what to do — never a panic, never a hang (each call has a deadline).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::{Call, Reply};

/// Where the server is: scheme, host and port of the base URL.
#[derive(Debug, Clone)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// `host` or `host:port`, as the `host` header carries it.
    pub authority: String,
}

impl Target {
    /// Reads `http://host[:port]` or `https://host[:port]`, with an optional trailing `/`.
    pub fn parse(url: &str) -> Result<Target, String> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("--url {url}: start it with http:// or https://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "--url {url}: give the base only (scheme, host, port), e.g. https://ai-global.ctapi.ctyun.cn"
            ));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port = port.parse().map_err(|_| format!("--url {url}: the port `{port}` is not a number"))?;
                (host, port)
            }
            _ => (authority, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(Target { https, host, port, authority: authority.to_string() })
    }
}

/// Sends calls to one target.
#[derive(Clone)]
pub struct Transport {
    target: Target,
    tls: Option<tokio_rustls::TlsConnector>,
    timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("target", &self.target).field("timeout", &self.timeout).finish()
    }
}

impl Transport {
    /// A transport to `target`; `tls_ca` replaces Mozilla's roots with the certificates in
    /// that PEM file (for a server with its own CA, such as `mock-server --tls`).
    pub fn new(target: Target, tls_ca: Option<&std::path::Path>, timeout: Duration) -> Result<Transport, String> {
        let tls = match (target.https, tls_ca) {
            (false, Some(_)) => return Err("--tls-ca is for an https:// --url".into()),
            (false, None) => None,
            (true, ca) => Some(tokio_rustls::TlsConnector::from(Arc::new(client_config(ca)?))),
        };
        Ok(Transport { target, tls, timeout })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends `call` on a fresh connection and reads the whole reply, within the deadline.
    pub async fn send(&self, call: Call) -> Result<Reply, String> {
        match tokio::time::timeout(self.timeout, self.exchange(call)).await {
            Ok(result) => result,
            Err(_) => {
                Err(format!("no answer within {} s: raise --timeout or check the server", self.timeout.as_secs()))
            }
        }
    }

    async fn exchange(&self, call: Call) -> Result<Reply, String> {
        let Target { host, port, .. } = &self.target;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), *port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}; check --url"))?;
        match &self.tls {
            None => http1(tcp, call).await,
            Some(connector) => {
                let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: not a server name: {e}"))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("tls handshake with {host}: {e}; pass the server's CA with --tls-ca"))?;
                http1(stream, call).await
            }
        }
    }
}

fn client_config(ca: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("--tls-ca {}: {e}", path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--tls-ca {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("--tls-ca {}: no certificate in it; give a PEM file", path.display()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| format!("--tls-ca {}: {e}", path.display()))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

async fn http1<S>(stream: S, call: Call) -> Result<Reply, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("http handshake: {e}"))?;
    tokio::spawn(connection);
    let mut request = Request::builder().method(call.method.as_str()).uri(call.target.as_str());
    for (name, value) in &call.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request =
        request.body(Full::new(Bytes::from(call.body))).map_err(|e| format!("cannot build the request: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes();
    Ok(Reply { status, headers, raw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("http://127.0.0.1:8080", false, "127.0.0.1", 8080, "127.0.0.1:8080")]
    #[case("https://ai-global.ctapi.ctyun.cn/", true, "ai-global.ctapi.ctyun.cn", 443, "ai-global.ctapi.ctyun.cn")]
    #[case("http://localhost", false, "localhost", 80, "localhost")]
    #[case("http://[::1]:9000", false, "::1", 9000, "[::1]:9000")]
    fn reads_a_base_url(
        #[case] url: &str,
        #[case] https: bool,
        #[case] host: &str,
        #[case] port: u16,
        #[case] authority: &str,
    ) {
        let target = Target::parse(url).expect("a valid url");
        assert_eq!(
            (target.https, target.host.as_str(), target.port, target.authority.as_str()),
            (https, host, port, authority)
        );
    }

    #[rstest]
    #[case("127.0.0.1:8080", "--url 127.0.0.1:8080: start it with http:// or https://")]
    #[case("http://host:port", "--url http://host:port: the port `port` is not a number")]
    #[case(
        "http://h/v1/aiop",
        "--url http://h/v1/aiop: give the base only (scheme, host, port), e.g. https://ai-global.ctapi.ctyun.cn"
    )]
    fn refuses_a_url_that_is_no_base(#[case] url: &str, #[case] message: &str) {
        assert_eq!(Target::parse(url).expect_err("refused"), message);
    }
}
