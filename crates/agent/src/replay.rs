//! Replay guard: the ids of commands already received, persisted until they
//! expire (a command past its expiry is refused anyway, so it can be forgotten).

use crate::durable;
use anyhow::Result;
use breeze_proto::ids::CommandId;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Persisted set of seen command ids with their expiry.
#[derive(Debug)]
pub struct SeenCommands {
    path: PathBuf,
    seen: BTreeMap<CommandId, DateTime<Utc>>,
}

impl SeenCommands {
    pub fn load(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let seen = durable::read_json(&path)?.unwrap_or_default();
        Ok(Self { path, seen })
    }

    pub fn contains(&self, id: CommandId) -> bool {
        self.seen.contains_key(&id)
    }

    /// Records `id` (durably, before the command runs). Returns `false` when it
    /// was already there: a replay. Entries past their expiry are pruned.
    pub fn insert(
        &mut self,
        id: CommandId,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        if self.seen.contains_key(&id) {
            return Ok(false);
        }
        self.seen.retain(|_, exp| *exp >= now);
        self.seen.insert(id, expires_at);
        durable::write_json(&self.path, &self.seen, 0o600)?;
        Ok(true)
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}
