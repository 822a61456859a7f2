//! Uses of limited enrollment keys (with `max_uses`), reserved in batches.
//!
//! A fleet enrolling with one limited key would otherwise update the key's one row in
//! every enrollment transaction, each holding the row's lock through its commit, so that
//! the cluster enrolled at one commit's pace (issue 14). One task per process instead
//! takes the uses of all the enrollments waiting with a key in one short transaction
//! ([`enrollment_keys::reserve_uses`]), before their enrollment transactions, which then
//! do not touch the key. `max_uses` is never exceeded. A use whose enrollment does not
//! happen (refused, failed, or its request went away) is given back; only a process
//! that dies between the two keeps a use nobody got.

use breeze_proto::ids::EnrollmentKeyId;
use breeze_store::{Db, enrollment_keys};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for the reserver; a request past this waits for room.
const QUEUE: usize = 4096;
/// Requests one round takes at most.
const BATCH: usize = 256;

type Answer = oneshot::Sender<Result<Option<Reservation>, String>>;
type Request = (EnrollmentKeyId, DateTime<Utc>, Answer);

pub struct KeyReserver {
    tx: mpsc::Sender<Request>,
}

impl KeyReserver {
    /// Starts the reserver task on `db` (it ends when the reserver is dropped).
    pub fn spawn(db: Db) -> KeyReserver {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(reserve_batches(db, rx));
        KeyReserver { tx }
    }

    /// A use of the limited `key`, or `None` when it has none left (or is revoked or
    /// expired by `now`).
    pub async fn take(
        &self,
        key: EnrollmentKeyId,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Reservation>> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((key, now, done))
            .await
            .map_err(|_| anyhow::anyhow!("the key reserver has stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("the key reserver has stopped"))?
            .map_err(|e| anyhow::anyhow!("reserving an enrollment key use failed: {e}"))
    }
}

/// One reserved use of a key: given back when dropped unless [`Reservation::keep`] was
/// called (the enrollment committed).
pub struct Reservation {
    key: EnrollmentKeyId,
    db: Option<Db>,
}

impl Reservation {
    /// The enrollment committed: the use stays spent.
    pub fn keep(mut self) {
        self.db = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        let key = self.key;
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key = %key.0, "an enrollment key use could not be given back: no runtime");
            return;
        };
        rt.spawn(async move {
            if let Err(e) = enrollment_keys::refund_use(&db, key).await {
                tracing::warn!(error = %e, key = %key.0, "giving back an enrollment key use failed");
            }
        });
    }
}

async fn reserve_batches(db: Db, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // The waiters of each key, in their order, and the latest `now` any of them gave.
        let mut by_key: HashMap<EnrollmentKeyId, (DateTime<Utc>, Vec<Answer>)> = HashMap::new();
        for (key, now, answer) in batch.drain(..) {
            let e = by_key.entry(key).or_insert_with(|| (now, Vec::new()));
            e.0 = e.0.max(now);
            e.1.push(answer);
        }
        for (key, (now, answers)) in by_key {
            let wanted = i64::try_from(answers.len()).unwrap_or(i64::MAX);
            match enrollment_keys::reserve_uses(&db, key, wanted, now).await {
                Ok(granted) => {
                    for (i, answer) in answers.into_iter().enumerate() {
                        let got = i64::try_from(i).is_ok_and(|i| i < granted);
                        let r = got.then(|| Reservation {
                            key,
                            db: Some(db.clone()),
                        });
                        // A request that went away drops its reservation here: given back.
                        let _ = answer.send(Ok(r));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, key = %key.0, "reserving enrollment key uses failed");
                    for answer in answers {
                        let _ = answer.send(Err(e.to_string()));
                    }
                }
            }
        }
    }
}
