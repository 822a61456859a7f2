//! Outbound connections made for a tenant (the partner's SMTP server): the address guard at
//! save time and again at connect time, the deadline on every conversation, remote bytes
//! that never reach an answer, and mail delivered by the durable queue, not the request.
//! Nothing here connects anywhere but loopback.

use crate::harness::{ADMIN_EMAIL, Engine, TestApp, engines, local_names, spawn};
use crate::settings::{allow_loopback, server_smtp};
use breeze_core::outbound::AllowList;
use breeze_server::notify::resolve::Resolver;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

async fn save_smtp(app: &TestApp, token: &str, smtp: Value) -> (StatusCode, String) {
    app.client
        .with_token(token.to_string())
        .raw(
            Method::PATCH,
            "/api/v1/settings",
            Some(&json!({ "smtp": smtp })),
        )
        .await
        .expect("patch")
}

async fn send_test(app: &TestApp, token: &str) -> (StatusCode, String, Duration) {
    let start = Instant::now();
    let (s, body) = app
        .client
        .with_token(token.to_string())
        .raw(Method::POST, "/api/v1/settings/smtp/test", Some(&json!({})))
        .await
        .expect("post");
    (s, body, start.elapsed())
}

fn smtp(host: &str, port: u16) -> Value {
    json!({"host": host, "port": port, "tls": "none", "from": "Acme IT <it@acme.test>"})
}

fn field(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["error"]["field"].as_str().map(str::to_string)
}

#[tokio::test]
async fn internal_smtp_hosts_are_refused_when_saved() {
    let app = spawn(Engine::Sqlite, |_| {}).await;
    let token = app.setup_admin().await.access_token;
    for host in [
        "127.0.0.1",
        "localhost",
        "::1",
        "[::1]",
        "0x7f000001",
        "2130706433",
        "0177.0.0.1",
        "127.1",
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "localhost.",
        "mail.localhost",
    ] {
        let (status, body) = save_smtp(&app, &token, smtp(host, 25)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{host}: {body}");
        assert_eq!(field(&body).as_deref(), Some("smtp.host"), "{host}: {body}");
        assert!(body.contains("destination not allowed"), "{host}: {body}");
    }
    let settings = app
        .client
        .with_token(token.clone())
        .settings()
        .await
        .expect("get");
    assert_eq!(settings.smtp.host, None, "nothing was saved");

    // A public name, or one that does not resolve (yet), is saved: it is checked again
    // whenever the server connects.
    for host in ["smtp.example.test", "8.8.8.8", "192.0.2.10"] {
        let (status, body) = save_smtp(&app, &token, smtp(host, 25)).await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
}

#[tokio::test]
async fn the_operator_allow_list_lets_an_internal_relay_through() {
    let app = spawn(Engine::Sqlite, |c| {
        c.outbound.allow =
            AllowList::parse(&["127.0.0.1", "localhost:2525", "10.2.0.0/16", "[::1]:25"])
                .expect("allow");
    })
    .await;
    let token = app.setup_admin().await.access_token;
    for (host, port, ok) in [
        ("127.0.0.1", 25, true),
        ("0x7f000001", 25, true),
        ("localhost", 2525, true),
        ("localhost", 25, false),
        ("10.2.3.4", 587, true),
        ("10.3.0.1", 587, false),
        ("::1", 25, true),
        ("::1", 26, false),
        ("169.254.169.254", 80, false),
    ] {
        let (status, body) = save_smtp(&app, &token, smtp(host, port)).await;
        let want = if ok {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(status, want, "{host}:{port}: {body}");
    }
}

#[test]
fn a_bad_allow_list_entry_stops_the_configuration_from_loading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("breeze.toml");
    std::fs::write(
        &file,
        "[outbound]\nallow = [\"127.0.0.1\", \"10.0.0.0/40\"]\n",
    )
    .expect("write");
    let err =
        breeze_server::Config::load(Some(file.as_path()), Default::default()).expect_err("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("outbound.allow") && text.contains("10.0.0.0/40"),
        "{text}"
    );
    std::fs::write(
        &file,
        "[outbound]\nallow = [\"127.0.0.1\", \"mail.internal:587\", \"10.2.0.0/16\", \"[::1]:25\"]\ntimeout_secs = 5\n",
    )
    .expect("write");
    let c = breeze_server::Config::load(Some(file.as_path()), Default::default()).expect("loads");
    assert_eq!(c.outbound.allow.entries().len(), 4);
    assert_eq!(c.outbound.timeout_secs, 5);
}

const BANNER: &str = "SECRET-BANNER-7f3a";

#[tokio::test]
async fn a_name_rebound_to_loopback_after_saving_is_refused_when_connecting() {
    let (port, seen) = crate::smtp::banner("220 SECRET-BANNER-7f3a ESMTP\r\n", "").await;
    let rebound = Arc::new(AtomicBool::new(false));
    let flip = rebound.clone();
    let app = spawn(Engine::Sqlite, move |c| {
        c.outbound.resolver = Resolver::from_fn(move |host| {
            if host == "relay.rebind.test" {
                let ip: IpAddr = if flip.load(Ordering::SeqCst) {
                    "127.0.0.1".parse().expect("ip")
                } else {
                    // TEST-NET-1: public-looking, and never connected to.
                    "192.0.2.10".parse().expect("ip")
                };
                return Ok(vec![ip]);
            }
            local_names(host)
        });
    })
    .await;
    let token = app.setup_admin().await.access_token;
    let mut s = smtp("relay.rebind.test", port);
    s["enabled"] = json!(true);
    let (status, body) = save_smtp(&app, &token, s).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    rebound.store(true, Ordering::SeqCst);
    let (status, body, _) = send_test(&app, &token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body).as_deref(), Some("smtp.host"), "{body}");
    assert!(body.contains("destination not allowed"), "{body}");
    assert!(!body.contains(BANNER), "{body}");

    // A queued reset through the same settings is refused the same way.
    let _: Value = app
        .client
        .post(
            "/api/v1/auth/forgot-password",
            &json!({"email": ADMIN_EMAIL}),
        )
        .await
        .expect("forgot");
    let job = wait_for_job(&app, |j| j.status == "failed").await;
    assert_eq!(
        job.last_error.as_deref(),
        Some("destination not allowed (loopback address)")
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the listener saw no connection"
    );
    // The failure is audited (just after the job is marked failed), under the partner.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, logs) = app
            .client
            .with_token(token.clone())
            .raw(Method::GET, "/api/v1/audit/logs", None)
            .await
            .expect("audit");
        assert!(!logs.contains(BANNER));
        if logs.contains("job.failed") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the partner's admin sees its mail failed: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_job(
    app: &TestApp,
    done: impl Fn(&breeze_store::jobs::JobRecord) -> bool,
) -> breeze_store::jobs::JobRecord {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let jobs = breeze_store::jobs::list(&app.state.db, "mail")
            .await
            .expect("jobs");
        if let Some(j) = jobs.into_iter().find(|j| done(j)) {
            return j;
        }
        assert!(Instant::now() < until, "no job reached the expected state");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn smtp_server_replies_never_reach_an_answer() {
    for (greeting, reply) in [
        ("554 5.7.1 SECRET-BANNER-7f3a go away\r\n", ""),
        ("SSH-2.0-OpenSSH_9.6 SECRET-BANNER-7f3a\r\n", ""),
        (
            "220 SECRET-BANNER-7f3a ESMTP\r\n",
            "550 5.1.1 SECRET-BANNER-7f3a no such user\r\n",
        ),
    ] {
        let (port, seen) = crate::smtp::banner(greeting, reply).await;
        let app = spawn(Engine::Sqlite, |c| c.outbound.allow = allow_loopback()).await;
        let token = app.setup_admin().await.access_token;
        let (status, body) = save_smtp(&app, &token, smtp("127.0.0.1", port)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body, _) = send_test(&app, &token).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{greeting}: {body}");
        assert!(!body.contains(BANNER), "{greeting}: {body}");
        assert!(
            seen.load(Ordering::SeqCst) >= 1,
            "the allow-listed server was reached"
        );
        let (_, logs) = app
            .client
            .with_token(token.clone())
            .raw(Method::GET, "/api/v1/audit/logs", None)
            .await
            .expect("audit");
        assert!(logs.contains("settings.smtp.test"), "{logs}");
        assert!(!logs.contains(BANNER), "{greeting}: {logs}");
    }
}

#[tokio::test]
async fn a_silent_smtp_server_holds_no_request() {
    let (port, seen) = crate::smtp::silent().await;
    let app = spawn(Engine::Sqlite, |c| {
        c.outbound.allow = allow_loopback();
        c.outbound.timeout_secs = 1;
        c.auth.max_failures_per_ip = 1000;
    })
    .await;
    let token = app.setup_admin().await.access_token;
    let mut s = smtp("127.0.0.1", port);
    s["enabled"] = json!(true);
    let (status, body) = save_smtp(&app, &token, s).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body, took) = send_test(&app, &token).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("timed out"), "{body}");
    assert!(took < Duration::from_secs(3), "answered in {took:?}");
    assert!(seen.load(Ordering::SeqCst) >= 1);

    // Resets go through the same silent server, queued: the answer does not wait for it,
    // and takes no longer for an account that exists.
    for email in [
        ADMIN_EMAIL,
        "ghost@acme.test",
        ADMIN_EMAIL,
        "nobody@acme.test",
    ] {
        let start = Instant::now();
        let (status, body) = app
            .client
            .raw(
                Method::POST,
                "/api/v1/auth/forgot-password",
                Some(&json!({ "email": email })),
            )
            .await
            .expect("forgot");
        let took = start.elapsed();
        assert_eq!(status, StatusCode::OK, "{email}: {body}");
        assert!(took < Duration::from_millis(200), "{email}: {took:?}");
    }
}

#[tokio::test]
async fn queued_mail_is_sealed_retried_and_delivered_once_the_server_answers() {
    for engine in engines() {
        // The server's SMTP is down at first: a port nothing listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let app = spawn(engine, |c| {
            c.smtp = Some(server_smtp(port));
            c.outbound.retry_base_millis = 300;
        })
        .await;
        let e = app.engine;
        app.setup_admin().await;
        let _: Value = app
            .client
            .post(
                "/api/v1/auth/forgot-password",
                &json!({"email": ADMIN_EMAIL}),
            )
            .await
            .expect("forgot");
        let job = wait_for_job(&app, |j| j.attempts >= 1 && j.status == "queued").await;
        assert_eq!(job.last_error.as_deref(), Some("connection refused"), "{e}");

        // The link's token is not stored in the clear.
        #[derive(sqlx::FromRow)]
        struct Payload {
            payload: sqlx::types::Json<Value>,
        }
        let rows: Vec<Payload> = app
            .state
            .db
            .all(breeze_store::Q::new("SELECT payload FROM jobs"))
            .await
            .expect("payloads");
        assert_eq!(rows.len(), 1);
        let stored = rows[0].payload.0.to_string();
        assert!(
            !stored.contains("token") && !stored.contains(ADMIN_EMAIL),
            "{e}: {stored}"
        );

        // The server comes up; the next attempt delivers, and the job is gone.
        let (_, inbox) = crate::smtp::start_at(port).await;
        let mails = inbox.wait_for(1).await;
        assert!(mails[0].contains("Reset your Breeze password"), "{e}");
        let until = Instant::now() + Duration::from_secs(5);
        while !breeze_store::jobs::list(&app.state.db, "mail")
            .await
            .expect("jobs")
            .is_empty()
        {
            assert!(Instant::now() < until, "{e}: the delivered job is removed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn mail_that_cannot_be_delivered_fails_after_its_attempts_and_is_audited() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let app = spawn(Engine::Sqlite, |c| {
        c.smtp = Some(server_smtp(port));
        c.outbound.retry_base_millis = 50;
        c.outbound.max_attempts = 2;
    })
    .await;
    app.setup_admin().await;
    let _: Value = app
        .client
        .post(
            "/api/v1/auth/forgot-password",
            &json!({"email": ADMIN_EMAIL}),
        )
        .await
        .expect("forgot");
    let job = wait_for_job(&app, |j| j.status == "failed").await;
    assert_eq!(job.attempts, 2);
    assert_eq!(job.last_error.as_deref(), Some("connection refused"));
    #[derive(sqlx::FromRow)]
    struct Row {
        actor_type: String,
        result: String,
    }
    // The worker marks the job failed, then records the audit row: wait for the row.
    let until = Instant::now() + Duration::from_secs(10);
    let rows: Vec<Row> = loop {
        let rows: Vec<Row> = app
            .state
            .db
            .all(breeze_store::Q::new(
                "SELECT actor_type, result FROM audit_logs WHERE action = 'job.failed'",
            ))
            .await
            .expect("audit");
        if !rows.is_empty() || Instant::now() > until {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rows.len(), 1, "one audit row for the failed job");
    assert_eq!(
        (rows[0].actor_type.as_str(), rows[0].result.as_str()),
        ("system", "failure")
    );
}
