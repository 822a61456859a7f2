use breeze_store::{Db, DbOptions, migrations};

/// A migrated, empty database on each engine under test. Keep the returned guard alive
/// for the test's duration (it owns the SQLite file's directory).
pub struct TestDb {
    pub name: &'static str,
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
}

pub async fn engines() -> Vec<TestDb> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("breeze.db").display());
    let db = Db::connect(&url, &DbOptions::default())
        .await
        .expect("open sqlite");
    migrations::migrate(&db).await.expect("migrate sqlite");
    out.push(TestDb {
        name: "sqlite",
        db,
        _dir: Some(dir),
    });

    if let Ok(url) = std::env::var("BREEZE_TEST_DATABASE_URL") {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let db = Db::connect_pg_schema(&url, &schema, &DbOptions { max_connections: 4 })
            .await
            .unwrap_or_else(|e| {
                panic!("BREEZE_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
            });
        migrations::migrate(&db).await.expect("migrate postgres");
        out.push(TestDb {
            name: "postgres",
            db,
            _dir: None,
        });
    }
    out
}
