use crate::fixtures::world;
use crate::harness::engines;
use breeze_store::sessions::{self, ClientInfo, NewTokens, Refresh, TokenKind};
use chrono::{Duration, Utc};

fn pair<'a>(a: &'a str, r: &'a str) -> NewTokens<'a> {
    NewTokens {
        access_hash: a,
        refresh_hash: r,
        access_ttl: Duration::minutes(15),
        refresh_ttl: Duration::days(30),
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
            Refresh::Rotated { user: w.admin }
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
