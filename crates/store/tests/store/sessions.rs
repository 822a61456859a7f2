use crate::fixtures::world;
use crate::harness::engines;
use breeze_store::sessions::{self, ClientInfo, NewTokens, Refresh, TokenKind};
use chrono::{Duration, SubsecRound, Utc};

fn pair<'a>(a: &'a str, r: &'a str) -> NewTokens<'a> {
    NewTokens {
        access_hash: a,
        refresh_hash: r,
        access_ttl: Duration::minutes(15),
        refresh_ttl: Duration::days(30),
        max_session: None,
    }
}

fn capped<'a>(a: &'a str, r: &'a str, max: Duration) -> NewTokens<'a> {
    NewTokens {
        max_session: Some(max),
        ..pair(a, r)
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    for t in engines().await {
        let w = world(&t.db, "Acme").await;
        let now = Utc::now();
        let c = ClientInfo::default();
        sessions::start(&t.db, w.admin, &pair("a1", "r1"), &c, now)
            .await
            .expect("start");
        assert!(
            sessions::by_access_hash(&t.db, "a1", now)
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            sessions::by_access_hash(&t.db, "a1", now + Duration::minutes(16))
                .await
                .expect("q")
                .is_none(),
            "expires"
        );
        assert_eq!(
            sessions::refresh(&t.db, "r1", &pair("a2", "r2"), &c, now)
                .await
                .expect("r"),
            Refresh::Rotated {
                user: w.admin,
                access_expires_at: now + Duration::minutes(15)
            }
        );
        assert!(
            matches!(
                sessions::refresh(&t.db, "r1", &pair("a3", "r3"), &c, now)
                    .await
                    .expect("r"),
                Refresh::Reused { .. }
            ),
            "{}",
            t.name
        );
        assert!(
            sessions::by_access_hash(&t.db, "a2", now)
                .await
                .expect("q")
                .is_none(),
            "{}: newest access revoked",
            t.name
        );
        assert_eq!(
            sessions::refresh(&t.db, "r2", &pair("a4", "r4"), &c, now)
                .await
                .expect("r"),
            Refresh::Invalid
        );
        assert_eq!(
            sessions::refresh(&t.db, "nope", &pair("a5", "r5"), &c, now)
                .await
                .expect("r"),
            Refresh::Invalid
        );
    }
}

#[tokio::test]
async fn single_use_tokens_work_once_and_expire() {
    for t in engines().await {
        let w = world(&t.db, "Acme").await;
        let now = Utc::now();
        sessions::create_token(
            &t.db,
            TokenKind::PasswordReset,
            w.admin,
            "h1",
            serde_json::json!({}),
            Duration::minutes(30),
            now,
        )
        .await
        .expect("create");
        assert!(
            sessions::consume_token(&t.db, TokenKind::Invite, "h1", now)
                .await
                .expect("q")
                .is_none(),
            "kind must match"
        );
        assert!(
            sessions::consume_token(&t.db, TokenKind::PasswordReset, "h1", now)
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            sessions::consume_token(&t.db, TokenKind::PasswordReset, "h1", now)
                .await
                .expect("q")
                .is_none(),
            "{}: once",
            t.name
        );
        sessions::create_token(
            &t.db,
            TokenKind::PasswordReset,
            w.admin,
            "h2",
            serde_json::json!({}),
            Duration::minutes(30),
            now,
        )
        .await
        .expect("create");
        assert!(
            sessions::consume_token(
                &t.db,
                TokenKind::PasswordReset,
                "h2",
                now + Duration::minutes(31)
            )
            .await
            .expect("q")
            .is_none(),
            "expired"
        );
    }
}

#[tokio::test]
async fn a_session_lifetime_caps_every_token_of_the_login() {
    for t in engines().await {
        let w = world(&t.db, "Acme").await;
        // Whole seconds: the engines keep microseconds at most.
        let now = Utc::now().trunc_subsecs(0);
        let c = ClientInfo::default();
        let hour = Duration::hours(1);
        let started = sessions::start(&t.db, w.admin, &capped("a1", "r1", hour), &c, now)
            .await
            .expect("start");
        assert_eq!(started.access_expires_at, now + Duration::minutes(15));
        assert_eq!(
            sessions::refresh_owner(&t.db, "r1").await.expect("owner"),
            Some(w.admin)
        );
        assert_eq!(
            sessions::refresh_owner(&t.db, "nope").await.expect("owner"),
            None
        );
        // Ten minutes before the end, the new access token lives only until the end.
        let at = now + Duration::minutes(50);
        assert_eq!(
            sessions::refresh(&t.db, "r1", &capped("a2", "r2", hour), &c, at)
                .await
                .expect("refresh"),
            Refresh::Rotated {
                user: w.admin,
                access_expires_at: now + hour
            },
            "{}",
            t.name
        );
        assert!(
            sessions::by_access_hash(&t.db, "a2", now + Duration::minutes(59))
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            sessions::by_access_hash(&t.db, "a2", now + Duration::minutes(61))
                .await
                .expect("q")
                .is_none(),
            "{}: the access token ends with the session",
            t.name
        );
        // The refresh token issued at 50 minutes ends with the session too, though a
        // refresh token otherwise lives 30 days.
        assert_eq!(
            sessions::refresh(
                &t.db,
                "r2",
                &capped("a3", "r3", hour),
                &c,
                now + Duration::minutes(61)
            )
            .await
            .expect("refresh"),
            Refresh::Invalid,
            "{}",
            t.name
        );

        // A limit set after a login started ends it at its next refresh.
        sessions::start(&t.db, w.admin, &pair("b1", "s1"), &c, now)
            .await
            .expect("start");
        let later = now + Duration::hours(2);
        assert_eq!(
            sessions::refresh(&t.db, "s1", &capped("b2", "s2", hour), &c, later)
                .await
                .expect("refresh"),
            Refresh::Invalid,
            "{}",
            t.name
        );
        assert!(
            sessions::by_access_hash(&t.db, "b1", now)
                .await
                .expect("q")
                .is_none(),
            "{}: the login's family is revoked",
            t.name
        );
        assert!(
            sessions::by_access_hash(&t.db, "b2", later)
                .await
                .expect("q")
                .is_none(),
            "{}: no new pair",
            t.name
        );
    }
}
