use crate::harness::engines;
use breeze_store::{Q, migrations};

#[derive(sqlx::FromRow)]
struct N {
    n: i64,
}

#[tokio::test]
async fn migrations_are_idempotent_and_recorded() {
    for t in engines().await {
        let again = migrations::migrate(&t.db).await.expect("second migrate");
        assert!(again.is_empty(), "{}: nothing left to apply", t.name);
        let n: N =
            t.db.one(Q::new("SELECT MAX(version) AS n FROM breeze_migrations"))
                .await
                .expect("count");
        assert_eq!(n.n, migrations::latest_version(), "{}", t.name);
    }
}
