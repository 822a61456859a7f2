//! SQLite's one writer: writes queue for it, and reads never wait for a connection
//! behind them.

use crate::harness::engines;
use breeze_store::Q;
use std::time::Duration;

#[derive(sqlx::FromRow)]
struct One {
    n: i64,
}

/// A long write transaction (an inventory, a rollup) holds SQLite's lock. More writers
/// than the pool has connections come meanwhile: a read still gets a connection at once,
/// and every writer goes through once the transaction commits.
#[tokio::test]
async fn on_sqlite_reads_do_not_wait_behind_writers_queued_for_the_lock() {
    for t in engines().await {
        if t.name != "sqlite" {
            continue;
        }
        t.db.exec(Q::new("CREATE TABLE pool_probe (n INTEGER NOT NULL)"))
            .await
            .expect("table");
        t.db.exec(Q::new("INSERT INTO pool_probe (n) VALUES (0)"))
            .await
            .expect("row");
        let mut long = t.db.begin().await.expect("begin");
        long.exec(Q::new("UPDATE pool_probe SET n = n + 1"))
            .await
            .expect("write in the long transaction");

        // Twice the default pool (16) of writers, all waiting for the lock.
        let writers: Vec<_> = (0..32)
            .map(|_| {
                let db = t.db.clone();
                tokio::spawn(
                    async move { db.exec(Q::new("UPDATE pool_probe SET n = n + 1")).await },
                )
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;

        let read: One = tokio::time::timeout(
            Duration::from_secs(2),
            t.db.one(Q::new("SELECT n FROM pool_probe")),
        )
        .await
        .expect("the read waited for a connection behind the writers")
        .expect("read");
        assert_eq!(read.n, 0, "the read sees what was committed");

        long.commit().await.expect("commit");
        for w in writers {
            assert_eq!(w.await.expect("join").expect("writer"), 1);
        }
        let done: One =
            t.db.one(Q::new("SELECT n FROM pool_probe"))
                .await
                .expect("read");
        assert_eq!(done.n, 33);
    }
}
