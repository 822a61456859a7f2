//! The agent protocol: every type that crosses the `breeze-agent` ↔ server wire
//! (DESIGN.md "Agent protocol"), and the ed25519 command signatures.
//!
//! Protocol version: [`PROTOCOL_VERSION`]. All bodies are JSON (`application/json`),
//! all times RFC 3339 UTC, all ids UUID strings. Unknown fields are ignored on both
//! sides and every optional field may be absent, so either side can add fields
//! without a version bump.
//!
//! # Endpoints the agent calls
//!
//! | method | path | body → answer | auth |
//! |---|---|---|---|
//! | `POST` | `/api/v1/agents/enroll` | [`EnrollRequest`] → [`EnrollResponse`] | none (the key/token is in the body) |
//! | `POST` | `/api/v1/agents/{agent_id}/heartbeat` | [`HeartbeatRequest`] → [`HeartbeatResponse`] | bearer |
//! | `PUT`  | `/api/v1/agents/{agent_id}/inventory` | [`InventoryRequest`] → any 2xx (body ignored) | bearer |
//! | `POST` | `/api/v1/agents/{agent_id}/commands/{command_id}/ack` | [`CommandAck`] → any 2xx | bearer |
//! | `POST` | `/api/v1/agents/{agent_id}/commands/{command_id}/result` | [`CommandResult`] → 2xx, or 409 when a final result is already recorded | bearer |
//! | `GET`  | `/ws/agents/{agent_id}` (WebSocket upgrade) | JSON text frames of [`ChannelFrame`] | bearer |
//!
//! `{agent_id}` is [`EnrollResponse::agent_id`] (equal to the device id in this
//! version). "bearer" means the header `Authorization: Bearer <auth_token>`; for the
//! WebSocket the same header is sent on the upgrade request.
//!
//! # Status codes the agent understands
//!
//! * `2xx`: done. For `…/result`, `409 Conflict` also means done ("this command
//!   already has a final result"): the agent deletes the result from its outbox.
//! * `401`: the token is not (or no longer) valid. During a token rotation the agent
//!   falls back to its previous token; otherwise it keeps retrying with backoff.
//! * `410 Gone` on heartbeat: the device was decommissioned; the agent stops its loop.
//! * `400`/`404`/`422` on `…/result`: the server will never accept this result; the
//!   agent moves it to `outbox/undeliverable/` and stops retrying it.
//! * anything else (`5xx`, `429`, network errors): retried with jittered backoff.
//!
//! # Token rotation (two-phase)
//!
//! 1. A [`HeartbeatResponse`] carries `rotate_token: Some(new)`. The server keeps
//!    the old token valid and remembers the new one as pending.
//! 2. The agent stores the new token beside the old one (fsync), then sends its next
//!    heartbeat authenticated with the **new** token and `confirm_token_rotation:
//!    true`. The server then makes the new token current and revokes the old one.
//! 3. Only after that heartbeat succeeds does the agent forget the old token. If it
//!    answers 401 the agent drops the new token and keeps using the old one.
//!
//! All other requests keep using the old token until step 3.
//!
//! # Commands
//!
//! Commands arrive in [`HeartbeatResponse::commands`] or as
//! [`ChannelFrame::Command`] on the WebSocket, always as a [`SignedCommand`]. The agent
//! checks them with [`verify_command`] (signature, device, expiry) and against its
//! persisted set of seen command ids (replay). Then it:
//!
//! 1. acknowledges with [`CommandAck`] (`running`), over the channel when the command
//!    came over the channel, otherwise over `…/ack` (best effort, never retried);
//! 2. posts exactly one [`CommandResult`] per command id to `…/result`, from a
//!    persistent outbox, until the server answers 2xx or 409. A refused command gets
//!    a result with status [`CommandStatus::Rejected`] and the [`CommandRejection`]
//!    reason. A *replayed* command (an id the agent has already run) is reported the
//!    same way; the server normally already holds that id's result and answers 409,
//!    and should record the refusal as a device event when it does.
//!
//! Results always travel over HTTP, never over the channel: the outbox needs a
//! per-result answer from the server before it may delete the result. Only the live
//! output of a running script ([`CommandOutput`]) uses the channel, and only as a
//! preview: the result carries the output that counts.
//!
//! See [`signing`] for the signed bytes and [`command`] for the payload of each
//! command type, including how script parameters become environment variables.

pub mod channel;
pub mod command;
pub mod enroll;
pub mod heartbeat;
pub mod inventory;
pub mod remote;
pub mod remote_desktop;
pub mod remote_files;
pub mod result;
pub mod signing;
mod token;

pub use channel::{ChannelFrame, StreamId};
pub use command::{
    CancelPayload, Command, CommandEnvelope, CommandParseError, CommandType, PolicyCheckPayload,
    PolicyCheckReport, PolicyCheckScript, PolicyRuleOutcome, RebootPayload, RunAs,
    RunScriptPayload, ScriptLanguage, SignedCommand, UpdateConfigPayload,
};
/// The key types of the signature API, so users need no direct ed25519 dependency.
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use enroll::{AgentConfig, EnrollRequest, EnrollResponse, HardwareSummary, OsType};
pub use heartbeat::{AgentHealth, HeartbeatRequest, HeartbeatResponse, Metrics};
pub use inventory::{
    DiskInfo, HardwareInventory, InterfaceAddress, InventoryRequest, InventorySection, IpKind,
    LoggedInUser, NetworkInterface, OsInventory, ProcessInfo, SoftwarePackage, SoftwareSource,
    section_hash,
};
pub use result::{
    AckStatus, CommandAck, CommandOutput, CommandResult, CommandStatus, OUTPUT_CHUNK_MAX_BYTES,
    OUTPUT_FLUSH_MILLIS, OutputStream,
};
pub use signing::{
    CommandRejection, SigningError, canonical_command_bytes, canonical_json, sign_command,
    signing_key_from_base64, verify_command, verifying_key_from_base64, verifying_key_to_base64,
};
pub use token::SecretToken;

/// Version of this protocol; sent in [`EnrollRequest`], [`HeartbeatRequest`] and
/// [`ChannelFrame::Hello`]. Bumped only for incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;

/// The paths of the agent endpoints, so server routes and agent calls can't drift.
pub mod paths {
    use crate::ids::{CommandId, DeviceId};

    /// `POST`: enroll with a key or token.
    pub const ENROLL: &str = "/api/v1/agents/enroll";

    /// `POST`: heartbeat.
    pub fn heartbeat(agent: DeviceId) -> String {
        format!("/api/v1/agents/{agent}/heartbeat")
    }

    /// `PUT`: inventory sections.
    pub fn inventory(agent: DeviceId) -> String {
        format!("/api/v1/agents/{agent}/inventory")
    }

    /// `POST`: the agent accepted a command and started it.
    pub fn command_ack(agent: DeviceId, command: CommandId) -> String {
        format!("/api/v1/agents/{agent}/commands/{command}/ack")
    }

    /// `POST`: the final result of a command.
    pub fn command_result(agent: DeviceId, command: CommandId) -> String {
        format!("/api/v1/agents/{agent}/commands/{command}/result")
    }

    /// `GET` + WebSocket upgrade: the agent channel.
    pub fn channel(agent: DeviceId) -> String {
        format!("/ws/agents/{agent}")
    }
}
