//! The results outbox: every result is on disk (fsynced) before it is sent, and is
//! deleted only once the server has it, so results survive an agent crash and a
//! server outage, and reach the server exactly once from its point of view (the
//! server dedupes on command id; a retry after a lost answer gets 409).

use crate::durable;
use anyhow::{Context as _, Result};
use breeze_proto::agent::CommandResult;
use breeze_proto::ids::CommandId;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What the server said about one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// 2xx: stored.
    Accepted,
    /// 409: the server already has a final result for this command.
    AlreadyRecorded,
    /// 400/404/422: the server will never take it.
    Undeliverable(String),
    /// Anything else (network, 5xx, 401, 429): try again later.
    Retry(String),
    /// 503 or 429 with `Retry-After`: try again, not before that long.
    Busy {
        retry_after: Duration,
        reason: String,
    },
}

/// Sends one result to the server.
pub trait ResultSink {
    fn deliver(&self, result: &CommandResult)
    -> impl std::future::Future<Output = Delivery> + Send;
}

/// The on-disk outbox: `<dir>/<command_id>.json`, and `<dir>/undeliverable/`.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
    wake: Arc<Notify>,
}

/// The outcome of one delivery pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub delivered: usize,
    pub undeliverable: usize,
    /// Set when the pass stopped early because the server could not be reached.
    pub retry_reason: Option<String>,
    /// Set when the pass stopped because the server asked to be left alone this long.
    pub retry_after: Option<Duration>,
}

impl Outbox {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        durable::create_private_dir(&dir)?;
        Ok(Self {
            dir,
            wake: Arc::new(Notify::new()),
        })
    }

    fn path(&self, id: CommandId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Resolves when a new result was put (for the delivery loop).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Stores `result` durably. The first result for a command id wins: returns
    /// `false` (and writes nothing) when one is already waiting.
    pub fn put(&self, result: &CommandResult) -> Result<bool> {
        let path = self.path(result.command_id);
        if path.exists() {
            return Ok(false);
        }
        durable::write_json(&path, result, 0o600)
            .with_context(|| format!("storing the result of command {}", result.command_id))?;
        self.wake.notify_one();
        Ok(true)
    }

    pub fn contains(&self, id: CommandId) -> bool {
        self.path(id).exists()
    }

    /// Results waiting to be delivered, oldest first.
    pub fn pending(&self) -> Result<Vec<CommandResult>> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .with_context(|| format!("listing {}", self.dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match durable::read_json::<CommandResult>(&path) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "unreadable outbox entry set aside");
                    self.set_aside(&path);
                }
            }
        }
        out.sort_by_key(|r| r.completed_at);
        Ok(out)
    }

    pub fn len(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().and_then(|x| x.to_str()) == Some("json"))
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deletes a delivered result.
    pub fn remove(&self, id: CommandId) -> Result<()> {
        let path = self.path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
        durable::sync_dir(&self.dir);
        Ok(())
    }

    fn set_aside(&self, path: &Path) {
        let aside = self.dir.join("undeliverable");
        if durable::create_private_dir(&aside).is_ok()
            && let Some(name) = path.file_name()
        {
            let _ = std::fs::rename(path, aside.join(name));
            durable::sync_dir(&self.dir);
        }
    }

    /// Tries to deliver every pending result, oldest first. Stops at the first
    /// result that must be retried (the server is probably unreachable).
    pub async fn deliver_pending<S: ResultSink>(&self, sink: &S) -> Result<PassReport> {
        let mut report = PassReport::default();
        for result in self.pending()? {
            match sink.deliver(&result).await {
                Delivery::Accepted | Delivery::AlreadyRecorded => {
                    self.remove(result.command_id)?;
                    report.delivered += 1;
                }
                Delivery::Undeliverable(why) => {
                    tracing::error!(command_id = %result.command_id, reason = %why, "server refused a result for good; kept in outbox/undeliverable");
                    self.set_aside(&self.path(result.command_id));
                    report.undeliverable += 1;
                }
                Delivery::Retry(why) => {
                    report.retry_reason = Some(why);
                    break;
                }
                Delivery::Busy {
                    retry_after,
                    reason,
                } => {
                    report.retry_reason = Some(reason);
                    report.retry_after = Some(retry_after);
                    break;
                }
            }
        }
        Ok(report)
    }
}
