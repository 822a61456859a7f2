//! Escalation policies (issue 11): checked ladders, and alerts that climb them on the
//! server's clock until someone acknowledges them.

use crate::channels::{
    Receiver, allow_loopback, create_channel, insert_alert, insert_rule, org_with_device,
};
use crate::harness::{engines, spawn_with_clock};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use breeze_server::notify::alerts::{AlertEvent, alert_event};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(sqlx::FromRow)]
struct Step {
    escalation_step: i64,
}

async fn step_of(app: &crate::harness::TestApp, alert: AlertId) -> i64 {
    let s: Step = app
        .state
        .db
        .one(breeze_store::Q::new("SELECT escalation_step FROM alerts WHERE id = ?").bind(alert.0))
        .await
        .expect("alert");
    s.escalation_step
}

#[tokio::test]
async fn an_unacknowledged_alert_climbs_to_step_2_and_an_acknowledged_one_stops() {
    for engine in engines() {
        let rx = Receiver::start().await;
        let clock = breeze_core::FixedClock::new(chrono::Utc::now());
        let app = spawn_with_clock(engine, Some(Arc::new(clock.clone())), |c| {
            c.outbound.allow = allow_loopback()
        })
        .await;
        let admin = app.admin().await;
        let (org, site, dev) = org_with_device(&app, &admin, "Acme", "web-01").await;
        let (dev2, _) = crate::device_state::enroll(&app, &admin, org, site, "web-02").await;
        let mut chans = Vec::new();
        for n in 0..3 {
            let c = create_channel(
                &admin,
                org,
                &format!("step {n}"),
                "webhook",
                json!({"url": rx.url(&format!("/s{n}"))}),
            )
            .await;
            chans.push(c.channel.id);
        }
        // Steps must climb.
        let (s, body) = admin
            .raw(Method::POST, "/api/v1/escalation-policies", Some(&json!({"org_id": org, "name": "bad",
                "steps": [{"delay_minutes": 10, "channels": [chans[0]]}, {"delay_minutes": 5, "channels": [chans[1]]}]})))
            .await
            .expect("post");
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("steps[1].delay_minutes"), "{body}");
        let (s, body) = admin
            .raw(
                Method::POST,
                "/api/v1/escalation-policies",
                Some(&json!({"org_id": org, "name": "bad",
                "steps": [{"delay_minutes": 0, "targets": {"user_ids": [UserId::new()]}}]})),
            )
            .await
            .expect("post");
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains("steps[0].targets.user_ids"), "{body}");

        let policy: EscalationPolicy = admin
            .post(
                "/api/v1/escalation-policies",
                &json!({"org_id": org, "name": "Night shift",
                "steps": [
                    {"delay_minutes": 0, "channels": [chans[0]]},
                    {"delay_minutes": 5, "channels": [chans[1]]},
                    {"delay_minutes": 10, "channels": [chans[2]]}
                ]}),
            )
            .await
            .expect("policy");
        assert_eq!(policy.steps.len(), 3);
        let rule = insert_rule(&app, org, "CPU high", &[], Some(policy.id)).await;
        let open = insert_alert(&app, org, site, dev, "web-01", rule, "CPU high").await;
        let acked = insert_alert(&app, org, site, dev2, "web-02", rule, "CPU high").await;
        alert_event(&app.state, &open, AlertEvent::Triggered)
            .await
            .expect("event");
        alert_event(&app.state, &acked, AlertEvent::Triggered)
            .await
            .expect("event");
        rx.wait_for(2).await;
        assert_eq!(rx.on("/s0").len(), 2, "step 0 notifies at once");
        app.state
            .db
            .exec(
                breeze_store::Q::new("UPDATE alerts SET status = 'acknowledged' WHERE id = ?")
                    .bind(acked.id.0),
            )
            .await
            .expect("ack");

        // Before the delay nothing climbs.
        clock.advance(chrono::Duration::minutes(4));
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        assert_eq!(step_of(&app, open.id).await, 0);
        clock.advance(chrono::Duration::minutes(1));
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        assert_eq!(step_of(&app, open.id).await, 1);
        rx.wait_for(3).await;
        clock.advance(chrono::Duration::minutes(5));
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        assert_eq!(step_of(&app, open.id).await, 2, "{engine:?}");
        rx.wait_for(4).await;
        // Nothing further: the ladder ends, and sweeping again sends nothing twice.
        clock.advance(chrono::Duration::minutes(30));
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            step_of(&app, acked.id).await,
            0,
            "the acknowledged alert did not climb"
        );
        for (path, n) in [("/s0", 2), ("/s1", 1), ("/s2", 1)] {
            let hits = rx.on(path);
            assert_eq!(hits.len(), n, "{path}");
            for h in hits.iter().filter(|_| path != "/s0") {
                let b = h.json();
                assert_eq!(b["alert"]["id"], json!(open.id));
                assert_eq!(b["event"], "alert.escalated");
            }
        }
        // (Signed in again: the access token expired while the clock moved.)
        let admin = app
            .client
            .login_as(crate::harness::ADMIN_EMAIL, crate::harness::PASSWORD)
            .await
            .expect("login");
        let p: Page<Delivery> = admin
            .get(&format!("/api/v1/alerts/{}/deliveries", open.id))
            .await
            .expect("log");
        let mut steps: Vec<Option<i64>> = p.data.iter().map(|d| d.escalation_step).collect();
        steps.sort();
        assert_eq!(steps, vec![Some(0), Some(1), Some(2)]);
        assert!(
            p.data
                .iter()
                .all(|d| d.event == "alert.escalated" && d.status == "sent")
        );
    }
}
