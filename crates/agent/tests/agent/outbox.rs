use breeze_agent::api::classify_result_status;
use breeze_agent::outbox::{Delivery, Outbox, ResultSink};
use breeze_proto::agent::{CommandResult, CommandStatus};
use breeze_proto::ids::CommandId;
use std::sync::Mutex;

fn result(status: CommandStatus, secs: i64) -> CommandResult {
    CommandResult {
        command_id: CommandId::new(),
        command_type: "run_script".into(),
        status,
        rejection: None,
        exit_code: Some(0),
        stdout: "out".into(),
        stderr: String::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 5,
        error_message: None,
        started_at: None,
        completed_at: chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default(),
    }
}

/// A server that is down until `up` is set, and records what it stored.
struct FakeServer {
    up: Mutex<bool>,
    stored: Mutex<Vec<CommandId>>,
}

impl ResultSink for FakeServer {
    async fn deliver(&self, r: &CommandResult) -> Delivery {
        if !*self.up.lock().unwrap_or_else(|p| p.into_inner()) {
            return Delivery::Retry("connection refused".into());
        }
        let mut stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        if stored.contains(&r.command_id) {
            return Delivery::AlreadyRecorded;
        }
        stored.push(r.command_id);
        Delivery::Accepted
    }
}

#[tokio::test]
async fn results_survive_an_outage_and_a_restart_and_arrive_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = FakeServer {
        up: Mutex::new(false),
        stored: Mutex::new(Vec::new()),
    };
    let (a, b) = (
        result(CommandStatus::Completed, 1),
        result(CommandStatus::Timeout, 2),
    );
    {
        let outbox = Outbox::open(dir.path())?;
        assert!(outbox.put(&a)?);
        assert!(outbox.put(&b)?);
        assert!(!outbox.put(&a)?, "first result per command wins");
        let report = outbox.deliver_pending(&server).await?;
        assert_eq!(report.delivered, 0);
        assert!(report.retry_reason.is_some());
        assert_eq!(outbox.len(), 2);
    } // agent "restarts"
    *server.up.lock().unwrap_or_else(|p| p.into_inner()) = true;
    let outbox = Outbox::open(dir.path())?;
    let pending = outbox.pending()?;
    assert_eq!(
        pending.iter().map(|r| r.command_id).collect::<Vec<_>>(),
        vec![a.command_id, b.command_id],
        "oldest first"
    );
    assert_eq!(pending[1], b, "stored byte for byte");
    let report = outbox.deliver_pending(&server).await?;
    assert_eq!(report.delivered, 2);
    assert!(outbox.is_empty());
    let again = outbox.deliver_pending(&server).await?;
    assert_eq!(again.delivered, 0);
    assert_eq!(
        server
            .stored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len(),
        2,
        "each result stored once"
    );
    Ok(())
}

#[tokio::test]
async fn a_result_the_server_already_has_is_dropped_from_the_outbox() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = FakeServer {
        up: Mutex::new(true),
        stored: Mutex::new(Vec::new()),
    };
    let a = result(CommandStatus::Completed, 1);
    server
        .stored
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(a.command_id); // answer was lost
    let outbox = Outbox::open(dir.path())?;
    outbox.put(&a)?;
    assert_eq!(outbox.deliver_pending(&server).await?.delivered, 1);
    assert!(outbox.is_empty());
    Ok(())
}

#[test]
fn http_statuses_map_to_outbox_decisions() {
    use reqwest::StatusCode as S;
    assert_eq!(classify_result_status(S::OK), Delivery::Accepted);
    assert_eq!(classify_result_status(S::CREATED), Delivery::Accepted);
    assert_eq!(
        classify_result_status(S::CONFLICT),
        Delivery::AlreadyRecorded
    );
    assert!(matches!(
        classify_result_status(S::NOT_FOUND),
        Delivery::Undeliverable(_)
    ));
    assert!(matches!(
        classify_result_status(S::SERVICE_UNAVAILABLE),
        Delivery::Retry(_)
    ));
    assert!(matches!(
        classify_result_status(S::UNAUTHORIZED),
        Delivery::Retry(_)
    ));
}
