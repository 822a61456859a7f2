//! Issue 13 tests.

/// Automations core (helper "auto"): runs whose run_script steps execute on the real
/// `breeze-agent` (the alerting Rig: in-process server on a FixedClock, real agent).
///
/// - A manual automation `run_script (exits 1) → condition exit_code eq 0 then [A] else [B]`
///   takes the else branch: B ran on the agent (its output is in the step log), A did
///   not; the run counts one device targeted, one succeeded, none failed.
///
/// Runs on SQLite, and on PostgreSQL when `BREEZE_TEST_DATABASE_URL` is set.
mod core_runs {
    use crate::agent::{script, stop};
    use crate::alerts::rig;
    use crate::support::eventually;
    use anyhow::{Context, Result, ensure};
    use serde_json::{Value, json};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_script_sends_the_condition_to_its_else_branch_on_the_real_agent() -> Result<()>
    {
        let dir = tempfile::tempdir()?;
        let mut rig = rig(dir.path(), false).await?;
        let fails = script(&rig.admin, &rig.org, "echo checking; exit 1", 60, json!([])).await?;
        let then_a = script(&rig.admin, &rig.org, "echo branch-then-A", 60, json!([])).await?;
        let else_b = script(&rig.admin, &rig.org, "echo branch-else-B", 60, json!([])).await?;
        let a = rig
            .admin
            .ok(
                reqwest::Method::POST,
                "/api/v1/automations",
                Some(
                    json!({"org_id": rig.org, "name": "Check then fix", "enabled": true,
                    "trigger": {"type": "manual"}, "targets": {"all": true},
                    "on_failure": "stop",
                    "actions": [
                        {"type": "run_script", "script_id": fails},
                        {"type": "condition", "if": {"exit_code": {"eq": 0}},
                         "then": [{"type": "run_script", "script_id": then_a}],
                         "else": [{"type": "run_script", "script_id": else_b}]}
                    ]}),
                ),
            )
            .await?;
        let id = a["id"]
            .as_str()
            .with_context(|| format!("automation id: {a}"))?
            .to_string();
        let started = rig
            .admin
            .ok(
                reqwest::Method::POST,
                &format!("/api/v1/automations/{id}/run"),
                Some(json!({})),
            )
            .await?;
        let run = started["run_id"]
            .as_str()
            .with_context(|| format!("run id: {started}"))?
            .to_string();

        let detail = eventually(120, "the run to finish", || {
            let admin = rig.admin.clone();
            let run = run.clone();
            async move {
                let (s, v) = admin.get(&format!("/api/v1/automation-runs/{run}")).await?;
                ensure!(s.is_success(), "run detail: {s} {v}");
                Ok(v["finished_at"].is_string().then_some(v))
            }
        })
        .await?;
        ensure!(detail["status"] == "completed", "{detail:#}");
        ensure!(detail["trigger"]["type"] == "manual", "{detail:#}");
        ensure!(detail["devices_targeted"] == 1, "{detail:#}");
        ensure!(detail["devices_succeeded"] == 1, "{detail:#}");
        ensure!(detail["devices_failed"] == 0, "{detail:#}");
        let devices = detail["devices"].as_array().context("devices")?;
        ensure!(devices.len() == 1, "{detail:#}");
        let d = &devices[0];
        ensure!(d["device_id"] == rig.dev.as_str(), "{d:#}");
        ensure!(d["status"] == "completed", "{d:#}");
        let steps: Vec<&Value> = d["steps"].as_array().context("steps")?.iter().collect();
        let paths: Vec<(&str, &str)> = steps
            .iter()
            .map(|s| {
                (
                    s["path"].as_str().unwrap_or("?"),
                    s["status"].as_str().unwrap_or("?"),
                )
            })
            .collect();
        // The else branch ran; nothing under `then` was even started.
        ensure!(
            paths
                == [
                    ("0", "completed"),
                    ("1", "completed"),
                    ("1.else.0", "completed")
                ],
            "{paths:?} {d:#}"
        );
        ensure!(steps[0]["exit_code"] == 1, "{:#}", steps[0]);
        ensure!(
            steps[0]["output"]
                .as_str()
                .is_some_and(|o| o.contains("checking")),
            "{:#}",
            steps[0]
        );
        ensure!(
            steps[1]["message"]
                .as_str()
                .is_some_and(|m| m.contains("else")),
            "{:#}",
            steps[1]
        );
        ensure!(steps[2]["exit_code"] == 0, "{:#}", steps[2]);
        ensure!(
            steps[2]["output"]
                .as_str()
                .is_some_and(|o| o.contains("branch-else-B")),
            "B's output in its step: {:#}",
            steps[2]
        );
        ensure!(!d.to_string().contains("branch-then-A"), "A ran: {d:#}");

        // The agent really ran B and never A: their executions, by script.
        let execs_of = |script: String| {
            let admin = rig.admin.clone();
            async move {
                let (s, v) = admin
                    .get(&format!(
                        "/api/v1/script-executions?script_id={script}&limit=100"
                    ))
                    .await?;
                ensure!(s.is_success(), "executions: {s} {v}");
                Ok(v["data"].as_array().cloned().unwrap_or_default())
            }
        };
        let b_runs = execs_of(else_b.clone()).await?;
        ensure!(b_runs.len() == 1, "{b_runs:?}");
        ensure!(b_runs[0]["status"] == "completed", "{b_runs:?}");
        ensure!(b_runs[0]["device_id"] == rig.dev.as_str(), "{b_runs:?}");
        ensure!(b_runs[0]["trigger_type"] == "automation", "{b_runs:?}");
        ensure!(
            steps[2]["execution_id"] == b_runs[0]["id"],
            "{:#} {b_runs:?}",
            steps[2]
        );
        let a_runs = execs_of(then_a.clone()).await?;
        ensure!(a_runs.is_empty(), "A ran: {a_runs:?}");

        if let Some(mut agent) = rig.agent.take() {
            stop(&mut agent).await?;
        }
        Ok(())
    }
}
