//! Name resolution for outbound connections, behind a handle the configuration carries so
//! tests can decide what a name resolves to (and simulate DNS rebinding) without touching
//! the network. The default asks the operating system (`tokio::net::lookup_host`).

use futures::future::BoxFuture;
use std::net::IpAddr;
use std::sync::Arc;

/// Resolves a host name to its addresses.
pub trait Resolve: Send + Sync {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver.
struct System;

impl Resolve for System {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// A shared resolver handle.
#[derive(Clone)]
pub struct Resolver(Arc<dyn Resolve>);

impl Default for Resolver {
    fn default() -> Self {
        Resolver(Arc::new(System))
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

struct FromFn<F>(F);

impl<F> Resolve for FromFn<F>
where
    F: Fn(&str) -> std::io::Result<Vec<IpAddr>> + Send + Sync,
{
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        let r = (self.0)(host);
        Box::pin(async move { r })
    }
}

impl Resolver {
    pub fn new(r: impl Resolve + 'static) -> Resolver {
        Resolver(Arc::new(r))
    }

    /// A resolver answering from a function (tests: fixed tables, rebinding).
    pub fn from_fn(
        f: impl Fn(&str) -> std::io::Result<Vec<IpAddr>> + Send + Sync + 'static,
    ) -> Resolver {
        Resolver(Arc::new(FromFn(f)))
    }

    pub async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.0.lookup(host).await
    }
}
