//! Raw sockets for what a keep-alive client cannot do: a huge body written while the
//! answer is read (the server may answer early), a header trickled a byte at a time,
//! and calls with a deadline, on a fresh connection or a kept-alive one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::load::{code_of, Template};

/// How one request ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub elapsed: Duration,
    /// The HTTP status, or what went wrong instead.
    pub status: String,
    /// The body's `code`, when there was one.
    pub code: String,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.code == "0"
    }

    fn failed(started: Instant, why: impl Into<String>) -> Outcome {
        Outcome { elapsed: started.elapsed(), status: why.into(), code: String::new() }
    }
}

/// Sends `template` over a new connection, writing the body while the answer is read.
pub async fn send(addr: SocketAddr, template: &Template, deadline: Duration) -> Outcome {
    let started = Instant::now();
    let Ok(stream) = TcpStream::connect(addr).await else { return Outcome::failed(started, "connect failed") };
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("POST {} HTTP/1.1\r\n", template.path);
    for (name, value) in &template.headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += &format!("content-length: {}\r\nconnection: close\r\n\r\n", template.body.len());
    let body = template.body.clone();
    let write = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        for chunk in body.chunks(1 << 20) {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
        }
        // Keep the write half open until the answer is read: a close would end the request.
        std::future::pending::<()>().await;
    });
    let read = tokio::time::timeout(deadline, read_answer(&mut reader)).await;
    write.abort();
    match read {
        Ok(Some((status, body))) => Outcome { elapsed: started.elapsed(), status, code: code_of(&body) },
        Ok(None) => Outcome::failed(started, "closed without an answer"),
        Err(_) => Outcome::failed(started, format!("no answer within {} s", deadline.as_secs())),
    }
}

/// Reads one HTTP/1.1 answer: the status and the body (by content-length, else to EOF).
async fn read_answer(reader: &mut (impl AsyncReadExt + Unpin)) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader.read(&mut chunk).await.ok()?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.split_whitespace().nth(1).unwrap_or("?").to_string();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_none_or(|len| buf.len() >= end + 4 + len) || n == 0 {
                return Some((status, buf.split_off(end + 4)));
            }
        } else if n == 0 {
            return None;
        }
    }
}

/// One call of `template` on a new connection, within `deadline`.
pub async fn call(addr: SocketAddr, template: &Template, deadline: Duration) -> Outcome {
    KeepAlive::new(addr).call(template, deadline).await
}

/// A client that keeps one connection open across calls, reconnecting when it is lost.
pub struct KeepAlive {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl KeepAlive {
    pub fn new(addr: SocketAddr) -> KeepAlive {
        KeepAlive { addr, sender: None }
    }

    /// One call within `deadline` (connecting first if needed); a failure drops the connection.
    pub async fn call(&mut self, template: &Template, deadline: Duration) -> Outcome {
        let started = Instant::now();
        match tokio::time::timeout(deadline, self.attempt(template)).await {
            Ok(Ok((status, code))) => Outcome { elapsed: started.elapsed(), status, code },
            Ok(Err(why)) => {
                self.sender = None;
                Outcome::failed(started, why)
            }
            Err(_) => {
                self.sender = None;
                Outcome::failed(started, format!("no answer within {} ms", deadline.as_millis()))
            }
        }
    }

    async fn attempt(&mut self, template: &Template) -> Result<(String, String), &'static str> {
        let sender = match &mut self.sender {
            Some(sender) => sender,
            None => self.sender.insert(connect(self.addr).await?),
        };
        let mut request = Request::post(template.path.as_str());
        for (name, value) in &template.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(Full::new(template.body.clone())).map_err(|_| "bad request")?;
        let response = sender.send_request(request).await.map_err(|_| "closed without an answer")?;
        let status = response.status().as_u16().to_string();
        let body = response.into_body().collect().await.map_err(|_| "answer cut short")?.to_bytes();
        Ok((status, code_of(&body)))
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, &'static str> {
    let stream = TcpStream::connect(addr).await.map_err(|_| "connect failed")?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|_| "handshake failed")?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Holds a connection open by sending a request head one byte per second, forever;
/// reconnects a second after the server lets go. Returns the number of reconnections
/// when `stop` fires.
pub async fn trickle(addr: SocketAddr, path: String, mut stop: tokio::sync::watch::Receiver<bool>) -> u64 {
    let head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nx-slow: ");
    let mut reconnects = 0;
    loop {
        if let Ok(mut stream) = TcpStream::connect(addr).await {
            let mut bytes = head.bytes().chain(std::iter::repeat(b'a'));
            loop {
                let byte = [bytes.next().unwrap_or(b'a')];
                if stream.write_all(&byte).await.is_err() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return reconnects,
                }
            }
        }
        reconnects += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return reconnects,
        }
    }
}
