//! A loopback TCP proxy to a test server that can stop forwarding without
//! closing anything: a network that drops the packets, a dead load
//! balancer, a server that hangs. What it swallows while off is lost, so
//! a connection it swallowed from is of no more use; new connections made
//! while it is off hang at their start.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::thread;

use tokio_postgres::Config;
use tokio_postgres::config::Host;

/// A proxy listening on `127.0.0.1:`[`Proxy::port`]; see the module docs.
pub struct Proxy {
    port: u16,
    forwarding: Arc<AtomicBool>,
}

/// Where a proxy forwards to: a server's Unix socket or TCP address.
#[derive(Clone, Debug)]
enum Upstream {
    Unix(PathBuf),
    Tcp(String, u16),
}

impl Proxy {
    /// A proxy to the server the connection string `url` names (its first
    /// host: a socket directory or a TCP host).
    ///
    /// # Panics
    ///
    /// When `url` does not parse or names no host, or no loopback port is
    /// free.
    pub fn to_server(url: &str) -> Proxy {
        let config: Config = url
            .parse()
            .unwrap_or_else(|e| panic!("`{url}` is not a connection string: {e}"));
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = match config.get_hosts().first() {
            Some(Host::Unix(dir)) => Upstream::Unix(dir.join(format!(".s.PGSQL.{port}"))),
            Some(Host::Tcp(host)) => Upstream::Tcp(host.clone(), port),
            None => panic!("no host in `{url}`"),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let forwarding = Arc::new(AtomicBool::new(true));
        let on = Arc::clone(&forwarding);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok((up_read, up_write)) = upstream.connect() else {
                    continue;
                };
                let Ok(client_read) = client.try_clone() else {
                    continue;
                };
                pump(Box::new(client_read), up_write, Arc::clone(&on));
                pump(up_read, Box::new(client), Arc::clone(&on));
            }
        });
        Proxy { port, forwarding }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forwards (`true`, as it starts) or swallows everything (`false`).
    pub fn forward(&self, on: bool) {
        self.forwarding.store(on, SeqCst);
    }
}

impl Upstream {
    /// A connection to the server, as a reading and a writing end.
    fn connect(&self) -> std::io::Result<(Box<dyn Stream>, Box<dyn Stream>)> {
        match self {
            Upstream::Unix(path) => {
                let s = UnixStream::connect(path)?;
                Ok((Box::new(s.try_clone()?), Box::new(s)))
            }
            Upstream::Tcp(host, port) => {
                let s = TcpStream::connect((host.as_str(), *port))?;
                Ok((Box::new(s.try_clone()?), Box::new(s)))
            }
        }
    }
}

/// Either end of a proxied connection.
trait Stream: Read + Write + Send {
    fn close(&self);
}

impl Stream for TcpStream {
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Stream for UnixStream {
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

/// Copies `from` to `to` while forwarding, swallows what it reads when
/// not, and closes both at the end of either.
fn pump(mut from: Box<dyn Stream>, mut to: Box<dyn Stream>, forwarding: Arc<AtomicBool>) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if forwarding.load(SeqCst) && to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        from.close();
        to.close();
    });
}
