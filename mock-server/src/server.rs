//! The listener: accepts connections, serves each on its own task, and shuts down
//! gracefully. [`start`] is what a test or the binary calls; the [`Handle`] it returns
//! stops the server when shut down or dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::respond;
use crate::service;
use crate::shared::{Shared, StartError};
use crate::stall::WriteDeadline;
use crate::tls::Tls;

/// How long connections in flight get to finish once shutdown starts.
const GRACE: Duration = Duration::from_secs(5);

/// A running server. Dropping it stops the server; [`Handle::shutdown`] also waits for it.
#[derive(Debug)]
pub struct Handle {
    addr: SocketAddr,
    clock: Clock,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// Serving HTTPS (`--tls`): the url says `https://`.
    tls: bool,
}

impl Handle {
    /// The address bound: with port 0, the port the system picked.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://…` when serving HTTPS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The server's clock: move it to test `eop-date` handling.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Stops accepting, lets requests in flight finish (up to a grace period), and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Binds `addr` (port 0 picks a free port) and serves `config` on the current runtime.
pub async fn start(config: Config, addr: SocketAddr) -> Result<Handle, StartError> {
    let shared = Arc::new(Shared::new(&config)?);
    let listener = TcpListener::bind(addr).await.map_err(|error| StartError::Listen { addr, error })?;
    Ok(serve(listener, config.clock.clone(), shared, config.tls.clone()))
}

/// Serves on an already bound listener.
fn serve(listener: TcpListener, clock: Clock, shared: Arc<Shared>, tls: Option<Tls>) -> Handle {
    let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (stop, stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(shared.max_connections));
    let https = tls.is_some();
    let task = tokio::spawn(accept_loop(listener, shared, permits, stopped, tls));
    Handle { addr, clock, stop, task: Some(task), tls: https }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
    tls: Option<Tls>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors or a reset before accept: pause, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        // The connection limit bounds memory (at most this many bodies in flight): one more
        // is told so plainly and closed, before a byte of its request is read.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse_connection(stream, shared.max_connections));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (header_timeout, write_timeout) = (shared.header_timeout, shared.write_timeout);
        let shared = shared.clone();
        let service = service_fn(move |request| {
            let shared = shared.clone();
            async move { Ok::<_, std::convert::Infallible>(service::handle(&shared, request, peer).await) }
        });
        // A client that never finishes its headers is dropped rather than held forever.
        // The header timeout also ends a keep-alive connection left idle between requests.
        let stream = WriteDeadline::new(stream, write_timeout);
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
        match &tls {
            None => {
                let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = connection.await;
                    drop(permit);
                });
            }
            // The handshake runs on the connection's task, bounded by the header timeout, so
            // a slow or silent client holds up no one else.
            Some(tls) => {
                let (tls, watcher) = (tls.clone(), graceful.watcher());
                tokio::spawn(async move {
                    if let Some(stream) = tls.accept(stream, header_timeout).await {
                        let _ = watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await;
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
    // The last log lines reach standard error before the server is gone.
    let log = shared.journal.log.clone();
    let _ = tokio::task::spawn_blocking(move || log.flush(Duration::from_secs(1))).await;
}

/// Answers a connection over the limit with a 503 that says why, and closes it.
async fn refuse_connection(mut stream: tokio::net::TcpStream, limit: usize) {
    let response = respond::connection_limit(limit);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&response)).await;
    let _ = stream.shutdown().await;
}
