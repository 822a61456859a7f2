//! Source addresses for the load generator's sockets. One client address reaches one
//! server port from at most ~28,000 ephemeral ports (`ip_local_port_range`), so a larger
//! fleet spreads over 127.0.0.1..=127.0.0.N (the whole of 127/8 is loopback on Linux).
//! Simulated agent `i` always uses source `i % N`, for its channel and its HTTP requests
//! alike: the server records a change of an agent's source IP as an event.

use anyhow::{Context as _, Result, bail};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// Ephemeral ports usable per source address (Linux default 32768..=60999, with margin).
pub const PORTS_PER_SOURCE: usize = 25_000;

pub struct Sources {
    server: SocketAddr,
    /// `None`: let the kernel pick (a single source, or a server off loopback).
    addrs: Vec<Option<IpAddr>>,
    clients: Vec<reqwest::Client>,
}

impl Sources {
    /// `n` source addresses (1 = the kernel's choice) toward the server at `server_url`.
    pub async fn new(server_url: &str, n: usize) -> Result<Sources> {
        let url = reqwest::Url::parse(server_url)
            .with_context(|| format!("parsing the server URL {server_url}"))?;
        let host = url.host_str().context("the server URL has no host")?;
        let port = url
            .port_or_known_default()
            .context("the server URL has no port")?;
        let server = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("resolving {server_url}"))?
            .next()
            .with_context(|| format!("{server_url} resolves to no address"))?;
        let addrs: Vec<Option<IpAddr>> = if n <= 1 {
            vec![None]
        } else {
            if !server.ip().is_loopback() || !server.is_ipv4() {
                bail!("several source addresses need a server on IPv4 loopback, not {server}");
            }
            let n = u8::try_from(n)
                .ok()
                .filter(|n| *n < 255)
                .context("at most 254 source addresses")?;
            (1..=n)
                .map(|k| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, k))))
                .collect()
        };
        let clients = addrs
            .iter()
            .map(|a| {
                reqwest::Client::builder()
                    .local_address(*a)
                    .pool_max_idle_per_host(256)
                    .tcp_nodelay(true)
                    .timeout(Duration::from_secs(30))
                    .build()
            })
            .collect::<Result<_, _>>()?;
        Ok(Sources {
            server,
            addrs,
            clients,
        })
    }

    /// The source addresses a fleet of `agents` needs.
    pub fn needed_for(agents: usize) -> usize {
        agents.div_ceil(PORTS_PER_SOURCE).max(1)
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// The source agent `i` uses.
    pub fn of_agent(&self, i: usize) -> usize {
        i % self.addrs.len()
    }

    /// The HTTP client bound to source `src`.
    pub fn client(&self, src: usize) -> &reqwest::Client {
        &self.clients[src % self.clients.len()]
    }

    /// A TCP connection to the server from source `src`.
    pub async fn connect(&self, src: usize) -> std::io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        if let Some(a) = self.addrs[src % self.addrs.len()] {
            socket.bind(SocketAddr::new(a, 0))?;
        }
        let stream = socket.connect(self.server).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}
