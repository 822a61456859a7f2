use breeze_agent::clock::{Clock, FixedClock};
use breeze_agent::commands::{CommandHandler, Handled, Origin};
use breeze_agent::outbox::Outbox;
use breeze_agent::replay::SeenCommands;
use breeze_proto::agent::{
    AgentConfig, CommandEnvelope, CommandRejection, CommandResult, CommandStatus, SignedCommand,
    SigningKey, sign_command,
};
use breeze_proto::ids::{CommandId, DeviceId};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

struct Rig {
    handler: Arc<CommandHandler>,
    outbox: Outbox,
    key: SigningKey,
    device: DeviceId,
    clock: Arc<FixedClock>,
    _service: mpsc::UnboundedReceiver<breeze_agent::commands::ServiceRequest>,
    channel_acks: mpsc::UnboundedReceiver<breeze_proto::agent::CommandAck>,
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap_or_default()
}

fn rig(dir: &Path) -> anyhow::Result<Rig> {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let device = DeviceId::new();
    let clock = Arc::new(FixedClock::new(t0()));
    let outbox = Outbox::open(dir.join("outbox"))?;
    let (ca, channel_acks) = mpsc::unbounded_channel();
    let (ha, _ha_rx) = mpsc::unbounded_channel();
    let (svc, service) = mpsc::unbounded_channel();
    let mut handler = CommandHandler::new(
        device,
        key.verifying_key(),
        clock.clone(),
        outbox.clone(),
        SeenCommands::load(dir.join("seen.json"))?,
        Arc::new(RwLock::new(AgentConfig::default())),
        dir.join("run"),
        ca,
        ha,
        svc,
    );
    handler.allow_reboot = false;
    Ok(Rig {
        handler: Arc::new(handler),
        outbox,
        key,
        device,
        clock,
        _service: service,
        channel_acks,
    })
}

fn envelope(device: DeviceId, ty: &str, payload: serde_json::Value) -> CommandEnvelope {
    CommandEnvelope {
        id: CommandId::new(),
        device_id: device,
        command_type: ty.into(),
        payload,
        issued_at: t0(),
        expires_at: t0() + Duration::minutes(10),
        nonce: None,
    }
}

fn script(device: DeviceId, content: &str) -> CommandEnvelope {
    envelope(
        device,
        "run_script",
        json!({"language": "bash", "content": content}),
    )
}

fn stored(outbox: &Outbox, id: CommandId) -> anyhow::Result<CommandResult> {
    outbox
        .pending()?
        .into_iter()
        .find(|r| r.command_id == id)
        .ok_or_else(|| anyhow::anyhow!("no result for {id}"))
}

async fn expect_rejected(r: &Rig, cmd: SignedCommand, why: CommandRejection) -> anyhow::Result<()> {
    let id = cmd.envelope.id;
    assert_eq!(
        r.handler.handle(cmd, Origin::Heartbeat)?,
        Handled::Rejected(id, why)
    );
    let res = stored(&r.outbox, id)?;
    assert_eq!(res.status, CommandStatus::Rejected);
    assert_eq!(res.rejection, Some(why));
    assert!(res.error_message.is_some());
    Ok(())
}

#[tokio::test]
async fn a_signed_command_runs_and_its_result_lands_in_the_outbox() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut r = rig(dir.path())?;
    let cmd = sign_command(&r.key, script(r.device, "echo hello; exit 3"));
    let id = cmd.envelope.id;
    assert_eq!(
        r.handler.handle(cmd, Origin::Channel)?,
        Handled::Started(id)
    );
    let ack = r
        .channel_acks
        .recv()
        .await
        .ok_or_else(|| anyhow::anyhow!("no ack"))?;
    assert_eq!(ack.command_id, id);
    r.handler.idle().await;
    let res = stored(&r.outbox, id)?;
    assert_eq!(
        (res.status, res.exit_code, res.stdout.as_str()),
        (CommandStatus::Completed, Some(3), "hello\n")
    );
    Ok(())
}

#[tokio::test]
async fn tampered_unsigned_expired_and_foreign_commands_are_refused_and_reported()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let r = rig(dir.path())?;
    let canary = dir.path().join("canary");
    let mut tampered = sign_command(&r.key, script(r.device, "true"));
    tampered.envelope.payload["content"] = json!(format!("touch {}", canary.display()));
    expect_rejected(&r, tampered, CommandRejection::BadSignature).await?;

    let mut unsigned = sign_command(&r.key, script(r.device, "true"));
    unsigned.signature.clear();
    expect_rejected(&r, unsigned, CommandRejection::Unsigned).await?;

    let foreign = sign_command(&r.key, script(DeviceId::new(), "true"));
    expect_rejected(&r, foreign, CommandRejection::WrongDevice).await?;

    let expiring = sign_command(&r.key, script(r.device, "true"));
    r.clock.set(t0() + Duration::minutes(11));
    expect_rejected(&r, expiring, CommandRejection::Expired).await?;

    let other_key = sign_command(
        &SigningKey::from_bytes(&[1u8; 32]),
        script(r.device, "true"),
    );
    r.clock.set(t0());
    expect_rejected(&r, other_key, CommandRejection::BadSignature).await?;

    r.handler.idle().await;
    assert!(!canary.exists(), "a refused command ran");
    Ok(())
}

#[tokio::test]
async fn a_replayed_command_is_refused_even_after_an_agent_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let counter = dir.path().join("count");
    let cmd = {
        let r = rig(dir.path())?;
        let cmd = sign_command(
            &r.key,
            script(r.device, &format!("echo x >> {}", counter.display())),
        );
        r.handler.handle(cmd.clone(), Origin::Heartbeat)?;
        r.handler.idle().await;
        // The server has the result; the outbox delivered it.
        r.outbox.remove(cmd.envelope.id)?;
        let id = cmd.envelope.id;
        assert_eq!(
            r.handler.handle(cmd.clone(), Origin::Channel)?,
            Handled::Rejected(id, CommandRejection::Replayed)
        );
        r.outbox.remove(id)?;
        cmd
    };
    let _ = cmd;
    // A new process on the same state dir still knows the id.
    let seen = SeenCommands::load(dir.path().join("seen.json"))?;
    assert_eq!(seen.len(), 1, "seen ids persist across restarts");
    assert_eq!(
        std::fs::read_to_string(&counter)?.lines().count(),
        1,
        "ran exactly once"
    );
    Ok(())
}

/// A server replica died after sending a command but before recording its
/// acknowledgement; another replica sends it again. It must not run twice, nor be refused
/// (a refusal would overwrite the real result).
#[tokio::test]
async fn a_command_delivered_again_while_it_runs_or_its_result_waits_is_a_duplicate()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut r = rig(dir.path())?;
    let counter = dir.path().join("count");
    let gate = dir.path().join("gate");
    let cmd = sign_command(
        &r.key,
        script(
            r.device,
            &format!(
                "echo x >> {}; while [ ! -e {} ]; do sleep 0.05; done",
                counter.display(),
                gate.display()
            ),
        ),
    );
    let id = cmd.envelope.id;
    assert_eq!(
        r.handler.handle(cmd.clone(), Origin::Channel)?,
        Handled::Started(id)
    );
    let first = r
        .channel_acks
        .recv()
        .await
        .ok_or_else(|| anyhow::anyhow!("no ack"))?;
    assert_eq!(first.command_id, id);
    // Again while it runs: acknowledged again (the new replica needs it), not run again.
    assert_eq!(
        r.handler.handle(cmd.clone(), Origin::Channel)?,
        Handled::Duplicate(id)
    );
    let again = r
        .channel_acks
        .recv()
        .await
        .ok_or_else(|| anyhow::anyhow!("no second ack"))?;
    assert_eq!(again.command_id, id);
    std::fs::write(&gate, "")?;
    r.handler.idle().await;
    // Again while its result waits in the outbox: nothing happens, the result stays.
    assert_eq!(
        r.handler.handle(cmd.clone(), Origin::Channel)?,
        Handled::Duplicate(id)
    );
    let result = stored(&r.outbox, id)?;
    assert_eq!(result.status, CommandStatus::Completed);
    assert_eq!(
        std::fs::read_to_string(&counter)?.lines().count(),
        1,
        "ran exactly once"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_types_and_bad_payloads_are_rejected_with_the_reason() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let r = rig(dir.path())?;
    let unknown = sign_command(&r.key, envelope(r.device, "format_disk", json!({})));
    expect_rejected(&r, unknown, CommandRejection::Unsupported).await?;
    let bad = sign_command(
        &r.key,
        envelope(
            r.device,
            "run_script",
            json!({"language": "cobol", "content": ""}),
        ),
    );
    expect_rejected(&r, bad, CommandRejection::InvalidPayload).await?;
    Ok(())
}

#[tokio::test]
async fn cancel_stops_a_running_script() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let r = rig(dir.path())?;
    let long = sign_command(&r.key, script(r.device, "sleep 600"));
    let long_id = long.envelope.id;
    r.handler.handle(long, Origin::Heartbeat)?;
    for _ in 0..50 {
        if r.handler.running().contains(&long_id) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let cancel = sign_command(
        &r.key,
        envelope(r.device, "cancel", json!({"command_id": long_id})),
    );
    let cancel_id = cancel.envelope.id;
    r.handler.handle(cancel, Origin::Heartbeat)?;
    r.handler.idle().await;
    assert_eq!(stored(&r.outbox, long_id)?.status, CommandStatus::Cancelled);
    assert_eq!(
        stored(&r.outbox, cancel_id)?.status,
        CommandStatus::Completed
    );
    Ok(())
}

#[tokio::test]
async fn reboot_builds_a_delayed_shutdown() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let r = rig(dir.path())?;
    let cmd = sign_command(
        &r.key,
        envelope(r.device, "reboot", json!({"delay_secs": 90})),
    );
    let id = cmd.envelope.id;
    r.handler.handle(cmd, Origin::Heartbeat)?;
    r.handler.idle().await;
    let res = stored(&r.outbox, id)?;
    if breeze_agent::executor::find_program("shutdown").is_some() {
        assert_eq!(res.status, CommandStatus::Completed, "{res:?}");
        assert!(res.stdout.contains("shutdown -r +2"), "{}", res.stdout);
    } else {
        assert_eq!(res.status, CommandStatus::Failed);
        assert!(res.error_message.unwrap_or_default().contains("shutdown"));
    }
    let _ = r.clock.now();
    Ok(())
}
