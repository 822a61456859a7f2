use crate::harness::{ADMIN_EMAIL, Engine, PASSWORD, spawn, spawn_sqlite};
use breeze_proto::api::{ResetPasswordRequest, SetupRequest};
use reqwest::StatusCode;

#[tokio::test]
async fn setup_works_once_only_with_the_token_and_removes_the_file() {
    let app = spawn_sqlite().await;
    assert!(app.client.setup_status().await.expect("status").needs_setup);
    let token_file = app.dir.path().join("setup-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&token_file)
                .expect("file")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let mut req = SetupRequest {
        setup_token: "bzs_wrong".into(),
        partner_name: "Acme IT".into(),
        admin_name: "Ann".into(),
        admin_email: ADMIN_EMAIL.into(),
        admin_password: PASSWORD.into(),
    };
    let wrong = app
        .client
        .setup(&req)
        .await
        .expect_err("wrong token refused");
    assert_eq!(wrong.status(), Some(StatusCode::FORBIDDEN));
    req.setup_token = app.setup_token();
    let tokens = app.client.setup(&req).await.expect("setup");
    assert!(!token_file.exists(), "the setup token file is removed");
    let me = app
        .client
        .with_token(tokens.access_token)
        .me()
        .await
        .expect("me");
    assert_eq!(me.role.map(|r| r.name).as_deref(), Some("Partner Admin"));
    let again = app
        .client
        .setup(&req)
        .await
        .expect_err("second setup refused");
    assert_eq!(again.status(), Some(StatusCode::CONFLICT));
    assert!(!app.client.setup_status().await.expect("status").needs_setup);
}

#[tokio::test]
async fn login_refresh_logout() {
    let app = spawn_sqlite().await;
    app.setup_admin().await;
    let bad = app
        .client
        .login(ADMIN_EMAIL, "wrong password here")
        .await
        .expect_err("wrong password");
    assert_eq!(bad.status(), Some(StatusCode::UNAUTHORIZED));
    let unknown = app
        .client
        .login("nobody@acme.test", PASSWORD)
        .await
        .expect_err("unknown");
    assert_eq!(unknown.status(), Some(StatusCode::UNAUTHORIZED));
    let t = app
        .client
        .login(ADMIN_EMAIL, PASSWORD)
        .await
        .expect("login")
        .tokens
        .expect("tokens");
    assert_eq!(t.expires_in, 900, "access tokens live 15 minutes");
    let c = app.client.with_token(&t.access_token);
    c.me().await.expect("me");
    let t2 = app.client.refresh(&t.refresh_token).await.expect("refresh");
    let c2 = app.client.with_token(&t2.access_token);
    c2.me().await.expect("new access token works");
    c2.logout().await.expect("logout");
    assert_eq!(
        c2.me().await.expect_err("logged out").status(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let after = app
        .client
        .refresh(&t2.refresh_token)
        .await
        .expect_err("refresh after logout");
    assert_eq!(after.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(
        app.client.me().await.expect_err("no token").status(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let garbage = app
        .client
        .with_token("bza_garbage")
        .me()
        .await
        .expect_err("garbage token");
    assert_eq!(garbage.status(), Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn spent_refresh_token_revokes_family() {
    for engine in crate::harness::engines() {
        let app = spawn(engine, |_| {}).await;
        app.setup_admin().await;
        let first = app
            .client
            .login(ADMIN_EMAIL, PASSWORD)
            .await
            .expect("login")
            .tokens
            .expect("tokens");
        let second = app
            .client
            .refresh(&first.refresh_token)
            .await
            .expect("rotate");
        let third = app
            .client
            .refresh(&second.refresh_token)
            .await
            .expect("rotate again");
        app.client
            .with_token(&third.access_token)
            .me()
            .await
            .expect("newest works");
        // An attacker replays the first (spent) refresh token.
        let reuse = app
            .client
            .refresh(&first.refresh_token)
            .await
            .expect_err("reuse refused");
        assert_eq!(reuse.status(), Some(StatusCode::UNAUTHORIZED), "{engine:?}");
        // The whole family is dead: the newest refresh and access tokens stop working.
        let newest = app
            .client
            .refresh(&third.refresh_token)
            .await
            .expect_err("family revoked");
        assert_eq!(newest.status(), Some(StatusCode::UNAUTHORIZED));
        let access = app
            .client
            .with_token(&third.access_token)
            .me()
            .await
            .expect_err("access revoked");
        assert_eq!(access.status(), Some(StatusCode::UNAUTHORIZED));
        // Another login (another family) is unaffected, and the reuse was audited.
        let other = app
            .client
            .login_as(ADMIN_EMAIL, PASSWORD)
            .await
            .expect("fresh login");
        let logs: serde_json::Value = other
            .get("/api/v1/audit/logs?action=auth.refresh.reuse")
            .await
            .expect("audit");
        assert_eq!(
            logs["data"].as_array().map(Vec::len),
            Some(1),
            "{engine:?}: reuse audited"
        );
        assert_eq!(logs["data"][0]["result"], "denied");
    }
}

pub fn totp_code(secret_b32: &str, email: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).expect("base32");
    let t = breeze_server::auth::mfa::totp(secret.to_vec(), email).expect("totp");
    t.generate(u64::try_from(at.timestamp()).expect("time"))
        .to_string()
}

#[tokio::test]
async fn mfa_enrolment_then_login_needs_the_second_factor() {
    let app = spawn_sqlite().await;
    let admin = app.admin().await;
    let setup = admin.mfa_setup().await.expect("mfa setup");
    assert!(setup.otpauth_uri.starts_with("otpauth://totp/Breeze"));
    assert_eq!(setup.recovery_codes.len(), 10);
    let wrong = admin
        .mfa_verify(None, "000000")
        .await
        .expect_err("wrong code");
    assert_eq!(wrong.field(), Some("code"));
    let now = chrono::Utc::now();
    let confirm = admin
        .mfa_verify(None, &totp_code(&setup.secret, ADMIN_EMAIL, now))
        .await
        .expect("confirm");
    assert!(confirm.mfa_enabled);

    // Password alone now answers a challenge, not tokens.
    let step1 = app
        .client
        .login(ADMIN_EMAIL, PASSWORD)
        .await
        .expect("login");
    assert!(step1.mfa_required && step1.tokens.is_none());
    let challenge = step1.mfa_token.expect("challenge");
    let bad = app
        .client
        .mfa_verify(Some(&challenge), "123456")
        .await
        .expect_err("bad code");
    assert_eq!(bad.status(), Some(StatusCode::UNAUTHORIZED));
    // The code used for enrolment is spent (same time step): use the next step's code.
    let code = totp_code(
        &setup.secret,
        ADMIN_EMAIL,
        now + chrono::Duration::seconds(30),
    );
    let done = app
        .client
        .mfa_verify(Some(&challenge), &code)
        .await
        .expect("mfa login");
    let tokens = done.tokens.expect("tokens");
    app.client
        .with_token(tokens.access_token)
        .me()
        .await
        .expect("logged in");
    let replay = app
        .client
        .mfa_verify(Some(&challenge), &code)
        .await
        .expect_err("challenge is single-use");
    assert_eq!(replay.status(), Some(StatusCode::UNAUTHORIZED));

    // A recovery code works once.
    let c2 = app
        .client
        .login(ADMIN_EMAIL, PASSWORD)
        .await
        .expect("login")
        .mfa_token
        .expect("challenge");
    app.client
        .mfa_verify(Some(&c2), &setup.recovery_codes[0])
        .await
        .expect("recovery code");
    let c3 = app
        .client
        .login(ADMIN_EMAIL, PASSWORD)
        .await
        .expect("login")
        .mfa_token
        .expect("challenge");
    let used = app
        .client
        .mfa_verify(Some(&c3), &setup.recovery_codes[0])
        .await
        .expect_err("recovery code spent");
    assert_eq!(used.status(), Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn failed_logins_are_throttled_with_a_clear_429() {
    let app = spawn_sqlite().await;
    app.setup_admin().await;
    for _ in 0..5 {
        let e = app
            .client
            .login(ADMIN_EMAIL, "not the password!")
            .await
            .expect_err("fails");
        assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    }
    let t = app
        .client
        .login(ADMIN_EMAIL, PASSWORD)
        .await
        .expect_err("throttled even with the right password");
    assert_eq!(t.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(t.code(), Some("rate_limited"));
    let (status, _) = app
        .client
        .raw(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            Some(&serde_json::json!({"email": ADMIN_EMAIL, "password": PASSWORD})),
        )
        .await
        .expect("raw");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn password_reset_by_email_is_single_use_and_answers_the_same_for_unknown_addresses() {
    let (port, inbox) = crate::smtp::start().await;
    let app = spawn(Engine::Sqlite, |c| {
        c.smtp = Some(breeze_server::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            username: None,
            password: None,
            from: "breeze@acme.test".into(),
            tls: "none".into(),
        })
    })
    .await;
    let admin = app.admin().await;
    let known: serde_json::Value = app
        .client
        .post(
            "/api/v1/auth/forgot-password",
            &serde_json::json!({"email": ADMIN_EMAIL}),
        )
        .await
        .expect("known");
    let unknown: serde_json::Value = app
        .client
        .post(
            "/api/v1/auth/forgot-password",
            &serde_json::json!({"email": "ghost@acme.test"}),
        )
        .await
        .expect("unknown");
    assert_eq!(
        known, unknown,
        "same answer whether or not the address exists"
    );
    let mails = inbox.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        inbox.messages().len(),
        1,
        "one e-mail, to the existing account"
    );
    let body = mails[0].replace("=\n", "").replace("=3D", "=");
    let token = body
        .split("token=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("link with token")
        .to_string();
    let new_password = "a brand new passphrase";
    let _: serde_json::Value = app
        .client
        .post(
            "/api/v1/auth/reset-password",
            &ResetPasswordRequest {
                token: token.clone(),
                password: new_password.into(),
            },
        )
        .await
        .expect("reset");
    assert_eq!(
        admin.me().await.expect_err("old sessions end").status(),
        Some(StatusCode::UNAUTHORIZED)
    );
    app.client
        .login_as(ADMIN_EMAIL, new_password)
        .await
        .expect("new password works");
    let again = app
        .client
        .post::<_, serde_json::Value>(
            "/api/v1/auth/reset-password",
            &ResetPasswordRequest {
                token,
                password: "yet another passphrase".into(),
            },
        )
        .await
        .expect_err("single use");
    assert_eq!(again.field(), Some("token"));
}

#[tokio::test]
async fn me_tells_a_first_sign_in_from_a_returning_one() {
    for engine in crate::harness::engines() {
        let app = spawn(engine, |_| {}).await;
        // Setup signs the new admin in: their first sign-in.
        let first = app.admin().await;
        assert_eq!(first.me().await.expect("me").previous_login_at, None);
        let second = app
            .client
            .login_as(ADMIN_EMAIL, PASSWORD)
            .await
            .expect("login");
        let me = second.me().await.expect("me");
        let previous = me.previous_login_at.expect("the setup's sign-in");
        assert!(
            previous < me.user.last_login_at.expect("last sign-in"),
            "{engine:?}"
        );
        // The first session stays the first sign-in.
        assert_eq!(first.me().await.expect("me").previous_login_at, None);
    }
}

#[tokio::test]
async fn an_invitation_says_whether_an_email_was_queued() {
    for engine in crate::harness::engines() {
        let (port, inbox) = crate::smtp::start().await;
        for smtp in [false, true] {
            let app = spawn(engine, |c| {
                c.smtp = smtp.then(|| crate::settings::server_smtp(port));
            })
            .await;
            let admin = app.admin().await;
            let org = crate::harness::create_org(&admin, "One").await;
            let inv = admin
                .invite(&breeze_proto::api::InviteUser {
                    email: "new@one.test".into(),
                    name: "New".into(),
                    role_id: breeze_proto::ids::RoleId(breeze_core::roles::ORG_ADMIN),
                    org_id: Some(org.id),
                    org_access: None,
                    org_ids: None,
                    site_ids: None,
                    device_group_ids: None,
                })
                .await
                .expect("invite");
            assert_eq!(inv.email_queued, smtp, "{engine:?}");
            if smtp {
                let mails = inbox.wait_for(1).await;
                assert!(
                    mails[0].contains("accept-invite?token="),
                    "{engine:?}: {}",
                    mails[0]
                );
            }
        }
    }
}
