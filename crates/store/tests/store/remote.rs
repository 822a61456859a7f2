//! Remote sessions (issue 12): the ticket opens one socket at most even when upgrades
//! race, expired or wrong tickets are refused, final states never change back, the sweep
//! ends abandoned sessions, and scope holds.

use crate::fixtures::world;
use crate::harness::engines;
use breeze_core::PermissionSet;
use breeze_core::scope::{OrgAccess, Scope, SiteAccess};
use breeze_proto::api::{RemoteSessionStatus, RemoteSessionType};
use breeze_proto::ids::{DeviceId, OrgId, RemoteSessionId, SiteId, UserId};
use breeze_store::listing::ListOpts;
use breeze_store::remote_sessions::{self as rs, End, NewSession, SessionFilter};
use breeze_store::{Db, Q};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::json;

async fn device(db: &Db, org: OrgId, site: SiteId) -> DeviceId {
    let id = DeviceId::new();
    let now = Utc::now();
    db.exec(
        Q::new(
            "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type, status, tags, created_at, updated_at, enrolled_at) \
             VALUES (?, ?, ?, ?, 'host-r', 'linux', 'online', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(org)
        .bind(site)
        .bind(id.to_string())
        .bind(json!([]))
        .bind(now)
        .bind(now)
        .bind(now),
    )
    .await
    .expect("device");
    id
}

async fn session(
    db: &Db,
    org: OrgId,
    dev: DeviceId,
    user: UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> RemoteSessionId {
    rs::create(
        db,
        &NewSession {
            org_id: org,
            device_id: dev,
            user_id: user,
            session_type: RemoteSessionType::Terminal,
            view_only: false,
            cols: 120,
            rows: 30,
            ticket_hash: hash.into(),
            ticket_expires_at: now + Duration::seconds(60),
        },
        now,
    )
    .await
    .expect("create")
}

#[tokio::test]
async fn ticket_is_spent_exactly_once_under_concurrency() {
    for t in engines().await {
        let w = world(&t.db, "Remote").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let dev = device(&t.db, org, site).await;
        let now = Utc::now();
        let id = session(&t.db, org, dev, w.admin, "h1", now).await;
        // Wrong hash and an unknown session are refused and spend nothing.
        assert!(
            rs::spend_ticket(&t.db, id, "nope", now)
                .await
                .unwrap()
                .is_none()
        );
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                rs::spend_ticket(&db, id, "h1", now).await.unwrap()
            }));
        }
        let mut won = 0;
        for task in tasks {
            if let Some(s) = task.await.unwrap() {
                won += 1;
                assert_eq!((s.id, s.device_id, s.cols, s.rows), (id, dev, 120, 30));
                assert_eq!(s.session_type, RemoteSessionType::Terminal);
            }
        }
        assert_eq!(won, 1, "{}: the ticket opened {won} sockets", t.name);
        assert!(
            rs::spend_ticket(&t.db, id, "h1", now)
                .await
                .unwrap()
                .is_none()
        );
        // An expired ticket is refused even unused.
        let late = session(&t.db, org, dev, w.admin, "h2", now).await;
        let after = now + Duration::seconds(61);
        assert!(
            rs::spend_ticket(&t.db, late, "h2", after)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            rs::spend_ticket(&t.db, late, "h2", now)
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test]
async fn transitions_move_forward_and_final_states_stay() {
    for t in engines().await {
        let w = world(&t.db, "Remote").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let dev = device(&t.db, org, site).await;
        let all = Scope::partner(w.partner, OrgAccess::All, PermissionSet::everything());
        let now = Utc::now();
        let now = now.trunc_subsecs(6);
        let id = session(&t.db, org, dev, w.admin, "h", now).await;
        // Not connecting yet: cannot become active.
        assert!(!rs::mark_active(&t.db, id, now).await.unwrap());
        assert!(rs::mark_connecting(&t.db, id, "srv", now).await.unwrap());
        assert!(!rs::mark_connecting(&t.db, id, "srv", now).await.unwrap());
        let start = now + Duration::seconds(1);
        assert!(rs::mark_active(&t.db, id, start).await.unwrap());
        rs::touch(&t.db, id, 42, start).await.unwrap();
        let s = rs::get(&t.db, &all, id).await.unwrap();
        assert_eq!(s.status, RemoteSessionStatus::Active);
        assert_eq!((s.started_at, s.bytes_transferred), (Some(start), 42));
        let end = start + Duration::seconds(90);
        let ended = rs::finish(
            &t.db,
            id,
            &End {
                failed: false,
                reason: Some("exit 0".into()),
                bytes: Some(1000),
            },
            end,
        )
        .await
        .unwrap()
        .expect("ended");
        assert_eq!(ended.status, RemoteSessionStatus::Disconnected);
        assert_eq!(ended.duration_seconds, Some(90));
        // Final: a second end, a touch or a reconnect change nothing.
        let again = End {
            failed: true,
            reason: Some("late".into()),
            bytes: Some(1),
        };
        assert!(rs::finish(&t.db, id, &again, end).await.unwrap().is_none());
        rs::touch(&t.db, id, 5, end).await.unwrap();
        assert!(!rs::mark_connecting(&t.db, id, "srv", end).await.unwrap());
        assert!(!rs::mark_active(&t.db, id, end).await.unwrap());
        let s = rs::get(&t.db, &all, id).await.unwrap();
        assert_eq!(s.status, RemoteSessionStatus::Disconnected);
        assert_eq!(
            (
                s.bytes_transferred,
                s.duration_seconds,
                s.end_reason.as_deref()
            ),
            (1000, Some(90), Some("exit 0"))
        );
        assert_eq!(s.ended_at, Some(end));
        assert!(s.recording_url.is_none());
        rs::set_recording(&t.db, id, "recordings/x.cast", 10)
            .await
            .unwrap();
        let s = rs::get(&t.db, &all, id).await.unwrap();
        assert_eq!(
            s.recording_url.as_deref(),
            Some(format!("/api/v1/remote/sessions/{id}/recording").as_str())
        );
        // A session that never became active fails, whatever the caller says.
        let never = session(&t.db, org, dev, w.admin, "n", now).await;
        let e = rs::finish(
            &t.db,
            never,
            &End {
                failed: false,
                reason: Some("closed".into()),
                bytes: None,
            },
            now,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(e.status, RemoteSessionStatus::Failed);
        assert_eq!(e.duration_seconds, None);
    }
}

#[tokio::test]
async fn sweep_fails_expired_tickets_and_ends_stale_sessions() {
    for t in engines().await {
        let w = world(&t.db, "Remote").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let dev = device(&t.db, org, site).await;
        let all = Scope::partner(w.partner, OrgAccess::All, PermissionSet::everything());
        let now = Utc::now();
        let unused = session(&t.db, org, dev, w.admin, "u", now).await;
        let stale = session(&t.db, org, dev, w.admin, "s", now).await;
        let fresh = session(&t.db, org, dev, w.admin, "f", now).await;
        for id in [stale, fresh] {
            rs::spend_ticket(&t.db, id, if id == stale { "s" } else { "f" }, now)
                .await
                .unwrap()
                .unwrap();
            rs::mark_connecting(&t.db, id, "srv", now).await.unwrap();
            rs::mark_active(&t.db, id, now).await.unwrap();
        }
        let later = now + Duration::seconds(600);
        rs::touch(&t.db, fresh, 7, later).await.unwrap();
        // Before the ticket expires nothing moves.
        let ended = rs::sweep(&t.db, now, now - Duration::seconds(300))
            .await
            .unwrap();
        assert!(ended.is_empty(), "{}: {ended:?}", t.name);
        let ended = rs::sweep(&t.db, later, later - Duration::seconds(300))
            .await
            .unwrap();
        let mut ids: Vec<_> = ended.iter().map(|e| e.id).collect();
        ids.sort_by_key(|i| i.0);
        let mut want = vec![unused, stale];
        want.sort_by_key(|i| i.0);
        assert_eq!(ids, want, "{}", t.name);
        let u = rs::get(&t.db, &all, unused).await.unwrap();
        assert_eq!(u.status, RemoteSessionStatus::Failed);
        assert_eq!(u.end_reason.as_deref(), Some("ticket expired"));
        let s = rs::get(&t.db, &all, stale).await.unwrap();
        assert_eq!(s.status, RemoteSessionStatus::Disconnected);
        let f = rs::get(&t.db, &all, fresh).await.unwrap();
        assert_eq!(f.status, RemoteSessionStatus::Active);
        // Retention: ended sessions with a recording, created before the cut.
        rs::set_recording(&t.db, stale, "recordings/s.cast", 5)
            .await
            .unwrap();
        rs::set_recording(&t.db, fresh, "recordings/f.cast", 5)
            .await
            .unwrap();
        let old = rs::expired_recordings(&t.db, later, 10).await.unwrap();
        assert_eq!(old, vec![(stale, "recordings/s.cast".to_string())]);
        rs::clear_recording(&t.db, stale).await.unwrap();
        assert!(
            rs::expired_recordings(&t.db, later, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn sessions_are_scoped_filtered_and_paged() {
    for t in engines().await {
        let w = world(&t.db, "Remote").await;
        let other_w = world(&t.db, "Elsewhere").await;
        let d0 = device(&t.db, w.orgs[0], w.sites[0][0]).await;
        let d1 = device(&t.db, w.orgs[1], w.sites[1][0]).await;
        let now = Utc::now();
        let a = session(&t.db, w.orgs[0], d0, w.admin, "a", now).await;
        let b = session(
            &t.db,
            w.orgs[0],
            d0,
            w.admin,
            "b",
            now + Duration::seconds(1),
        )
        .await;
        let c = session(
            &t.db,
            w.orgs[1],
            d1,
            w.admin,
            "c",
            now + Duration::seconds(2),
        )
        .await;
        let all = Scope::partner(w.partner, OrgAccess::All, PermissionSet::everything());
        let opts = ListOpts::parse(None, None, None, None).unwrap();
        let (rows, next) = rs::list(&t.db, &all, &SessionFilter::default(), &opts)
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![c, b, a]);
        assert!(next.is_none());
        assert_eq!(rows[0].hostname, "host-r");
        assert_eq!(rows[0].user_email, "admin@remote.test");
        let small = ListOpts::parse(Some(2), None, None, None).unwrap();
        let (p1, next) = rs::list(&t.db, &all, &SessionFilter::default(), &small)
            .await
            .unwrap();
        assert_eq!(p1.len(), 2);
        let next = ListOpts::parse(Some(2), next.as_deref(), None, None).unwrap();
        let (p2, _) = rs::list(&t.db, &all, &SessionFilter::default(), &next)
            .await
            .unwrap();
        assert_eq!(p2.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        let f = SessionFilter {
            device_id: Some(d1),
            ..Default::default()
        };
        let (rows, _) = rs::list(&t.db, &all, &f, &opts).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![c]);
        rs::spend_ticket(&t.db, a, "a", now).await.unwrap().unwrap();
        rs::mark_connecting(&t.db, a, "srv", now).await.unwrap();
        let f = SessionFilter {
            status: Some(RemoteSessionStatus::Connecting),
            session_type: Some(RemoteSessionType::Terminal),
            ..Default::default()
        };
        let (rows, _) = rs::list(&t.db, &all, &f, &opts).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        let f = SessionFilter {
            session_type: Some(RemoteSessionType::Desktop),
            ..Default::default()
        };
        assert!(rs::list(&t.db, &all, &f, &opts).await.unwrap().0.is_empty());
        // Another organization's scope sees only its own; another partner sees nothing.
        let org1 = Scope::organization(
            w.partner,
            w.orgs[1],
            SiteAccess::All,
            None,
            PermissionSet::everything(),
        );
        assert!(rs::get(&t.db, &org1, a).await.is_err());
        assert!(rs::recording_path(&t.db, &org1, a).await.is_err());
        assert!(rs::get(&t.db, &org1, c).await.is_ok());
        let (rows, _) = rs::list(&t.db, &org1, &SessionFilter::default(), &opts)
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![c]);
        let stranger = Scope::partner(other_w.partner, OrgAccess::All, PermissionSet::everything());
        assert!(rs::get(&t.db, &stranger, c).await.is_err());
        assert!(
            rs::list(&t.db, &stranger, &SessionFilter::default(), &opts)
                .await
                .unwrap()
                .0
                .is_empty()
        );
    }
}
