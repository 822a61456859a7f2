use crate::harness::engines;
use breeze_store::Q;
use breeze_store::audit::{self, ChainProblem, NewAudit};

fn row(action: &str) -> NewAudit {
    NewAudit {
        partner_id: None,
        org_id: None,
        actor_type: "system".into(),
        actor_id: None,
        actor_email: None,
        action: action.into(),
        resource_type: "test".into(),
        resource_id: None,
        resource_name: None,
        details: serde_json::json!({"b": [1, 2], "a": {"z": null, "y": "é"}}),
        ip_address: Some("127.0.0.1".into()),
        user_agent: None,
        result: "success".into(),
        error_message: None,
        site_id: None,
        device_id: None,
    }
}

#[tokio::test]
async fn the_chain_verifies_and_catches_edits_and_deletions() {
    for t in engines().await {
        let now = chrono::Utc::now();
        for i in 0..5 {
            audit::append(&t.db, &row(&format!("a.{i}")), now)
                .await
                .expect("append");
        }
        let (n, problems) = audit::verify(&t.db).await.expect("verify");
        assert_eq!(
            (n, problems.len()),
            (5, 0),
            "{}: intact after a round trip through the engine",
            t.name
        );
        t.db.exec(
            Q::new("UPDATE audit_logs SET details = ? WHERE seq = 3")
                .bind(serde_json::json!({"b": [1]})),
        )
        .await
        .expect("tamper");
        let (_, problems) = audit::verify(&t.db).await.expect("verify");
        assert!(
            matches!(problems.as_slice(), [ChainProblem::Altered { seq: 3, .. }]),
            "{}: {problems:?}",
            t.name
        );
        t.db.exec(Q::new("DELETE FROM audit_logs WHERE seq = 5"))
            .await
            .expect("delete");
        let (_, problems) = audit::verify(&t.db).await.expect("verify");
        assert!(
            problems.contains(&ChainProblem::Truncated {
                last_seq: 4,
                head_seq: 5
            }),
            "{}: {problems:?}",
            t.name
        );
    }
}

#[tokio::test]
async fn concurrent_appends_keep_one_unbroken_chain() {
    for t in engines().await {
        let now = chrono::Utc::now();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                audit::append(&db, &row(&format!("c.{i}")), now).await
            }));
        }
        for task in tasks {
            task.await.expect("join").expect("append");
        }
        let (n, problems) = audit::verify(&t.db).await.expect("verify");
        assert_eq!((n, problems), (20, vec![]), "{}", t.name);
    }
}

#[tokio::test]
async fn batches_and_single_rows_appended_at_once_keep_one_unbroken_chain() {
    for t in engines().await {
        let now = chrono::Utc::now();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                let rows: Vec<NewAudit> = (0..25).map(|j| row(&format!("b.{i}.{j}"))).collect();
                let refs: Vec<_> = rows.iter().map(|r| (r, now)).collect();
                audit::append_batch(&db, &refs).await.map(|ids| ids.len())
            }));
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                audit::append(&db, &row(&format!("s.{i}")), now)
                    .await
                    .map(|_| 1)
            }));
        }
        let mut written = 0;
        for task in tasks {
            written += task.await.expect("join").expect("append");
        }
        assert_eq!(written, 8 * 25 + 8);
        assert!(
            audit::append_batch(&t.db, &[])
                .await
                .expect("empty")
                .is_empty()
        );
        let (n, problems) = audit::verify(&t.db).await.expect("verify");
        assert_eq!((n, problems), (208, vec![]), "{}", t.name);
        // A batch is in order: its rows' seqs follow each other.
        let seqs: Vec<(i64,)> =
            t.db.all(Q::new(
                "SELECT seq FROM audit_logs WHERE action LIKE 'b.3.%' ORDER BY seq",
            ))
            .await
            .expect("seqs");
        let seqs: Vec<i64> = seqs.into_iter().map(|(s,)| s).collect();
        assert_eq!(seqs.len(), 25);
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    }
}
