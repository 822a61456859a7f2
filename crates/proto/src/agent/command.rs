//! Commands: the signed envelope and the payload of each built-in command type.

use super::AgentConfig;
use crate::api::{ComplianceStatus, PolicyRule};
use crate::ids::{CommandId, DeviceId, ExecutionId, PolicyId, ScriptId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the server signs. `command_type` is a plain string so an agent can verify
/// (and refuse, as `unsupported`) a type it doesn't know; [`Command::parse`] turns a
/// verified envelope into a typed command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandEnvelope {
    pub id: CommandId,
    pub device_id: DeviceId,
    pub command_type: String,
    /// The type's payload object (see the `*Payload` types); `{}` when it has none.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
    /// Signed with whole-second precision (see [`super::signing`]).
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Optional extra randomness; signed when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// An envelope with the server's ed25519 signature over
/// [`canonical_command_bytes`](super::canonical_command_bytes): standard base64 with
/// padding of the 64 signature bytes. An empty signature means "unsigned".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedCommand {
    pub envelope: CommandEnvelope,
    #[serde(default)]
    pub signature: String,
}

/// The built-in command types and their wire names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandType {
    RunScript,
    Reboot,
    CollectInventoryNow,
    UpdateConfig,
    Cancel,
    PolicyCheck,
}

impl CommandType {
    pub const ALL: [CommandType; 6] = [
        Self::RunScript,
        Self::Reboot,
        Self::CollectInventoryNow,
        Self::UpdateConfig,
        Self::Cancel,
        Self::PolicyCheck,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunScript => "run_script",
            Self::Reboot => "reboot",
            Self::CollectInventoryNow => "collect_inventory_now",
            Self::UpdateConfig => "update_config",
            Self::Cancel => "cancel",
            Self::PolicyCheck => "policy_check",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Script interpreters (seed 004 Script.language, plus `sh`).
///
/// | language | Linux/macOS | Windows |
/// |---|---|---|
/// | `bash` | `bash FILE.sh` | `bash FILE.sh` when on PATH |
/// | `sh` | `sh FILE.sh` | `sh FILE.sh` when on PATH |
/// | `python` | `python3 FILE.py` (else `python`) | `python FILE.py` (else `py -3`) |
/// | `powershell` | `pwsh -NoProfile -NonInteractive -File FILE.ps1` | `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File FILE.ps1` |
/// | `cmd` | refused (`failed`, "cmd scripts run only on Windows") | `cmd.exe /D /C FILE.cmd` |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScriptLanguage {
    Bash,
    Sh,
    Python,
    Powershell,
    Cmd,
}

/// Which account a script runs as.
///
/// Wire form: `"system"`, `"elevated"`, `"logged_in_user"` or `{"user": "alice"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunAs {
    /// The agent's own account (root / SYSTEM when installed as a service).
    #[default]
    System,
    /// Same as `system` when the agent runs privileged; refused otherwise.
    Elevated,
    /// The user logged in at the console. Not supported by this agent version: such
    /// a command fails with a clear error.
    LoggedInUser,
    /// A named local account. On Linux the agent (as root) uses `runuser -u NAME`;
    /// an agent that is not root can only run scripts as its own user.
    User(String),
}

/// `run_script` payload (seed 004 ScriptExecution).
///
/// # Parameters become environment variables, never script text
///
/// For each `(name, value)` in `parameters` the script's environment gets:
///
/// * `BREEZE_PARAM_<NAME>`, where `<NAME>` is `name` upper-cased with every
///   character outside `A–Z`, `0–9`, `_` replaced by `_` (`max-size` →
///   `BREEZE_PARAM_MAX_SIZE`); always set.
/// * `name` itself, unchanged, when it is a valid identifier (`[A-Za-z_][A-Za-z0-9_]*`)
///   and is not reserved: `PATH`, `HOME`, `USER`, `LOGNAME`, `SHELL`, `PWD`, `IFS`,
///   `ENV`, `BASH_ENV`, `SHELLOPTS`, `BASHOPTS`, `PS4`, `PYTHONPATH`, `PYTHONHOME`,
///   `PYTHONSTARTUP`, `PSModulePath`, `COMSPEC`, `SYSTEMROOT`, `TEMP`, `TMP`, `TMPDIR`
///   and any name starting with `LD_`, `DYLD_` or `BREEZE_` (any case).
///
/// Values are passed byte for byte; a value containing NUL fails the execution.
/// Also set: `BREEZE_COMMAND_ID`, `BREEZE_EXECUTION_ID`, `BREEZE_SCRIPT_ID`,
/// `BREEZE_SCRIPT_VERSION` (when known).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunScriptPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<ExecutionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_id: Option<ScriptId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_version: Option<u32>,
    pub language: ScriptLanguage,
    pub content: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// 0 means the config's `default_script_timeout_secs`.
    #[serde(default)]
    pub timeout_secs: u64,
    #[serde(default)]
    pub run_as: RunAs,
}

/// `reboot` payload: reboot after `delay_secs`. Linux/macOS use `shutdown -r
/// +MINUTES` (rounded up, at least one minute so the result reaches the server
/// first); Windows `shutdown /r /t SECONDS` (at least 60).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebootPayload {
    #[serde(default)]
    pub delay_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `update_config` payload: the complete new configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateConfigPayload {
    pub config: AgentConfig,
}

/// `cancel` payload: stop a running command (its process tree is killed and its
/// result reported as `cancelled`). The cancel command itself completes with exit
/// code 0 when something was cancelled and fails when the command was not running.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelPayload {
    pub command_id: CommandId,
}

/// `policy_check` payload: evaluate a policy's rules now. The command completes with
/// exit code 0 and a [`PolicyCheckReport`] as JSON in `stdout` (one outcome per rule, in
/// order); a rule the agent cannot judge is `unknown`, one whose check failed `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyCheckPayload {
    pub policy_id: PolicyId,
    pub rules: Vec<PolicyRule>,
    /// The check scripts `script` rules name, inlined by the server.
    #[serde(default)]
    pub scripts: Vec<PolicyCheckScript>,
}

/// A check script inlined into a `policy_check` (compliant when it exits 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyCheckScript {
    pub script_id: ScriptId,
    pub language: ScriptLanguage,
    pub content: String,
    /// 0 means the config's `default_script_timeout_secs`.
    #[serde(default)]
    pub timeout_secs: u64,
}

/// What a `policy_check` answers (as JSON in the result's `stdout`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyCheckReport {
    pub policy_id: PolicyId,
    pub results: Vec<PolicyRuleOutcome>,
}

/// One rule's outcome on the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyRuleOutcome {
    pub rule_index: u32,
    pub status: ComplianceStatus,
    /// Short, e.g. `installed 1.2.0 < 2.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A verified command with its typed payload. `collect_inventory_now` takes `{}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    RunScript(RunScriptPayload),
    Reboot(RebootPayload),
    CollectInventoryNow,
    UpdateConfig(UpdateConfigPayload),
    Cancel(CancelPayload),
    PolicyCheck(PolicyCheckPayload),
}

/// Why an envelope could not be turned into a [`Command`].
#[derive(Debug, thiserror::Error)]
pub enum CommandParseError {
    #[error("unsupported command type `{0}`")]
    Unsupported(String),
    #[error("invalid `{command_type}` payload: {source}")]
    InvalidPayload {
        command_type: &'static str,
        source: serde_json::Error,
    },
}

impl Command {
    pub fn command_type(&self) -> CommandType {
        match self {
            Self::RunScript(_) => CommandType::RunScript,
            Self::Reboot(_) => CommandType::Reboot,
            Self::CollectInventoryNow => CommandType::CollectInventoryNow,
            Self::UpdateConfig(_) => CommandType::UpdateConfig,
            Self::Cancel(_) => CommandType::Cancel,
            Self::PolicyCheck(_) => CommandType::PolicyCheck,
        }
    }

    /// Parses an envelope's type and payload.
    pub fn parse(envelope: &CommandEnvelope) -> Result<Self, CommandParseError> {
        let ty = CommandType::parse(&envelope.command_type)
            .ok_or_else(|| CommandParseError::Unsupported(envelope.command_type.clone()))?;
        let payload = envelope.payload.clone();
        let invalid = |source| CommandParseError::InvalidPayload {
            command_type: ty.as_str(),
            source,
        };
        Ok(match ty {
            CommandType::RunScript => {
                Self::RunScript(serde_json::from_value(payload).map_err(invalid)?)
            }
            CommandType::Reboot => Self::Reboot(serde_json::from_value(payload).map_err(invalid)?),
            CommandType::CollectInventoryNow => Self::CollectInventoryNow,
            CommandType::UpdateConfig => {
                Self::UpdateConfig(serde_json::from_value(payload).map_err(invalid)?)
            }
            CommandType::Cancel => Self::Cancel(serde_json::from_value(payload).map_err(invalid)?),
            CommandType::PolicyCheck => {
                Self::PolicyCheck(serde_json::from_value(payload).map_err(invalid)?)
            }
        })
    }

    /// The payload as JSON, for building an envelope.
    pub fn payload_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Self::RunScript(p) => serde_json::to_value(p),
            Self::Reboot(p) => serde_json::to_value(p),
            Self::CollectInventoryNow => Ok(serde_json::Value::Object(serde_json::Map::new())),
            Self::UpdateConfig(p) => serde_json::to_value(p),
            Self::Cancel(p) => serde_json::to_value(p),
            Self::PolicyCheck(p) => serde_json::to_value(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_as_wire_forms() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&RunAs::System)?, "\"system\"");
        assert_eq!(
            serde_json::to_string(&RunAs::User("alice".into()))?,
            r#"{"user":"alice"}"#
        );
        let r: RunAs = serde_json::from_str(r#"{"user":"bob"}"#)?;
        assert_eq!(r, RunAs::User("bob".into()));
        Ok(())
    }

    #[test]
    fn command_type_names_round_trip() {
        for t in CommandType::ALL {
            assert_eq!(CommandType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).ok(),
                Some(serde_json::Value::from(t.as_str()))
            );
        }
    }
}
