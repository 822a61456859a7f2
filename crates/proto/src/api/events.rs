//! The live event stream (`GET /api/v1/events`, Server-Sent Events). Each message is
//! one JSON object with a `type`; it says *what* changed, and the console refetches the
//! objects it names. Events carry ids and a status, so a client that misses one loses
//! nothing but a refresh; the one exception is `execution.output`, which carries a
//! running script's new output with its offset, so a client that missed a chunk sees
//! the gap (the offset is past what it holds) and refetches the execution.

use super::*;

/// One message of the event stream (`data:` of an SSE message with the default event
/// name).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type")]
pub enum LiveEvent {
    /// The first message of every stream.
    #[serde(rename = "hello")]
    Hello,
    /// Events were dropped for this subscriber (it read too slowly): refetch everything.
    #[serde(rename = "resync")]
    Resync,
    /// A device's status changed: online (first heartbeat after being offline, or
    /// enrollment), offline (missed heartbeats), quarantined, maintenance,
    /// reactivated or decommissioned.
    #[serde(rename = "device.status")]
    DeviceStatus {
        device_id: DeviceId,
        org_id: OrgId,
        site_id: SiteId,
        status: String,
    },
    /// An agent enrolled a device.
    #[serde(rename = "device.enrolled")]
    DeviceEnrolled {
        device_id: DeviceId,
        org_id: OrgId,
        site_id: SiteId,
        hostname: String,
    },
    /// New inventory sections arrived from a device's agent.
    #[serde(rename = "device.inventory")]
    DeviceInventory {
        device_id: DeviceId,
        org_id: OrgId,
        site_id: SiteId,
        /// The sections replaced (`hardware`, `software`, ...).
        sections: Vec<String>,
    },
    /// A device command (not a script's) started or finished.
    #[serde(rename = "command.updated")]
    CommandUpdated {
        device_id: DeviceId,
        command_id: CommandId,
        /// `running`, or the final status (`completed`, `failed`, `timeout`, `rejected`, `cancelled`, `lost` ...).
        status: String,
    },
    /// A script execution (and the command that carries it) started or finished.
    #[serde(rename = "execution.updated")]
    ExecutionUpdated {
        device_id: DeviceId,
        execution_id: ExecutionId,
        command_id: CommandId,
        status: String,
    },
    /// New output of a running script execution, as its agent streams it (at most
    /// every 250 ms or 16 KiB per chunk). Append `data` when `offset` equals the UTF-8
    /// length of the stream's text you hold; otherwise refetch the execution. The
    /// final `execution.updated` replaces the live output with the result's.
    #[serde(rename = "execution.output")]
    ExecutionOutput {
        device_id: DeviceId,
        execution_id: ExecutionId,
        command_id: CommandId,
        stream: crate::agent::OutputStream,
        /// UTF-8 bytes of the stream before this chunk.
        offset: u64,
        data: String,
    },
    /// A type this client does not know yet (newer server): ignore it.
    /// An alert was raised, acknowledged, resolved or suppressed.
    #[serde(rename = "alert.updated")]
    AlertUpdated {
        alert_id: AlertId,
        rule_id: Option<AlertRuleId>,
        device_id: DeviceId,
        org_id: OrgId,
        site_id: SiteId,
        status: String,
        severity: String,
    },
    /// A device's overall compliance with a policy changed (issue 13).
    #[serde(rename = "policy.compliance")]
    PolicyCompliance {
        policy_id: PolicyId,
        device_id: DeviceId,
        org_id: OrgId,
        site_id: SiteId,
        /// `compliant`, `non_compliant`, `unknown` or `error`.
        status: String,
        previous_status: String,
    },
    #[serde(other)]
    Unknown,
}

impl LiveEvent {
    /// The `type` field.
    pub fn type_name(&self) -> &'static str {
        match self {
            LiveEvent::Hello => "hello",
            LiveEvent::Resync => "resync",
            LiveEvent::DeviceStatus { .. } => "device.status",
            LiveEvent::DeviceEnrolled { .. } => "device.enrolled",
            LiveEvent::DeviceInventory { .. } => "device.inventory",
            LiveEvent::CommandUpdated { .. } => "command.updated",
            LiveEvent::ExecutionUpdated { .. } => "execution.updated",
            LiveEvent::ExecutionOutput { .. } => "execution.output",
            LiveEvent::AlertUpdated { .. } => "alert.updated",
            LiveEvent::PolicyCompliance { .. } => "policy.compliance",
            LiveEvent::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_flat_json_with_a_type() {
        let d = DeviceId::new();
        let e = LiveEvent::DeviceStatus {
            device_id: d,
            org_id: OrgId::new(),
            site_id: SiteId::new(),
            status: "online".into(),
        };
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["type"], "device.status");
        assert_eq!(v["device_id"], d.to_string());
        assert_eq!(v["status"], "online");
        assert_eq!(
            serde_json::to_value(LiveEvent::Hello).expect("json"),
            serde_json::json!({"type": "hello"})
        );
        let back: LiveEvent = serde_json::from_value(v).expect("back");
        assert_eq!(back, e);
        let future: LiveEvent =
            serde_json::from_str(r#"{"type": "alert.raised", "id": "x"}"#).expect("unknown");
        assert_eq!(future, LiveEvent::Unknown);
    }
}
