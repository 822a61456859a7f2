//! The audit writer (issue 14): concurrent requests' rows are appended in batches (one
//! head-row lock per batch) and still form one unbroken chain; a row the database refuses
//! fails alone, and the rows batched with it are written.

use crate::harness::{Engine, engines, spawn};
use breeze_store::audit::{self, NewAudit};

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
        details: serde_json::json!({"n": action}),
        ip_address: None,
        user_agent: None,
        result: "success".into(),
        error_message: None,
        site_id: None,
        device_id: None,
    }
}

#[tokio::test]
async fn concurrent_rows_form_one_chain_and_a_refused_row_fails_alone() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let (before, problems) = audit::verify(&app.state.db).await.unwrap();
        assert!(problems.is_empty());
        let mut tasks = Vec::new();
        for i in 0..300 {
            let s = app.state.clone();
            tasks.push(tokio::spawn(async move {
                s.audit_writer
                    .append(row(&format!("batch.{i}")), chrono::Utc::now())
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().expect("append");
        }
        let (after, problems) = audit::verify(&app.state.db).await.unwrap();
        assert_eq!((after - before, problems), (300, vec![]), "{engine:?}");

        if engine == Engine::Postgres {
            // PostgreSQL refuses a NUL byte in text: that row fails, its batch-mates not.
            let mut tasks = Vec::new();
            for i in 0..21 {
                let s = app.state.clone();
                let action = if i == 10 {
                    "bad.\0.row".to_string()
                } else {
                    format!("good.{i}")
                };
                tasks.push(tokio::spawn(async move {
                    s.audit_writer
                        .append(row(&action), chrono::Utc::now())
                        .await
                }));
            }
            let mut failed = 0;
            for t in tasks {
                if t.await.unwrap().is_err() {
                    failed += 1;
                }
            }
            assert_eq!(failed, 1);
            let (last, problems) = audit::verify(&app.state.db).await.unwrap();
            assert_eq!((last - after, problems), (20, vec![]));
        }
    }
}
