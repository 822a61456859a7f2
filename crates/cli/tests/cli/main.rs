//! The `breeze` binary's admin commands, run as a user would.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use breeze_store::{Db, DbOptions, Q};
use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
    url: String,
    name: &'static str,
}

async fn envs() -> Vec<Env> {
    let mut v = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("breeze.db").display());
    v.push(Env {
        dir,
        url,
        name: "sqlite",
    });
    if let Ok(base) = std::env::var("BREEZE_TEST_DATABASE_URL") {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        Db::connect_pg_schema(&base, &schema, &DbOptions { max_connections: 1 })
            .await
            .unwrap_or_else(|e| {
                panic!("BREEZE_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
            })
            .close()
            .await;
        let sep = if base.contains('?') { '&' } else { '?' };
        v.push(Env {
            dir: tempfile::tempdir().expect("tempdir"),
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            name: "postgres",
        });
    }
    v
}

fn breeze(env: &Env, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_breeze"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(env.dir.path())
        .arg("--database-url")
        .arg(&env.url)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run breeze");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Three audit rows written by the CLI itself.
fn seed(env: &Env) {
    let a = breeze(
        env,
        &[
            "admin",
            "create",
            "--email",
            "ann@acme.test",
            "--name",
            "Ann",
            "--partner",
            "Acme IT",
        ],
        Some("a long enough password\n"),
    );
    assert!(a.status.success(), "{}: {}", env.name, stdout(&a));
    let b = breeze(
        env,
        &[
            "admin",
            "create",
            "--email",
            "op@platform.test",
            "--name",
            "Op",
            "--system",
        ],
        None,
    );
    assert!(b.status.success(), "{}", stdout(&b));
    assert!(
        stdout(&b).contains("password (shown once): "),
        "a generated password is printed once"
    );
    let c = breeze(
        env,
        &["admin", "reset-password", "--email", "ann@acme.test"],
        Some("another long password\n"),
    );
    assert!(c.status.success(), "{}", stdout(&c));
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: uuid::Uuid,
}

#[tokio::test]
async fn audit_verify_names_an_edited_row() {
    for env in envs().await {
        seed(&env);
        let ok = breeze(&env, &["audit", "verify"], None);
        assert!(ok.status.success(), "{}: {}", env.name, stdout(&ok));
        assert!(stdout(&ok).contains("3 rows"), "{}", stdout(&ok));

        let db = Db::connect(&env.url, &DbOptions { max_connections: 1 })
            .await
            .expect("db");
        let row: IdRow = db
            .one(Q::new("SELECT id FROM audit_logs WHERE seq = 2"))
            .await
            .expect("row 2");
        db.exec(Q::new(
            "UPDATE audit_logs SET action = 'nothing.to.see' WHERE seq = 2",
        ))
        .await
        .expect("tamper");
        db.close().await;
        let bad = breeze(&env, &["audit", "verify"], None);
        assert!(
            !bad.status.success(),
            "{}: an edited row must fail verification",
            env.name
        );
        let out = stdout(&bad);
        assert!(
            out.contains("seq=2") && out.contains(&row.id.to_string()),
            "{}: names the row: {out}",
            env.name
        );
    }
}

#[tokio::test]
async fn audit_verify_names_deleted_rows() {
    for env in envs().await {
        seed(&env);
        let db = Db::connect(&env.url, &DbOptions { max_connections: 1 })
            .await
            .expect("db");
        db.exec(Q::new("DELETE FROM audit_logs WHERE seq = 2"))
            .await
            .expect("delete middle");
        let bad = breeze(&env, &["audit", "verify"], None);
        assert!(!bad.status.success(), "{}", env.name);
        assert!(
            stdout(&bad).contains("after seq=1 up to seq=3"),
            "{}: {}",
            env.name,
            stdout(&bad)
        );

        db.exec(Q::new("DELETE FROM audit_logs WHERE seq = 3"))
            .await
            .expect("delete newest");
        let bad = breeze(&env, &["audit", "verify"], None);
        assert!(
            stdout(&bad).contains("deleted from the end"),
            "{}: {}",
            env.name,
            stdout(&bad)
        );
        db.close().await;
    }
}

#[tokio::test]
async fn config_check_and_migrate_find_the_same_database() {
    for env in envs().await {
        let m = breeze(&env, &["migrate"], None);
        assert!(m.status.success(), "{}", stdout(&m));
        let c = breeze(&env, &["config", "check"], None);
        assert!(
            c.status.success() && stdout(&c).contains("configuration OK"),
            "{}",
            stdout(&c)
        );
        let bad = Command::new(env!("CARGO_BIN_EXE_breeze"))
            .args(["config", "check", "--database-url", "mysql://nope"])
            .output()
            .expect("run");
        assert!(!bad.status.success());
        assert!(
            stdout(&bad).contains("database_url must start with"),
            "{}",
            stdout(&bad)
        );
    }
}

/// `breeze openapi` needs no server, database or data directory, and prints the served
/// document (the console's types are generated from it).
#[test]
fn openapi_prints_the_document_without_a_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_breeze"))
        .arg("openapi")
        .env_remove("BREEZE_DATA_DIR")
        .env_remove("BREEZE_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run breeze openapi");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        doc,
        serde_json::to_value(breeze_server::openapi::document()).expect("json")
    );
    assert!(doc["paths"]["/api/v1/enrollment-keys"]["post"].is_object());
}
