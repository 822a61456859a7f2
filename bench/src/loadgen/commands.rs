//! Commands queued through the API during the run, and their delivery: the admin runs a
//! script on one random device at a steady rate; the ledger pairs each execution the API
//! answered with the `command` frame (or heartbeat answer) that brought it to the agent.

use super::{Counter, Latencies};
use anyhow::{Context as _, Result};
use breeze_bench::stats::summary;
use breeze_client::BreezeClient;
use breeze_proto::agent::SignedCommand;
use breeze_proto::ids::DeviceId;
use rand::Rng as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{RwLock, Semaphore};

/// How a command reached its agent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Channel,
    Heartbeat,
}

struct Queued {
    key: String,
    called: Instant,
    answered: Instant,
}

/// Executions queued and commands arrived, keyed by execution id (a script run) or command
/// id (anything else).
#[derive(Default)]
pub struct Ledger {
    /// When, how, and on which server (index into `--server`, then the `--replica`s).
    arrived: Mutex<HashMap<String, (Instant, Via, usize)>>,
    queued: Mutex<Vec<Queued>>,
}

impl Ledger {
    /// `c` reached an agent of server `replica`.
    pub fn arrived(&self, c: &SignedCommand, via: Via, replica: usize) {
        let at = Instant::now();
        let key = c
            .envelope
            .payload
            .get("execution_id")
            .and_then(Value::as_str)
            .map_or_else(|| c.envelope.id.to_string(), str::to_string);
        if let Ok(mut m) = self.arrived.lock() {
            m.entry(key).or_insert((at, via, replica));
        }
    }

    fn queued(&self, key: String, called: Instant, answered: Instant) {
        if let Ok(mut q) = self.queued.lock() {
            q.push(Queued {
                key,
                called,
                answered,
            });
        }
    }

    /// Delivery latencies (API answer to arrival, microseconds, sorted) of what arrived,
    /// how many were queued, and how many did not arrive.
    pub fn delivery(&self) -> (Vec<u64>, usize, usize) {
        let (Ok(q), Ok(a)) = (self.queued.lock(), self.arrived.lock()) else {
            return (Vec::new(), 0, 0);
        };
        let mut v: Vec<u64> = q
            .iter()
            .filter_map(|e| {
                let (at, _, _) = a.get(&e.key)?;
                u64::try_from(at.saturating_duration_since(e.answered).as_micros()).ok()
            })
            .collect();
        v.sort_unstable();
        let missing = q.len() - v.len();
        (v, q.len(), missing)
    }

    /// Delivery latencies of everything queued: from the API's answer to the command's
    /// arrival (0 when it arrived first: the server wakes the channel before it answers).
    pub fn report(&self) -> String {
        let (Ok(q), Ok(a)) = (self.queued.lock(), self.arrived.lock()) else {
            return "command ledger unavailable".into();
        };
        let (mut from_answer, mut from_call) = (Vec::new(), Vec::new());
        let (mut by_heartbeat, mut early, mut missing) = (0, 0, 0);
        for e in q.iter() {
            match a.get(&e.key) {
                Some((at, via, _)) => {
                    if *via == Via::Heartbeat {
                        by_heartbeat += 1;
                    }
                    if *at < e.answered {
                        early += 1;
                    }
                    let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
                    from_answer.push(us(at.saturating_duration_since(e.answered)));
                    from_call.push(us(at.saturating_duration_since(e.called)));
                }
                None => missing += 1,
            }
        }
        from_answer.sort_unstable();
        from_call.sort_unstable();
        format!(
            "command delivery (API answer -> command frame): {}\n\
             command delivery (API call -> command frame): {}\n\
             commands queued {}, arrived {} ({} by heartbeat, {} before the API answered), not arrived {}",
            summary(&from_answer),
            summary(&from_call),
            q.len(),
            q.len() - missing,
            by_heartbeat,
            early,
            missing
        )
    }

    /// With `replicas` servers, the delivery latencies (API answer to arrival) of the
    /// commands that arrived at each server's agents, one line per server.
    pub fn report_per_replica(&self, replicas: usize) -> Vec<String> {
        let (Ok(q), Ok(a)) = (self.queued.lock(), self.arrived.lock()) else {
            return vec!["command ledger unavailable".into()];
        };
        let n = replicas.max(1);
        let mut each = vec![Vec::new(); n];
        for e in q.iter() {
            if let Some((at, _, r)) = a.get(&e.key) {
                let d = at.saturating_duration_since(e.answered);
                each[r % n].push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
            }
        }
        each.iter_mut()
            .enumerate()
            .map(|(k, v)| {
                v.sort_unstable();
                format!(
                    "  to agents on server {k} (API answer -> command frame): {}",
                    summary(v)
                )
            })
            .collect()
    }
}

/// The admin, logged in again when the access token expires.
pub struct Admin {
    client: RwLock<BreezeClient>,
    email: String,
    password: String,
}

impl Admin {
    pub fn new(client: BreezeClient, email: String, password: String) -> Admin {
        Admin {
            client: RwLock::new(client),
            email,
            password,
        }
    }

    pub fn email(&self) -> &str {
        &self.email
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    pub async fn token(&self) -> Option<String> {
        self.client.read().await.token().map(str::to_string)
    }

    /// Logs in again and answers the new access token: a fleet's setup can outlast the
    /// token the run started with (15 minutes by default), and a probe that reuses a
    /// stale token measures nothing but 401s.
    pub async fn fresh_token(&self) -> Result<String, breeze_client::ClientError> {
        let c = self.client.read().await.clone();
        let fresh = c.login_as(&self.email, &self.password).await?;
        let token = fresh.token().unwrap_or_default().to_string();
        *self.client.write().await = fresh;
        Ok(token)
    }

    /// POSTs `body`, logging in again once on a 401.
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<Value, breeze_client::ClientError> {
        let c = self.client.read().await.clone();
        match c.post(path, body).await {
            Err(e) if e.status() == Some(reqwest::StatusCode::UNAUTHORIZED) => {
                let fresh = c.login_as(&self.email, &self.password).await?;
                *self.client.write().await = fresh.clone();
                fresh.post(path, body).await
            }
            r => r,
        }
    }

    /// A bash script that prints `ok`, for the run's commands.
    pub async fn create_script(&self, org_id: Option<&str>) -> Result<String> {
        let s = self
            .post(
                "/api/v1/scripts",
                &json!({"org_id": org_id, "name": "loadgen echo", "language": "bash",
                    "os_types": ["linux"], "content": "echo ok"}),
            )
            .await
            .context("creating the script")?;
        Ok(s["id"].as_str().context("script id")?.to_string())
    }
}

/// What the admin's queueing counted.
#[derive(Default)]
pub struct Queueing {
    pub ok: Counter,
    pub shed: Counter,
    pub errors: Counter,
    /// Ticks skipped because 32 calls were already in flight.
    pub skipped: Counter,
    pub api_latency: Latencies,
}

impl Queueing {
    pub fn report(&self) -> String {
        format!(
            "commands queued through the API: {} ok, {} shed (503), {} errors, {} skipped; API call {}",
            self.ok.get(),
            self.shed.get(),
            self.errors.get(),
            self.skipped.get(),
            summary(&self.api_latency.sorted())
        )
    }
}

/// Runs `script` on one random device of `targets`, `per_sec` times a second, until
/// `until`, recording each queued execution in `ledger`.
pub async fn queue_steadily(
    admin: Arc<Admin>,
    script: String,
    targets: Arc<Vec<DeviceId>>,
    per_sec: f64,
    until: tokio::time::Instant,
    ledger: Arc<Ledger>,
    counts: Arc<Queueing>,
) {
    if targets.is_empty() || per_sec <= 0.0 {
        return;
    }
    let in_flight = Arc::new(Semaphore::new(32));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if tokio::time::Instant::now() >= until {
            return;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            counts.skipped.add();
            continue;
        };
        let device = targets[rand::rng().random_range(0..targets.len())];
        let (admin, script, ledger, counts) = (
            admin.clone(),
            script.clone(),
            ledger.clone(),
            counts.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let called = Instant::now();
            let r = admin
                .post(
                    &format!("/api/v1/scripts/{script}/execute"),
                    &json!({"device_ids": [device]}),
                )
                .await;
            let answered = Instant::now();
            match r {
                Ok(v) => match v["data"][0]["id"].as_str() {
                    Some(id) => {
                        counts.ok.add();
                        counts.api_latency.push(answered - called);
                        ledger.queued(id.to_string(), called, answered);
                    }
                    None => counts
                        .errors
                        .add_noting(|| format!("script execute answered no execution: {v}")),
                },
                Err(e) if e.status() == Some(reqwest::StatusCode::SERVICE_UNAVAILABLE) => {
                    counts.shed.add();
                }
                Err(e) => counts
                    .errors
                    .add_noting(|| format!("queueing a script run: {e}")),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use breeze_proto::agent::{CommandEnvelope, SignedCommand};

    fn command(payload: Value) -> SignedCommand {
        SignedCommand {
            envelope: CommandEnvelope {
                id: breeze_proto::ids::CommandId::new(),
                device_id: DeviceId::new(),
                command_type: "run_script".into(),
                payload,
                issued_at: chrono::Utc::now(),
                expires_at: chrono::Utc::now(),
                nonce: None,
            },
            signature: String::new(),
        }
    }

    #[test]
    fn a_script_run_is_paired_with_its_command_by_execution_id() {
        let ledger = Ledger::default();
        let t0 = Instant::now();
        ledger.queued("exec-1".into(), t0, t0);
        // Its command arrives before the API answers (the server wakes the channel first).
        ledger.queued("exec-2".into(), t0, t0 + Duration::from_secs(10));
        ledger.queued("exec-3".into(), t0, t0);
        let c = command(json!({"execution_id": "exec-1"}));
        ledger.arrived(&c, Via::Channel, 0);
        // A second delivery of the same command keeps the first arrival.
        ledger.arrived(&c, Via::Heartbeat, 0);
        ledger.arrived(
            &command(json!({"execution_id": "exec-2"})),
            Via::Heartbeat,
            1,
        );
        ledger.arrived(&command(json!({})), Via::Channel, 0);
        let r = ledger.report();
        assert!(
            r.contains("commands queued 3, arrived 2 (1 by heartbeat, 1 before the API answered), not arrived 1"),
            "{r}"
        );
        let each = ledger.report_per_replica(2);
        assert_eq!(each.len(), 2);
        assert!(
            each[0].contains("server 0") && each[0].contains("(n 1)"),
            "{each:?}"
        );
        assert!(
            each[1].contains("server 1") && each[1].contains("(n 1)"),
            "{each:?}"
        );
    }
}
