//! The servers a run drives: `--server`, then each `--replica`. Simulated agent `i` does
//! everything of its own (enrollment, inventory, heartbeats, channel, command results)
//! on replica `i % n`; the admin (setup, commands queued through the API, the `/health`
//! and `/auth/me` probes) stays on the first, so a command for an agent on another
//! replica crosses replicas.

use super::Counter;
use super::sources::Sources;
use anyhow::Result;

/// One server of the run, with its source addresses and what its agents did on it.
pub struct Replica {
    /// `http://host:port`
    pub url: String,
    pub sources: Sources,
    /// Agents whose channel got its first `welcome` here.
    pub channels: Counter,
    pub heartbeats: Counter,
}

impl Replica {
    /// The replica at `url`, reached from `n_sources` source addresses.
    pub async fn new(url: &str, n_sources: usize) -> Result<Replica> {
        Ok(Replica {
            url: url.trim_end_matches('/').to_string(),
            sources: Sources::new(url, n_sources).await?,
            channels: Counter::default(),
            heartbeats: Counter::default(),
        })
    }
}

/// The replica (an index into `--server` then the `--replica`s) agent `agent` of the
/// fleet talks to, among `replicas`.
pub fn replica_of(agent: usize, replicas: usize) -> usize {
    agent % replicas.max(1)
}

/// How many of `agents` agents go to each of `replicas` replicas.
pub fn agents_per_replica(agents: usize, replicas: usize) -> Vec<usize> {
    let mut n = vec![0; replicas.max(1)];
    for i in 0..agents {
        n[replica_of(i, replicas)] += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::{agents_per_replica, replica_of};

    #[test]
    fn one_server_takes_every_agent() {
        assert!((0..10).all(|i| replica_of(i, 1) == 0));
        assert_eq!(agents_per_replica(7, 1), vec![7]);
        // No replica at all is read as the one server, not a division by zero.
        assert_eq!(replica_of(5, 0), 0);
    }

    #[test]
    fn agents_alternate_between_replicas_in_order() {
        let of: Vec<usize> = (0..6).map(|i| replica_of(i, 2)).collect();
        assert_eq!(of, vec![0, 1, 0, 1, 0, 1]);
        assert_eq!(agents_per_replica(101, 2), vec![51, 50]);
        assert_eq!(agents_per_replica(10, 3), vec![4, 3, 3]);
    }
}
