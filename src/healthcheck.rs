//! `palimpsest healthcheck`: asks a running server's `/readyz` and exits 0 only when it is
//! ready. For container `HEALTHCHECK`s, so the runtime image needs no curl; a plain
//! HTTP/1.0 request over a TCP socket is all it takes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};

/// How long the whole check may take: an orchestrator's probe has its own timeout, but a
/// hung server must not hang the probe process too.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Checks the server listening on `listen` (the `serve --listen` value).
///
/// # Errors
/// The server cannot be reached, or answers anything but 200.
pub fn check(listen: &str) -> anyhow::Result<()> {
    let address = probe_address(listen)?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    let status_line = String::from_utf8_lossy(&head[..read]);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("not an HTTP answer from {address}"))?;
    if status != "200" {
        bail!("{address} answered /readyz with {status}");
    }
    Ok(())
}

/// Where to connect to reach a server listening on `listen`: a wildcard address
/// (`0.0.0.0`, `[::]`) is reached through the loopback interface.
fn probe_address(listen: &str) -> anyhow::Result<SocketAddr> {
    let mut address = listen
        .to_socket_addrs()
        .with_context(|| format!("`{listen}` is not an address"))?
        .next()
        .with_context(|| format!("`{listen}` resolves to no address"))?;
    if address.ip().is_unspecified() {
        let loopback = match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        address.set_ip(loopback);
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_are_probed_on_loopback() {
        assert_eq!(
            probe_address("0.0.0.0:8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            probe_address("[::]:8080").unwrap(),
            "[::1]:8080".parse().unwrap()
        );
        assert_eq!(
            probe_address("127.0.0.2:9").unwrap(),
            "127.0.0.2:9".parse().unwrap()
        );
    }

    #[test]
    fn an_address_without_a_port_is_an_error() {
        assert!(probe_address("localhost").is_err());
    }

    #[test]
    fn nothing_listening_fails_the_check() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        assert!(check(&address).is_err());
    }
}
