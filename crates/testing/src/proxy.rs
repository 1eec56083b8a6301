//! A TCP proxy on loopback in front of a real server (a broker), so a test
//! can make that server unreachable mid-run (`cut`) and reachable again
//! (`restore`, on the same port) without stopping the server, which other
//! tests share. It also counts the connections it accepted, so a test can
//! tell whether a client reused its connection.
//!
//! Plain tokio, on whichever runtime the test has.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;

use crate::loopback::{Handler, Loopback};

/// Forwards every connection to `upstream`, byte for byte both ways.
#[derive(Debug)]
pub struct TcpProxy {
    loopback: Loopback<Forward>,
}

#[derive(Debug)]
struct Forward {
    upstream: SocketAddr,
    accepted: AtomicUsize,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start(upstream: SocketAddr) -> Self {
        let forward = Forward {
            upstream,
            accepted: AtomicUsize::new(0),
        };
        Self {
            loopback: Loopback::start(0, "TCP proxy", forward).await,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.loopback.addr()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn upstream(&self) -> SocketAddr {
        self.loopback.handler().upstream
    }

    /// Connections accepted since `start`, across cuts.
    pub fn connections(&self) -> usize {
        self.loopback.handler().accepted.load(Ordering::SeqCst)
    }

    /// Closes every open connection (both sides: the client sees its
    /// connection end, the server sees its client go) and the port, so new
    /// connections are refused until `restore`.
    pub async fn cut(&mut self) {
        self.loopback.stop().await;
    }

    /// Accepts connections again, on the same port.
    pub async fn restore(&mut self) {
        self.loopback.restart().await;
    }
}

impl Handler for Forward {
    fn handle(self: Arc<Self>, mut client: TcpStream) -> impl Future<Output = ()> + Send + 'static {
        // Counted at accept time, before the upstream connection.
        self.accepted.fetch_add(1, Ordering::SeqCst);
        let upstream = self.upstream;
        async move {
            // An upstream that cannot be reached looks to the client like a
            // connection closed at once.
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            // Ends when either side closes or fails; both are dropped then.
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Echoes every connection until it closes.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let addr = listener.local_addr().expect("echo address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut reader, mut writer) = stream.split();
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> io::Result<Vec<u8>> {
        stream.write_all(text).await?;
        let mut back = vec![0; text.len()];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut back))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        Ok(back)
    }

    #[tokio::test]
    async fn forwards_both_ways_and_counts_connections() {
        let upstream = echo_server().await;
        let proxy = TcpProxy::start(upstream).await;
        assert_eq!(proxy.upstream(), upstream);
        assert_eq!(proxy.addr().port(), proxy.port());
        let mut first = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(round_trip(&mut first, b"hello").await.unwrap(), b"hello");
        assert_eq!(round_trip(&mut first, b"again").await.unwrap(), b"again");
        let mut second = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(round_trip(&mut second, b"two").await.unwrap(), b"two");
        assert_eq!(proxy.connections(), 2);
    }

    #[tokio::test]
    async fn cut_closes_open_connections_and_refuses_new_ones_until_restored() {
        let upstream = echo_server().await;
        let mut proxy = TcpProxy::start(upstream).await;
        let port = proxy.port();
        let mut open = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(round_trip(&mut open, b"before").await.unwrap(), b"before");

        proxy.cut().await;
        // The open connection ends: a read sees end of file or a reset.
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), open.read(&mut buf))
            .await
            .expect("the cut connection must end, not hang");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        let refused = TcpStream::connect(proxy.addr()).await;
        assert!(refused.is_err(), "connected while cut");

        proxy.restore().await;
        assert_eq!(proxy.port(), port);
        let mut again = TcpStream::connect(proxy.addr())
            .await
            .expect("connect after restore");
        assert_eq!(round_trip(&mut again, b"after").await.unwrap(), b"after");
        // The refused attempt was never accepted.
        assert_eq!(proxy.connections(), 2);
    }
}
