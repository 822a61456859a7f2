//! Device groups' member counts: a dynamic group has no stored memberships, so its count
//! is the number of devices its rules match now, in the caller's reach.

use crate::device_state::{enroll, org_and_site};
use crate::harness::{engines, spawn};
use breeze_proto::api::*;
use serde_json::json;

#[tokio::test]
async fn a_dynamic_groups_member_count_is_the_devices_its_rules_match() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "A").await;
        let (other, other_site) = org_and_site(&pa, "B").await;
        let (web, _) = enroll(&app, &pa, org, site, "a-web-01").await;
        enroll(&app, &pa, org, site, "a-db-01").await;
        enroll(&app, &pa, other, other_site, "b-web-01").await;
        let rules = json!({"all": [{"field": "hostname", "op": "contains", "value": "web"}]});
        let dynamic: DeviceGroup = pa
            .post(
                "/api/v1/device-groups",
                &json!({"org_id": org, "name": "Web", "type": "dynamic", "rules": rules}),
            )
            .await
            .expect("dynamic group");
        assert_eq!(
            dynamic.member_count, 1,
            "{engine:?}: the create answer counts"
        );
        let static_group: DeviceGroup = pa
            .post(
                "/api/v1/device-groups",
                &json!({"org_id": org, "name": "Hand-picked"}),
            )
            .await
            .expect("static group");
        assert_eq!(static_group.member_count, 0);

        let got: DeviceGroup = pa
            .get(&format!("/api/v1/device-groups/{}", dynamic.id))
            .await
            .expect("get");
        assert_eq!(got.member_count, 1, "{engine:?}: get");
        let members: DeviceIds = pa
            .get(&format!("/api/v1/device-groups/{}/members", dynamic.id))
            .await
            .expect("members");
        assert_eq!(
            members.device_ids,
            vec![web],
            "{engine:?}: the other org's web host is not a member"
        );

        let list: Page<DeviceGroup> = pa
            .get(&format!("/api/v1/device-groups?org_id={org}"))
            .await
            .expect("list");
        let counts: Vec<(String, i64)> = list
            .data
            .iter()
            .map(|g| (g.name.clone(), g.member_count))
            .collect();
        assert_eq!(
            counts,
            vec![("Hand-picked".to_string(), 0), ("Web".to_string(), 1)],
            "{engine:?}: list"
        );

        // Rules changed to match nothing: the count follows at once.
        let changed: DeviceGroup = pa
            .patch(
                &format!("/api/v1/device-groups/{}", dynamic.id),
                &json!({"rules": {"all": [{"field": "hostname", "op": "eq", "value": "nope"}]}}),
            )
            .await
            .expect("patch");
        assert_eq!(
            changed.member_count, 0,
            "{engine:?}: after the rules change"
        );
    }
}
