use crate::support::{bash, job, run};
use breeze_agent::clock::SystemClock;
use breeze_agent::executor::run_script;
use breeze_proto::agent::{CommandStatus, RunAs, ScriptLanguage};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn bash_script_reports_stdout_stderr_and_exit_code() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let r = run(
        dir.path(),
        bash("echo out; echo err >&2; exit 3"),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(r.status, CommandStatus::Completed, "{r:?}");
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    assert!(!r.stdout_truncated && !r.stderr_truncated);
    assert!(r.started_at.is_some());
    assert!(
        !dir.path()
            .join("run")
            .join(r.command_id.to_string())
            .exists(),
        "script file removed"
    );
    Ok(())
}

#[tokio::test]
async fn sh_and_python_use_their_interpreters() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut p = bash("echo $0 | grep -q script.sh && echo sh-ok");
    p.language = ScriptLanguage::Sh;
    let r = run(dir.path(), p, Duration::from_secs(30)).await;
    assert_eq!(r.stdout.trim(), "sh-ok", "{r:?}");
    if breeze_agent::executor::find_program("python3").is_some() {
        let mut p = bash("import sys\nprint('py', sys.version_info[0])");
        p.language = ScriptLanguage::Python;
        let r = run(dir.path(), p, Duration::from_secs(30)).await;
        assert_eq!(r.stdout.trim(), "py 3", "{r:?}");
    }
    Ok(())
}

#[tokio::test]
async fn cmd_is_refused_clearly_off_windows() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut p = bash("echo hi");
    p.language = ScriptLanguage::Cmd;
    let r = run(dir.path(), p, Duration::from_secs(30)).await;
    assert_eq!(r.status, CommandStatus::Failed);
    assert!(
        r.error_message
            .unwrap_or_default()
            .contains("only on Windows")
    );
    Ok(())
}

fn process_alive(pid: i32) -> bool {
    // A zombie is dead for our purposes.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn timeout_kills_the_whole_process_tree() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pids = dir.path().join("pids");
    // A child in the group, a grandchild, and one that escapes into its own session.
    let script = format!(
        "sleep 600 & echo $! >> {p}\n( sleep 600 & echo $! >> {p}; wait ) &\nsetsid sleep 600 & echo $! >> {p}\necho started\nsleep 600\n",
        p = pids.display()
    );
    let started = std::time::Instant::now();
    let r = run(dir.path(), bash(&script), Duration::from_secs(2)).await;
    assert_eq!(r.status, CommandStatus::Timeout, "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(r.stdout, "started\n");
    let pids: Vec<i32> = std::fs::read_to_string(&pids)?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for pid in pids {
        assert!(!process_alive(pid), "process {pid} survived the timeout");
    }
    Ok(())
}

#[tokio::test]
async fn cancel_kills_a_running_script() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cancel = CancellationToken::new();
    let j = job(
        dir.path(),
        bash("echo $$ > pid; sleep 600"),
        Duration::from_secs(600),
        1 << 20,
    );
    let work = j.work_root.join(j.command_id.to_string());
    let c = cancel.clone();
    let handle = tokio::spawn(async move { run_script(j, c, &SystemClock).await });
    let mut pid = None;
    for _ in 0..100 {
        if let Some(p) = std::fs::read_to_string(work.join("pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            pid = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = pid.ok_or_else(|| anyhow::anyhow!("script never started"))?;
    cancel.cancel();
    let r = handle.await?;
    assert_eq!(r.status, CommandStatus::Cancelled);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!process_alive(pid));
    Ok(())
}

#[tokio::test]
async fn parameters_arrive_verbatim_as_environment_data() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let canary = dir.path().join("canary");
    std::fs::write(&canary, "still here")?;
    let nasty = format!(
        "$(rm -rf {c}) `rm -rf {c}` ; rm -rf {c} \"' \\ $HOME",
        c = canary.display()
    );
    let mut p =
        bash("printf '%s' \"$BREEZE_PARAM_TARGET_PATH\"; printf '|'; printf '%s' \"$target\"");
    p.parameters.insert("target-path".into(), nasty.clone());
    p.parameters.insert("target".into(), "plain".into());
    p.parameters.insert("PATH".into(), "/nonexistent".into());
    let r = run(dir.path(), p, Duration::from_secs(30)).await;
    assert_eq!(r.status, CommandStatus::Completed, "{r:?}");
    assert_eq!(r.stdout, format!("{nasty}|plain"));
    assert!(canary.exists(), "a parameter was executed");
    Ok(())
}

#[tokio::test]
async fn output_cap_keeps_the_tail_and_says_so() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let j = job(
        dir.path(),
        bash("for i in $(seq 1 5000); do echo line-$i; done; echo small >&2"),
        Duration::from_secs(30),
        100,
    );
    let r = run_script(j, CancellationToken::new(), &SystemClock).await;
    assert!(r.stdout_truncated);
    assert!(r.stdout.len() <= 100);
    assert!(r.stdout.ends_with("line-5000\n"), "{:?}", r.stdout);
    assert!(!r.stdout.contains("line-1\n"));
    assert!(!r.stderr_truncated);
    assert_eq!(r.stderr, "small\n");
    Ok(())
}

#[tokio::test]
async fn background_leftovers_do_not_hang_the_result() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let started = std::time::Instant::now();
    let r = run(
        dir.path(),
        bash("sleep 600 & echo done"),
        Duration::from_secs(60),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(r.status, CommandStatus::Completed);
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(r.stdout, "done\n");
    Ok(())
}

#[tokio::test]
async fn run_as_unknown_or_console_user_fails_clearly() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut p = bash("id");
    p.run_as = RunAs::LoggedInUser;
    let r = run(dir.path(), p, Duration::from_secs(30)).await;
    assert_eq!(r.status, CommandStatus::Failed);
    assert!(
        r.error_message
            .unwrap_or_default()
            .contains("not supported yet")
    );
    let mut p = bash("id");
    p.run_as = RunAs::User("no-such-user-breeze".into());
    let r = run(dir.path(), p, Duration::from_secs(30)).await;
    assert_eq!(r.status, CommandStatus::Failed);
    Ok(())
}

#[tokio::test]
async fn run_as_another_user_uses_that_account() -> anyhow::Result<()> {
    if !breeze_agent::config::is_privileged()
        || breeze_agent::executor::find_program("runuser").is_none()
    {
        return Ok(()); // needs root and runuser
    }
    let dir = tempfile::tempdir()?;
    let mut p = bash("id -un; printf '%s' \"$BREEZE_PARAM_X\"");
    p.run_as = RunAs::User("nobody".into());
    p.parameters.insert("x".into(), "v".into());
    let r = run(dir.path(), p, Duration::from_secs(30)).await;
    assert_eq!(r.status, CommandStatus::Completed, "{r:?}");
    assert_eq!(r.stdout, "nobody\nv", "{r:?}");
    Ok(())
}

/// A script reports a custom metric by leaving a `*.metrics` file in `BREEZE_METRICS_DIR`;
/// the next heartbeat sample carries it (an alert rule reads it as `custom.<name>`).
#[tokio::test]
async fn a_script_reports_custom_metrics_through_breeze_metrics_dir() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let r = run(
        dir.path(),
        bash(
            "set -e; test -n \"$BREEZE_METRICS_DIR\"; \
             printf 'app_response_ms 5210\\nqueue_depth 7\\n' > \"$BREEZE_METRICS_DIR/.app.tmp\"; \
             mv \"$BREEZE_METRICS_DIR/.app.tmp\" \"$BREEZE_METRICS_DIR/app.metrics\"",
        ),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(r.status, CommandStatus::Completed, "{r:?}");
    assert_eq!(r.exit_code, Some(0), "{r:?}");
    let mut sampler = breeze_agent::collectors::metrics::MetricsSampler::new()?
        .with_custom_dir(dir.path().join("metrics.d"));
    let m = sampler.sample();
    assert_eq!(
        m.custom.get("app_response_ms"),
        Some(&5210.0),
        "{:?}",
        m.custom
    );
    assert_eq!(m.custom.get("queue_depth"), Some(&7.0));
    Ok(())
}
