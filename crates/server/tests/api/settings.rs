//! A partner's settings (`/api/v1/settings`): SMTP and session policy. Who reaches them,
//! what they refuse, that the SMTP password never comes back, and that they take effect:
//! token lifetimes at login and refresh, mail through the partner's SMTP server, and MFA
//! enrolment before anything else when the partner requires it.

use crate::harness::{ADMIN_EMAIL, Engine, PASSWORD, TestApp, create_org, engines, spawn};
use breeze_client::BreezeClient;
use breeze_core::roles::{ORG_ADMIN, PARTNER_ADMIN, PARTNER_TECHNICIAN, PARTNER_VIEWER};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use breeze_server::config::SmtpConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SMTP_PASSWORD: &str = "s3cret smtp pa55word";

async fn invite(
    app: &TestApp,
    by: &BreezeClient,
    email: &str,
    role: uuid::Uuid,
    org: Option<OrgId>,
    org_ids: Option<Vec<OrgId>>,
) -> BreezeClient {
    let inv = by
        .invite(&InviteUser {
            email: email.into(),
            name: "Someone".into(),
            role_id: RoleId(role),
            org_id: org,
            // Partner staff name their reach: all, or selected organizations.
            org_access: match (&org, &org_ids) {
                (_, Some(_)) => Some("selected".to_string()),
                (None, None) => Some("all".to_string()),
                (Some(_), None) => None,
            },
            org_ids,
            site_ids: None,
            device_group_ids: None,
        })
        .await
        .unwrap_or_else(|e| panic!("invite {email}: {e}"));
    let t = app
        .client
        .accept_invite(&inv.invite_token, PASSWORD)
        .await
        .expect("accept");
    app.client.with_token(t.access_token)
}

fn smtp_to(port: u16) -> UpdateSmtp {
    UpdateSmtp {
        enabled: Some(false),
        host: Some(Some("127.0.0.1".into())),
        port: Some(Some(i64::from(port))),
        tls: Some("none".into()),
        username: Some(Some("mailer".into())),
        password: Some(Some(SMTP_PASSWORD.into())),
        from: Some(Some("Acme IT <it@acme.test>".into())),
    }
}

fn only_smtp(s: UpdateSmtp) -> UpdateSettings {
    UpdateSettings {
        smtp: Some(s),
        session_policy: None,
    }
}

fn only_policy(p: UpdateSessionPolicy) -> UpdateSettings {
    UpdateSettings {
        smtp: None,
        session_policy: Some(p),
    }
}

fn no_policy_change() -> UpdateSessionPolicy {
    UpdateSessionPolicy {
        access_token_minutes: None,
        session_lifetime_hours: None,
        idle_timeout_minutes: None,
        require_mfa: None,
    }
}

/// The raw answer of `GET /api/v1/settings`, to look for things typed access would hide.
async fn raw_settings(c: &BreezeClient) -> String {
    let (status, body) = c
        .raw(Method::GET, "/api/v1/settings", None)
        .await
        .expect("get");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn settings_round_trip_and_the_smtp_password_never_comes_back() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;

        let initial = admin.settings().await.expect("get");
        assert!(!initial.smtp.enabled && !initial.smtp.password_set, "{e}");
        assert_eq!(initial.smtp.host, None);
        assert_eq!(initial.session_policy.access_token_minutes, None);
        assert_eq!(initial.server_defaults.access_token_secs, 900);
        assert!(!initial.server_defaults.smtp_configured);
        assert_eq!(initial.updated_at, None);

        let mut smtp = smtp_to(2525);
        smtp.enabled = Some(true);
        smtp.host = Some(Some("SMTP.Acme.test".into()));
        smtp.tls = Some("starttls".into());
        let saved = admin
            .update_settings(&UpdateSettings {
                smtp: Some(smtp),
                session_policy: Some(UpdateSessionPolicy {
                    access_token_minutes: Some(Some(10)),
                    session_lifetime_hours: Some(Some(12)),
                    idle_timeout_minutes: Some(Some(60)),
                    require_mfa: Some(false),
                }),
            })
            .await
            .expect("update");
        assert!(saved.smtp.enabled, "{e}");
        assert_eq!(saved.smtp.host.as_deref(), Some("smtp.acme.test"));
        assert_eq!(saved.smtp.port, Some(2525));
        assert_eq!(saved.smtp.tls, "starttls");
        assert_eq!(saved.smtp.username.as_deref(), Some("mailer"));
        assert!(saved.smtp.password_set);
        assert_eq!(saved.smtp.from.as_deref(), Some("Acme IT <it@acme.test>"));
        assert_eq!(saved.session_policy.access_token_minutes, Some(10));
        assert_eq!(saved.session_policy.session_lifetime_hours, Some(12));
        assert_eq!(saved.session_policy.idle_timeout_minutes, Some(60));
        assert!(saved.updated_at.is_some());
        assert_eq!(admin.settings().await.expect("get"), saved, "{e}");

        // The password appears in no answer, not even sealed.
        let raw = raw_settings(&admin).await;
        assert!(
            !raw.contains(SMTP_PASSWORD) && !raw.contains("sealed"),
            "{raw}"
        );
        // It is stored sealed, not in clear.
        #[derive(sqlx::FromRow)]
        struct Sealed {
            smtp_password_sealed: Option<String>,
        }
        let row: Sealed = app
            .state
            .db
            .one(breeze_store::Q::new(
                "SELECT smtp_password_sealed FROM partner_settings",
            ))
            .await
            .expect("row");
        let sealed = row.smtp_password_sealed.expect("sealed password");
        assert!(!sealed.contains(SMTP_PASSWORD), "{e}: stored sealed");

        // A change without a password keeps it; null removes it.
        let kept = admin
            .update_settings(&only_smtp(UpdateSmtp {
                enabled: None,
                host: None,
                port: Some(None),
                tls: None,
                username: None,
                password: None,
                from: None,
            }))
            .await
            .expect("update");
        assert!(kept.smtp.password_set, "{e}: kept");
        assert_eq!(kept.smtp.port, None, "null port: the usual one");
        let cleared = admin
            .update_settings(&only_smtp(UpdateSmtp {
                enabled: None,
                host: None,
                port: None,
                tls: None,
                username: None,
                password: Some(None),
                from: None,
            }))
            .await
            .expect("update");
        assert!(!cleared.smtp.password_set, "{e}: removed");
        assert_eq!(cleared.smtp.host.as_deref(), Some("smtp.acme.test"));

        // Every change is audited, the password only as "set"/"removed".
        let (_, logs) = admin
            .raw(
                Method::GET,
                "/api/v1/audit/logs?action=settings.update",
                None,
            )
            .await
            .expect("audit");
        assert!(!logs.contains(SMTP_PASSWORD), "{e}: {logs}");
        let logs: Value = serde_json::from_str(&logs).expect("json");
        let rows = logs["data"].as_array().expect("rows");
        assert_eq!(rows.len(), 3, "{e}: one row per change");
        let pw: Vec<&Value> = rows
            .iter()
            .filter_map(|r| r["details"]["changes"].get("smtp.password"))
            .collect();
        assert!(
            pw.contains(&&json!("set")) && pw.contains(&&json!("removed")),
            "{pw:?}"
        );
        assert!(rows.iter().any(|r| {
            r["details"]["changes"]["session_policy.access_token_minutes"]
                == json!({"from": null, "to": 10})
        }));
    }
}

#[tokio::test]
async fn bad_values_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn(Engine::Sqlite, |_| {}).await;
    let admin = app.admin().await;
    let before = admin.settings().await.expect("get");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"smtp": {"port": 0}}), "smtp.port"),
        (json!({"smtp": {"port": 70000}}), "smtp.port"),
        (json!({"smtp": {"port": "587"}}), "smtp.port"),
        (json!({"smtp": {"tls": "ssl"}}), "smtp.tls"),
        (json!({"smtp": {"host": "smtp example.com"}}), "smtp.host"),
        (json!({"smtp": {"from": "not an address"}}), "smtp.from"),
        (
            json!({"smtp": {"from": "a@b.test\r\nBcc: x@y.test"}}),
            "smtp.from",
        ),
        (json!({"smtp": {"password": ""}}), "smtp.password"),
        (json!({"smtp": {"password": "x"}}), "smtp.username"),
        (json!({"smtp": {"enabled": true}}), "smtp.host"),
        (
            json!({"smtp": {"enabled": true, "host": "smtp.acme.test"}}),
            "smtp.from",
        ),
        (json!({"smtp": {"hostname": "x"}}), "smtp.hostname"),
        (
            json!({"session_policy": {"access_token_minutes": 4}}),
            "session_policy.access_token_minutes",
        ),
        (
            json!({"session_policy": {"access_token_minutes": 61}}),
            "session_policy.access_token_minutes",
        ),
        (
            json!({"session_policy": {"session_lifetime_hours": 0}}),
            "session_policy.session_lifetime_hours",
        ),
        // Shorter than the server's 15-minute access tokens: sessions could never renew.
        (
            json!({"session_policy": {"idle_timeout_minutes": 10}}),
            "session_policy.idle_timeout_minutes",
        ),
        (
            json!({"session_policy": {"session_lifetime_hours": 1, "idle_timeout_minutes": 120}}),
            "session_policy.idle_timeout_minutes",
        ),
        // The admin has no MFA: requiring it would lock them out first.
        (
            json!({"session_policy": {"require_mfa": true}}),
            "session_policy.require_mfa",
        ),
    ];
    for (body, field) in cases {
        let (status, text) = admin
            .raw(Method::PATCH, "/api/v1/settings", Some(&body))
            .await
            .expect("patch");
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{body}: {status} {text}"
        );
        let err: ErrorBody = serde_json::from_str(&text).expect("error body");
        assert_eq!(err.error.field.as_deref(), Some(field), "{body}: {text}");
    }
    assert_eq!(admin.settings().await.expect("get"), before);
}

#[tokio::test]
async fn only_partner_wide_staff_see_the_settings_and_only_writers_change_them() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;
        let org = create_org(&admin, "Customer").await;
        let viewer = invite(&app, &admin, "pv@acme.test", PARTNER_VIEWER, None, None).await;
        let tech = invite(
            &app,
            &admin,
            "pt@acme.test",
            PARTNER_TECHNICIAN,
            None,
            Some(vec![org.id]),
        )
        .await;
        let org_admin = invite(
            &app,
            &admin,
            "oa@customer.test",
            ORG_ADMIN,
            Some(org.id),
            None,
        )
        .await;
        let change = only_policy(UpdateSessionPolicy {
            access_token_minutes: Some(Some(20)),
            ..no_policy_change()
        });

        // A Partner Viewer reads (settings:read) but cannot change them.
        viewer.settings().await.expect("viewer reads");
        let denied = viewer
            .update_settings(&change)
            .await
            .expect_err("viewer cannot write");
        assert_eq!(denied.status(), Some(StatusCode::FORBIDDEN), "{e}");
        let denied = viewer.test_smtp().await.expect_err("nor send test mail");
        assert_eq!(denied.status(), Some(StatusCode::FORBIDDEN), "{e}");

        // An Org Admin holds settings:* for their organization, but partner settings are
        // not in their reach; nor in a technician's limited to some organizations.
        for (who, c) in [
            ("org admin", &org_admin),
            ("selected-org technician", &tech),
        ] {
            for r in [
                c.settings().await.map(|_| ()),
                c.update_settings(&change).await.map(|_| ()),
                c.test_smtp().await.map(|_| ()),
            ] {
                assert_eq!(
                    r.expect_err(who).status(),
                    Some(StatusCode::NOT_FOUND),
                    "{e}: {who}"
                );
            }
        }

        // Another partner's admin sees and changes only their own.
        let mine = admin.update_settings(&change).await.expect("update");
        let bolt = crate::harness::second_partner(&app).await;
        let theirs = bolt.settings().await.expect("bolt reads");
        assert_ne!(theirs.partner_id, mine.partner_id);
        assert_eq!(theirs.session_policy.access_token_minutes, None, "{e}");
        bolt.update_settings(&only_policy(UpdateSessionPolicy {
            access_token_minutes: Some(Some(45)),
            ..no_policy_change()
        }))
        .await
        .expect("bolt updates");
        assert_eq!(
            admin
                .settings()
                .await
                .expect("get")
                .session_policy
                .access_token_minutes,
            Some(20),
            "{e}: untouched by the other partner"
        );

        // Nothing refused left a change, and refusals were audited.
        let logs: Value = admin
            .get("/api/v1/audit/logs?action=http.patch")
            .await
            .expect("audit");
        assert!(
            logs["data"]
                .as_array()
                .expect("rows")
                .iter()
                .any(|r| r["result"] == "denied"),
            "{e}: {logs}"
        );
    }
}

#[derive(sqlx::FromRow)]
struct Expiry {
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// When the newest refresh token of the user logged in as `email` expires.
async fn newest_refresh_expiry(app: &TestApp, email: &str) -> chrono::DateTime<chrono::Utc> {
    let mut q = breeze_store::Q::new(
        "SELECT t.expires_at FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id \
         JOIN users u ON u.id = f.user_id WHERE u.email = ",
    );
    q.push_bind(email)
        .push(" ORDER BY t.created_at DESC LIMIT 1");
    app.state
        .db
        .one::<Expiry>(q)
        .await
        .expect("refresh token")
        .expires_at
}

#[tokio::test]
async fn the_session_policy_sets_the_lifetimes_of_the_next_sign_in() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;
        let org = create_org(&admin, "Customer").await;
        invite(
            &app,
            &admin,
            "oa@customer.test",
            ORG_ADMIN,
            Some(org.id),
            None,
        )
        .await;
        let bolt = crate::harness::second_partner(&app).await;
        drop(bolt);

        let login = |email: &'static str| {
            let c = app.client.clone();
            async move {
                c.login(email, PASSWORD)
                    .await
                    .expect("login")
                    .tokens
                    .expect("tokens")
            }
        };
        assert_eq!(
            login(ADMIN_EMAIL).await.expires_in,
            900,
            "{e}: server default"
        );

        admin
            .update_settings(&only_policy(UpdateSessionPolicy {
                access_token_minutes: Some(Some(5)),
                session_lifetime_hours: Some(Some(2)),
                ..no_policy_change()
            }))
            .await
            .expect("update");
        let t = login(ADMIN_EMAIL).await;
        assert_eq!(t.expires_in, 300, "{e}: the partner's 5 minutes");
        // The sign-in ends after 2 hours however active: the refresh token (30 days by
        // default) lives no longer.
        let left = newest_refresh_expiry(&app, ADMIN_EMAIL).await - chrono::Utc::now();
        assert!(
            left <= chrono::Duration::hours(2) && left > chrono::Duration::minutes(115),
            "{e}: {left}"
        );
        // The policy holds for refreshed pairs and for the partner's organization users.
        let r = app.client.refresh(&t.refresh_token).await.expect("refresh");
        assert_eq!(r.expires_in, 300, "{e}");
        assert_eq!(login("oa@customer.test").await.expires_in, 300, "{e}");
        // Not for another partner's users.
        assert_eq!(login("pa@bolt.test").await.expires_in, 900, "{e}");

        // An idle timeout: a refresh token unused this long expires.
        admin
            .update_settings(&only_policy(UpdateSessionPolicy {
                session_lifetime_hours: Some(None),
                idle_timeout_minutes: Some(Some(30)),
                ..no_policy_change()
            }))
            .await
            .expect("update");
        login(ADMIN_EMAIL).await;
        let left = newest_refresh_expiry(&app, ADMIN_EMAIL).await - chrono::Utc::now();
        assert!(
            left <= chrono::Duration::minutes(30) && left > chrono::Duration::minutes(25),
            "{e}: {left}"
        );
        let me = app
            .client
            .login_as(ADMIN_EMAIL, PASSWORD)
            .await
            .expect("login")
            .me()
            .await
            .expect("me");
        assert_eq!(me.idle_timeout_minutes, Some(30), "the console learns it");

        // Back to the server's defaults.
        admin
            .update_settings(&only_policy(UpdateSessionPolicy {
                access_token_minutes: Some(None),
                idle_timeout_minutes: Some(None),
                ..no_policy_change()
            }))
            .await
            .expect("update");
        assert_eq!(login(ADMIN_EMAIL).await.expires_in, 900, "{e}");
    }
}

/// `[outbound] allow = ["127.0.0.1"]`: the test SMTP servers listen on loopback.
pub fn allow_loopback() -> breeze_core::outbound::AllowList {
    breeze_core::outbound::AllowList::parse(&["127.0.0.1"]).expect("allow-list")
}

pub fn server_smtp(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        from: "breeze@platform.test".into(),
        tls: "none".into(),
    }
}

/// The single-use token in the link of a password-reset or invitation message.
fn link_token(mail: &str) -> String {
    let body = mail.replace("=\n", "").replace("=3D", "=");
    body.split("token=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("link with token")
        .to_string()
}

#[tokio::test]
async fn test_mail_resets_and_invitations_go_through_the_partner_smtp() {
    for engine in engines() {
        let (server_port, server_inbox) = crate::smtp::start().await;
        let (partner_port, partner_inbox) = crate::smtp::start().await;
        let app = spawn(engine, |c| {
            c.smtp = Some(server_smtp(server_port));
            c.auth.max_failures_per_ip = 1000;
            c.outbound.allow = allow_loopback();
        })
        .await;
        let admin = app.admin().await;
        let e = app.engine;
        let forgot = |email: &'static str| {
            let c = app.client.clone();
            async move {
                let _: Value = c
                    .post("/api/v1/auth/forgot-password", &json!({"email": email}))
                    .await
                    .expect("forgot");
            }
        };

        // Nothing saved: the test says what is missing.
        let missing = admin.test_smtp().await.expect_err("not configured");
        assert_eq!(missing.status(), Some(StatusCode::BAD_REQUEST), "{e}");
        assert_eq!(missing.field(), Some("smtp.host"));

        // Saved but not switched on: the test message goes through it; resets do not.
        admin
            .update_settings(&only_smtp(smtp_to(partner_port)))
            .await
            .expect("save smtp");
        let sent = admin.test_smtp().await.expect("test mail");
        assert_eq!(sent.sent_to, ADMIN_EMAIL);
        assert_eq!((sent.host.as_str(), sent.port), ("127.0.0.1", partner_port));
        let mails = partner_inbox.messages();
        assert_eq!(mails.len(), 1, "{e}");
        assert!(mails[0].contains("Breeze SMTP test") && mails[0].contains(ADMIN_EMAIL));
        assert!(
            mails[0].contains("it@acme.test"),
            "sent from the partner's address"
        );
        assert_eq!(
            partner_inbox.logins(),
            vec![format!("mailer:{SMTP_PASSWORD}")],
            "{e}: signed in with the stored password"
        );
        forgot(ADMIN_EMAIL).await;
        server_inbox.wait_for(1).await;
        assert_eq!(server_inbox.messages().len(), 1, "{e}: the server's SMTP");
        assert_eq!(partner_inbox.messages().len(), 1);

        // Switched on: resets and invitations for the partner's users go through it.
        admin
            .update_settings(&only_smtp(UpdateSmtp {
                enabled: Some(true),
                host: None,
                port: None,
                tls: None,
                username: None,
                password: None,
                from: None,
            }))
            .await
            .expect("enable");
        forgot(ADMIN_EMAIL).await;
        let mails = partner_inbox.wait_for(2).await;
        assert_eq!(mails.len(), 2, "{e}");
        assert!(mails[1].contains("Reset your Breeze password"));
        assert_eq!(server_inbox.messages().len(), 1, "{e}: not the server's");
        // The link works.
        let _: Value = app
            .client
            .post(
                "/api/v1/auth/reset-password",
                &json!({"token": link_token(&mails[1]), "password": "a brand new passphrase"}),
            )
            .await
            .expect("reset");
        let admin = app
            .client
            .login_as(ADMIN_EMAIL, "a brand new passphrase")
            .await
            .expect("new password");
        let inv = admin
            .invite(&InviteUser {
                email: "new@acme.test".into(),
                name: "New".into(),
                role_id: RoleId(PARTNER_ADMIN),
                org_id: None,
                org_access: Some("all".into()),
                org_ids: None,
                site_ids: None,
                device_group_ids: None,
            })
            .await
            .expect("invite");
        let mails = partner_inbox.wait_for(3).await;
        assert_eq!(mails.len(), 3, "{e}");
        assert!(mails[2].contains("Your Breeze invitation"));
        assert_eq!(link_token(&mails[2]), inv.invite_token);

        // Another partner's users still get the server's mail.
        let bolt_mails = server_inbox.messages().len();
        crate::harness::second_partner(&app).await;
        server_inbox.wait_for(bolt_mails + 1).await;
        assert_eq!(
            server_inbox.messages().len(),
            bolt_mails + 1,
            "{e}: Bolt's invitation"
        );
        assert_eq!(partner_inbox.messages().len(), 3);

        // An unreachable SMTP server: the test answers 502 with the error; a reset is
        // not quietly sent another way.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        admin
            .update_settings(&only_smtp(UpdateSmtp {
                port: Some(Some(i64::from(closed))),
                enabled: None,
                host: None,
                tls: None,
                username: None,
                password: None,
                from: None,
            }))
            .await
            .expect("save");
        let failed = admin.test_smtp().await.expect_err("unreachable");
        assert_eq!(failed.status(), Some(StatusCode::BAD_GATEWAY), "{e}");
        assert_eq!(failed.code(), Some("smtp_failed"));
        assert!(
            failed.to_string().contains("connection refused"),
            "{e}: names what failed: {failed}"
        );
        let server_before = server_inbox.messages().len();
        forgot(ADMIN_EMAIL).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(server_inbox.messages().len(), server_before, "{e}");
        let logs: Value = admin
            .get("/api/v1/audit/logs?action=settings.smtp.test")
            .await
            .expect("audit");
        let results: Vec<&str> = logs["data"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["result"].as_str())
            .collect();
        assert_eq!(results, vec!["failure", "success"], "{e}: newest first");
    }
}

#[tokio::test]
async fn users_without_mfa_must_enrol_first_when_the_partner_requires_it() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;
        let org = create_org(&admin, "Customer").await;
        let user = invite(
            &app,
            &admin,
            "oa@customer.test",
            ORG_ADMIN,
            Some(org.id),
            None,
        )
        .await;
        user.orgs().await.expect("works before");

        // The admin turns MFA on for themselves, then requires it.
        let setup = admin.mfa_setup().await.expect("setup");
        let now = chrono::Utc::now();
        admin
            .mfa_verify(
                None,
                &crate::auth::totp_code(&setup.secret, ADMIN_EMAIL, now),
            )
            .await
            .expect("enable");
        admin
            .update_settings(&only_policy(UpdateSessionPolicy {
                require_mfa: Some(true),
                ..no_policy_change()
            }))
            .await
            .expect("require");
        admin.orgs().await.expect("the admin has MFA");

        // The user still signs in, and is told to enrol; nothing else answers until then.
        let me = user.me().await.expect("me");
        assert!(me.mfa_enrollment_required, "{e}");
        let blocked = user.orgs().await.expect_err("blocked");
        assert_eq!(blocked.status(), Some(StatusCode::FORBIDDEN), "{e}");
        assert_eq!(blocked.code(), Some("mfa_enrollment_required"));
        // The live event stream is refused too: it would show the tenant's devices.
        let stream = user
            .events()
            .await
            .err()
            .expect("the event stream is refused");
        assert_eq!(stream.status(), Some(StatusCode::FORBIDDEN), "{e}");
        let fresh = app
            .client
            .login_as("oa@customer.test", PASSWORD)
            .await
            .expect("login gives tokens");
        assert!(fresh.me().await.expect("me").mfa_enrollment_required);
        let setup = fresh.mfa_setup().await.expect("may enrol");
        fresh
            .mfa_verify(
                None,
                &crate::auth::totp_code(&setup.secret, "oa@customer.test", chrono::Utc::now()),
            )
            .await
            .expect("enrolled");
        assert!(!fresh.me().await.expect("me").mfa_enrollment_required);
        fresh.orgs().await.expect("works after enrolment");

        // Lifting the requirement lifts the block for others.
        let other = invite(
            &app,
            &admin,
            "ov@customer.test",
            ORG_ADMIN,
            Some(org.id),
            None,
        )
        .await;
        other.orgs().await.expect_err("blocked");
        admin
            .update_settings(&only_policy(UpdateSessionPolicy {
                require_mfa: Some(false),
                ..no_policy_change()
            }))
            .await
            .expect("lift");
        other.orgs().await.expect("works");
    }
}
