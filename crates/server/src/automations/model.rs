//! An automation's trigger, conditions and actions parsed into checked types (the wire
//! shapes are documented in `breeze_proto::api::automations`). Parsing answers the
//! canonical JSON stored; errors name the bad part (`actions[2].then[0].seconds`).
//!
//! Step paths: a top-level step is `"i"`; a step inside a condition's branch is
//! `"<condition path>.then.<j>"` or `"<condition path>.else.<j>"`.

use crate::error::ApiError;
use breeze_proto::ids::{AlertRuleId, AutomationId, NotificationChannelId, ScriptId};
use chrono::{DateTime, Datelike, NaiveTime, Utc};
use serde_json::{Map, Value, json};

/// At most this many actions in all (branches included).
pub const MAX_ACTIONS: usize = 50;
/// Condition branches nest at most this deep.
pub const MAX_NESTING: usize = 3;
/// Nested runs (`run_automation`) go at most this deep.
pub const MAX_RUN_DEPTH: u32 = 3;
/// The longest wait: 7 days.
pub const MAX_WAIT_SECONDS: u64 = 7 * 24 * 3600;

pub const EVENTS: &[&str] = &[
    "device.enrolled",
    "device.offline",
    "alert.triggered",
    "script.failed",
    "software.changed",
];
pub const TRIGGER_TYPES: &[&str] = &["schedule", "event", "webhook", "manual"];
pub const ON_FAILURE: &[&str] = &["stop", "continue", "notify"];
pub const ACTION_TYPES: &[&str] = &[
    "run_script",
    "notify",
    "update_device",
    "run_automation",
    "wait",
    "condition",
];

fn bad(path: impl Into<String>, msg: impl Into<String>) -> ApiError {
    ApiError::validation(path, msg)
}

fn obj<'a>(path: &str, v: &'a Value) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| bad(path, "must be an object"))
}

fn only_keys(path: &str, o: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(bad(format!("{path}.{k}"), "is not a known field"));
        }
    }
    Ok(())
}

fn str_field<'a>(path: &str, o: &'a Map<String, Value>, k: &str) -> Result<&'a str, ApiError> {
    o.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{path}.{k}"), "is required (a string)"))
}

fn uuid_field<T: std::str::FromStr>(
    path: &str,
    o: &Map<String, Value>,
    k: &str,
) -> Result<T, ApiError> {
    str_field(path, o, k)?
        .parse()
        .map_err(|_| bad(format!("{path}.{k}"), "must be an id (UUID)"))
}

fn opt_uuid<T: std::str::FromStr>(
    path: &str,
    o: &Map<String, Value>,
    k: &str,
) -> Result<Option<T>, ApiError> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => uuid_field(path, o, k).map(Some),
    }
}

fn strings(path: &str, v: Option<&Value>, max_len: usize) -> Result<Vec<String>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let a = v
        .as_array()
        .ok_or_else(|| bad(path, "must be an array of strings"))?;
    if a.len() > 100 {
        return Err(bad(path, "at most 100 entries"));
    }
    a.iter()
        .enumerate()
        .map(|(i, x)| match x.as_str() {
            Some(s) if !s.trim().is_empty() && s.len() <= max_len => Ok(s.to_string()),
            _ => Err(bad(
                format!("{path}[{i}]"),
                format!("must be a non-empty string of at most {max_len} characters"),
            )),
        })
        .collect()
}

fn tz(path: &str, s: &str) -> Result<chrono_tz::Tz, ApiError> {
    s.parse::<chrono_tz::Tz>().map_err(|_| {
        bad(
            path,
            "must be an IANA time zone such as Europe/Berlin, or UTC",
        )
    })
}

// ---------------------------------------------------------------- trigger

/// What to do with schedule slots missed while the server was down (the schedule code's own
/// type, so the two cannot drift).
pub use breeze_core::cron::Missed;

#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// The cron string and timezone as given (the schedule code checks and runs them).
    Schedule {
        cron: String,
        timezone: String,
        missed: Missed,
    },
    Event {
        event: String,
        minutes: Option<u32>,
        rule_id: Option<AlertRuleId>,
        script_id: Option<ScriptId>,
    },
    Webhook,
    Manual,
}

impl Trigger {
    pub fn parse(v: &Value) -> Result<Self, ApiError> {
        let p = "trigger";
        let o = obj(p, v)?;
        let t = str_field(p, o, "type")?;
        Ok(match t {
            "schedule" => {
                only_keys(p, o, &["type", "cron", "timezone", "missed"])?;
                let cron = str_field(p, o, "cron")?.trim().to_string();
                if cron.is_empty() || cron.len() > 200 {
                    return Err(bad("trigger.cron", "must be a cron expression"));
                }
                let timezone = match o.get("timezone") {
                    None | Some(Value::Null) => "UTC".to_string(),
                    Some(_) => str_field(p, o, "timezone")?.to_string(),
                };
                let missed = match o.get("missed").and_then(Value::as_str) {
                    None if o.get("missed").is_none_or(Value::is_null) => Missed::Skip,
                    Some("skip") => Missed::Skip,
                    Some("run_once") => Missed::RunOnce,
                    _ => return Err(bad("trigger.missed", "must be one of: skip, run_once")),
                };
                // The cron expression and timezone, checked by the schedule code's parser.
                breeze_core::cron::Cron::parse(&cron, &timezone).map_err(|e| {
                    let v = e.into_validation("trigger.cron", "trigger.timezone");
                    bad(v.field, v.message)
                })?;
                Trigger::Schedule {
                    cron,
                    timezone,
                    missed,
                }
            }
            "event" => {
                only_keys(p, o, &["type", "event", "minutes", "rule_id", "script_id"])?;
                let event = str_field(p, o, "event")?;
                if !EVENTS.contains(&event) {
                    return Err(bad(
                        "trigger.event",
                        format!("must be one of: {}", EVENTS.join(", ")),
                    ));
                }
                let minutes = match o.get("minutes") {
                    None | Some(Value::Null) => None,
                    Some(m) => match m.as_u64() {
                        Some(m) if event == "device.offline" && (1..=10080).contains(&m) => {
                            Some(m as u32)
                        }
                        _ if event != "device.offline" => {
                            return Err(bad("trigger.minutes", "only for device.offline"));
                        }
                        _ => return Err(bad("trigger.minutes", "must be 1..=10080")),
                    },
                };
                let rule_id = opt_uuid(p, o, "rule_id")?;
                if rule_id.is_some() && event != "alert.triggered" {
                    return Err(bad("trigger.rule_id", "only for alert.triggered"));
                }
                let script_id = opt_uuid(p, o, "script_id")?;
                if script_id.is_some() && event != "script.failed" {
                    return Err(bad("trigger.script_id", "only for script.failed"));
                }
                Trigger::Event {
                    event: event.to_string(),
                    minutes,
                    rule_id,
                    script_id,
                }
            }
            "webhook" => {
                only_keys(p, o, &["type"])?;
                Trigger::Webhook
            }
            "manual" => {
                only_keys(p, o, &["type"])?;
                Trigger::Manual
            }
            _ => {
                return Err(bad(
                    "trigger.type",
                    format!("must be one of: {}", TRIGGER_TYPES.join(", ")),
                ));
            }
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Trigger::Schedule { .. } => "schedule",
            Trigger::Event { .. } => "event",
            Trigger::Webhook => "webhook",
            Trigger::Manual => "manual",
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Trigger::Schedule {
                cron,
                timezone,
                missed,
            } => json!({"type": "schedule", "cron": cron, "timezone": timezone,
                "missed": if *missed == Missed::Skip { "skip" } else { "run_once" }}),
            Trigger::Event {
                event,
                minutes,
                rule_id,
                script_id,
            } => {
                let mut m = Map::new();
                m.insert("type".into(), json!("event"));
                m.insert("event".into(), json!(event));
                if let Some(x) = minutes {
                    m.insert("minutes".into(), json!(x));
                }
                if let Some(x) = rule_id {
                    m.insert("rule_id".into(), json!(x));
                }
                if let Some(x) = script_id {
                    m.insert("script_id".into(), json!(x));
                }
                Value::Object(m)
            }
            Trigger::Webhook => json!({"type": "webhook"}),
            Trigger::Manual => json!({"type": "manual"}),
        }
    }
}

// ---------------------------------------------------------------- conditions

#[derive(Clone, Debug, PartialEq)]
pub struct TimeWindow {
    /// ISO weekdays, 1 = Monday.
    pub days: Vec<u32>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub timezone: chrono_tz::Tz,
}

impl TimeWindow {
    /// Whether `at` falls inside the window (an end before the start spans midnight; the
    /// day is the one the window started on).
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.timezone);
        let t = local.time();
        let day = local.weekday().number_from_monday();
        let prev = if day == 1 { 7 } else { day - 1 };
        let has = |d: u32| self.days.is_empty() || self.days.contains(&d);
        if self.start <= self.end {
            has(day) && t >= self.start && t < self.end
        } else {
            (has(day) && t >= self.start) || (has(prev) && t < self.end)
        }
    }
}

/// Per-device filters and a time window, checked when a run starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions {
    pub os_types: Vec<String>,
    pub status: Vec<String>,
    pub site_ids: Vec<breeze_proto::ids::SiteId>,
    pub tags: Vec<String>,
    pub time_window: Option<TimeWindow>,
}

/// A device as conditions see it.
pub struct DeviceView<'a> {
    pub os_type: &'a str,
    pub status: &'a str,
    pub site_id: breeze_proto::ids::SiteId,
    pub tags: &'a [String],
}

impl Conditions {
    pub fn parse(v: &Value) -> Result<Option<(Self, Value)>, ApiError> {
        if v.is_null() {
            return Ok(None);
        }
        let p = "conditions";
        let o = obj(p, v)?;
        only_keys(
            p,
            o,
            &["os_types", "status", "site_ids", "tags", "time_window"],
        )?;
        let mut c = Conditions {
            os_types: strings("conditions.os_types", o.get("os_types"), 20)?,
            status: strings("conditions.status", o.get("status"), 40)?,
            tags: strings("conditions.tags", o.get("tags"), 100)?,
            ..Default::default()
        };
        for (i, os) in c.os_types.iter().enumerate() {
            if !breeze_proto::api::vocab::OS_TYPES.contains(&os.as_str()) {
                return Err(bad(
                    format!("conditions.os_types[{i}]"),
                    format!(
                        "must be one of: {}",
                        breeze_proto::api::vocab::OS_TYPES.join(", ")
                    ),
                ));
            }
        }
        for (i, s) in strings("conditions.site_ids", o.get("site_ids"), 64)?
            .iter()
            .enumerate()
        {
            c.site_ids.push(
                s.parse()
                    .map_err(|_| bad(format!("conditions.site_ids[{i}]"), "must be an id"))?,
            );
        }
        if let Some(w) = o.get("time_window").filter(|w| !w.is_null()) {
            let p = "conditions.time_window";
            let wo = obj(p, w)?;
            only_keys(p, wo, &["days", "start", "end", "timezone"])?;
            let mut days = Vec::new();
            if let Some(d) = wo.get("days").filter(|d| !d.is_null()) {
                let a = d
                    .as_array()
                    .ok_or_else(|| bad("conditions.time_window.days", "must be an array"))?;
                for (i, x) in a.iter().enumerate() {
                    match x.as_u64() {
                        Some(n @ 1..=7) => days.push(n as u32),
                        _ => {
                            return Err(bad(
                                format!("conditions.time_window.days[{i}]"),
                                "must be 1 (Monday) to 7 (Sunday)",
                            ));
                        }
                    }
                }
            }
            let time = |k: &str| -> Result<NaiveTime, ApiError> {
                let s = str_field(p, wo, k)?;
                NaiveTime::parse_from_str(s, "%H:%M")
                    .map_err(|_| bad(format!("{p}.{k}"), "must be HH:MM"))
            };
            let start = time("start")?;
            let end = time("end")?;
            if start == end {
                return Err(bad(
                    "conditions.time_window.end",
                    "must differ from the start",
                ));
            }
            let zone = match wo.get("timezone").and_then(Value::as_str) {
                Some(z) => tz("conditions.time_window.timezone", z)?,
                None => chrono_tz::UTC,
            };
            c.time_window = Some(TimeWindow {
                days,
                start,
                end,
                timezone: zone,
            });
        }
        let canon = c.to_json();
        Ok(Some((c, canon)))
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if !self.os_types.is_empty() {
            m.insert("os_types".into(), json!(self.os_types));
        }
        if !self.status.is_empty() {
            m.insert("status".into(), json!(self.status));
        }
        if !self.site_ids.is_empty() {
            m.insert("site_ids".into(), json!(self.site_ids));
        }
        if !self.tags.is_empty() {
            m.insert("tags".into(), json!(self.tags));
        }
        if let Some(w) = &self.time_window {
            m.insert(
                "time_window".into(),
                json!({"days": w.days, "start": w.start.format("%H:%M").to_string(),
                    "end": w.end.format("%H:%M").to_string(), "timezone": w.timezone.name()}),
            );
        }
        Value::Object(m)
    }

    /// Why the device does not match, or `None` when it does.
    pub fn skip_reason(&self, d: &DeviceView<'_>, now: DateTime<Utc>) -> Option<String> {
        if let Some(w) = &self.time_window
            && !w.contains(now)
        {
            return Some("outside the time window".into());
        }
        if !self.os_types.is_empty() && !self.os_types.iter().any(|o| o == d.os_type) {
            return Some(format!(
                "OS {} is not among the conditions' OS types",
                d.os_type
            ));
        }
        if !self.status.is_empty() && !self.status.iter().any(|s| s == d.status) {
            return Some(format!(
                "status {} is not among the conditions' statuses",
                d.status
            ));
        }
        if !self.site_ids.is_empty() && !self.site_ids.contains(&d.site_id) {
            return Some("the device's site is not among the conditions' sites".into());
        }
        if let Some(t) = self.tags.iter().find(|t| !d.tags.contains(t)) {
            return Some(format!("the device lacks tag {t}"));
        }
        None
    }
}

// ---------------------------------------------------------------- actions

#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    ExitCode { eq: bool, value: i64 },
    OutputContains(String),
}

impl Test {
    /// Evaluates on the previous step's exit code and output.
    pub fn holds(&self, exit_code: Option<i64>, output: Option<&str>) -> bool {
        match self {
            Test::ExitCode { eq, value } => match exit_code {
                Some(c) => (c == *value) == *eq,
                None => false,
            },
            Test::OutputContains(s) => output.is_some_and(|o| o.contains(s.as_str())),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    RunScript {
        script_id: ScriptId,
        parameters: Map<String, Value>,
        timeout_seconds: Option<u64>,
    },
    Notify {
        channel_ids: Vec<NotificationChannelId>,
        message: String,
    },
    UpdateDevice {
        tags_add: Vec<String>,
        tags_remove: Vec<String>,
        display_name: Option<String>,
    },
    RunAutomation {
        automation_id: AutomationId,
    },
    Wait {
        seconds: u64,
    },
    Condition {
        test: Test,
        then: Vec<Action>,
        otherwise: Vec<Action>,
    },
}

impl Action {
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::RunScript { .. } => "run_script",
            Action::Notify { .. } => "notify",
            Action::UpdateDevice { .. } => "update_device",
            Action::RunAutomation { .. } => "run_automation",
            Action::Wait { .. } => "wait",
            Action::Condition { .. } => "condition",
        }
    }
}

/// Parses the action list (`actions`). Answers the checked actions and their canonical
/// JSON; the run_script parameters are checked later against each script's schema.
pub fn parse_actions(v: &[Value]) -> Result<(Vec<Action>, Vec<Value>), ApiError> {
    if v.is_empty() {
        return Err(bad("actions", "name at least one action"));
    }
    let mut count = 0;
    let actions = parse_list("actions", v, 0, &mut count)?;
    let canon = actions.iter().map(action_json).collect();
    Ok((actions, canon))
}

/// Parses stored (already checked) actions.
pub fn stored_actions(v: &[Value]) -> anyhow::Result<Vec<Action>> {
    let mut count = 0;
    parse_list("actions", v, 0, &mut count)
        .map_err(|e| anyhow::anyhow!("stored actions do not parse: {e}"))
}

fn parse_list(
    path: &str,
    v: &[Value],
    depth: usize,
    count: &mut usize,
) -> Result<Vec<Action>, ApiError> {
    let mut out = Vec::with_capacity(v.len());
    for (i, a) in v.iter().enumerate() {
        *count += 1;
        if *count > MAX_ACTIONS {
            return Err(bad(
                "actions",
                format!("at most {MAX_ACTIONS} actions in all"),
            ));
        }
        out.push(parse_action(&format!("{path}[{i}]"), a, depth, count)?);
    }
    Ok(out)
}

fn parse_action(p: &str, v: &Value, depth: usize, count: &mut usize) -> Result<Action, ApiError> {
    let o = obj(p, v)?;
    let t = str_field(p, o, "type")?;
    Ok(match t {
        "run_script" => {
            only_keys(
                p,
                o,
                &["type", "script_id", "parameters", "timeout_seconds"],
            )?;
            let parameters = match o.get("parameters") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m.clone(),
                Some(_) => return Err(bad(format!("{p}.parameters"), "must be an object")),
            };
            let timeout_seconds = match o.get("timeout_seconds") {
                None | Some(Value::Null) => None,
                Some(x) => match x.as_u64() {
                    Some(s @ 1..=86400) => Some(s),
                    _ => return Err(bad(format!("{p}.timeout_seconds"), "must be 1..=86400")),
                },
            };
            Action::RunScript {
                script_id: uuid_field(p, o, "script_id")?,
                parameters,
                timeout_seconds,
            }
        }
        "notify" => {
            only_keys(p, o, &["type", "channel_ids", "message"])?;
            let ids = strings(&format!("{p}.channel_ids"), o.get("channel_ids"), 64)?;
            if ids.is_empty() {
                return Err(bad(format!("{p}.channel_ids"), "name at least one channel"));
            }
            let mut channel_ids = Vec::new();
            for (i, s) in ids.iter().enumerate() {
                channel_ids.push(
                    s.parse()
                        .map_err(|_| bad(format!("{p}.channel_ids[{i}]"), "must be an id"))?,
                );
            }
            let message = str_field(p, o, "message")?;
            if message.trim().is_empty() || message.len() > 2000 {
                return Err(bad(format!("{p}.message"), "must be 1 to 2000 characters"));
            }
            Action::Notify {
                channel_ids,
                message: message.to_string(),
            }
        }
        "update_device" => {
            only_keys(p, o, &["type", "tags_add", "tags_remove", "display_name"])?;
            let tags_add = strings(&format!("{p}.tags_add"), o.get("tags_add"), 100)?;
            let tags_remove = strings(&format!("{p}.tags_remove"), o.get("tags_remove"), 100)?;
            let display_name = match o.get("display_name") {
                None | Some(Value::Null) => None,
                Some(_) => {
                    let n = str_field(p, o, "display_name")?;
                    Some(
                        breeze_core::validate::name(&format!("{p}.display_name"), n, 200)
                            .map_err(ApiError::from)?,
                    )
                }
            };
            if tags_add.is_empty() && tags_remove.is_empty() && display_name.is_none() {
                return Err(bad(
                    p.to_string(),
                    "name tags_add, tags_remove or display_name",
                ));
            }
            Action::UpdateDevice {
                tags_add,
                tags_remove,
                display_name,
            }
        }
        "run_automation" => {
            only_keys(p, o, &["type", "automation_id"])?;
            Action::RunAutomation {
                automation_id: uuid_field(p, o, "automation_id")?,
            }
        }
        "wait" => {
            only_keys(p, o, &["type", "seconds"])?;
            match o.get("seconds").and_then(Value::as_u64) {
                Some(s @ 1..=MAX_WAIT_SECONDS) => Action::Wait { seconds: s },
                _ => {
                    return Err(bad(
                        format!("{p}.seconds"),
                        format!("must be 1..={MAX_WAIT_SECONDS}"),
                    ));
                }
            }
        }
        "condition" => {
            only_keys(p, o, &["type", "if", "then", "else"])?;
            if depth + 1 > MAX_NESTING {
                return Err(bad(
                    p.to_string(),
                    format!("conditions nest at most {MAX_NESTING} deep"),
                ));
            }
            let ip = format!("{p}.if");
            let io = obj(&ip, o.get("if").unwrap_or(&Value::Null))?;
            let test = if let Some(e) = io.get("exit_code") {
                only_keys(&ip, io, &["exit_code"])?;
                let eo = obj(&format!("{ip}.exit_code"), e)?;
                let (k, val) = match (eo.get("eq"), eo.get("ne")) {
                    (Some(v), None) => (true, v),
                    (None, Some(v)) => (false, v),
                    _ => {
                        return Err(bad(
                            format!("{ip}.exit_code"),
                            "must be {\"eq\": N} or {\"ne\": N}",
                        ));
                    }
                };
                let value = val.as_i64().ok_or_else(|| {
                    bad(format!("{ip}.exit_code"), "must compare with an integer")
                })?;
                Test::ExitCode { eq: k, value }
            } else if let Some(s) = io.get("output_contains") {
                only_keys(&ip, io, &["output_contains"])?;
                match s.as_str() {
                    Some(s) if !s.is_empty() && s.len() <= 1000 => {
                        Test::OutputContains(s.to_string())
                    }
                    _ => {
                        return Err(bad(
                            format!("{ip}.output_contains"),
                            "must be 1 to 1000 characters",
                        ));
                    }
                }
            } else {
                return Err(bad(
                    ip,
                    "must be {\"exit_code\": {...}} or {\"output_contains\": \"...\"}",
                ));
            };
            let branch = |k: &str, count: &mut usize| -> Result<Vec<Action>, ApiError> {
                match o.get(k) {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::Array(a)) => parse_list(&format!("{p}.{k}"), a, depth + 1, count),
                    Some(_) => Err(bad(format!("{p}.{k}"), "must be an array of actions")),
                }
            };
            let then = branch("then", count)?;
            let otherwise = branch("else", count)?;
            Action::Condition {
                test,
                then,
                otherwise,
            }
        }
        _ => {
            return Err(bad(
                format!("{p}.type"),
                format!("must be one of: {}", ACTION_TYPES.join(", ")),
            ));
        }
    })
}

pub fn action_json(a: &Action) -> Value {
    match a {
        Action::RunScript {
            script_id,
            parameters,
            timeout_seconds,
        } => {
            let mut m = Map::new();
            m.insert("type".into(), json!("run_script"));
            m.insert("script_id".into(), json!(script_id));
            m.insert("parameters".into(), Value::Object(parameters.clone()));
            if let Some(t) = timeout_seconds {
                m.insert("timeout_seconds".into(), json!(t));
            }
            Value::Object(m)
        }
        Action::Notify {
            channel_ids,
            message,
        } => json!({"type": "notify", "channel_ids": channel_ids, "message": message}),
        Action::UpdateDevice {
            tags_add,
            tags_remove,
            display_name,
        } => {
            let mut m = Map::new();
            m.insert("type".into(), json!("update_device"));
            if !tags_add.is_empty() {
                m.insert("tags_add".into(), json!(tags_add));
            }
            if !tags_remove.is_empty() {
                m.insert("tags_remove".into(), json!(tags_remove));
            }
            if let Some(n) = display_name {
                m.insert("display_name".into(), json!(n));
            }
            Value::Object(m)
        }
        Action::RunAutomation { automation_id } => {
            json!({"type": "run_automation", "automation_id": automation_id})
        }
        Action::Wait { seconds } => json!({"type": "wait", "seconds": seconds}),
        Action::Condition {
            test,
            then,
            otherwise,
        } => {
            let cond = match test {
                Test::ExitCode { eq: true, value } => json!({"exit_code": {"eq": value}}),
                Test::ExitCode { eq: false, value } => json!({"exit_code": {"ne": value}}),
                Test::OutputContains(s) => json!({"output_contains": s}),
            };
            json!({"type": "condition", "if": cond,
                "then": then.iter().map(action_json).collect::<Vec<_>>(),
                "else": otherwise.iter().map(action_json).collect::<Vec<_>>()})
        }
    }
}

/// Every action in the tree with its API path (`actions[2].then[0]`), depth first.
pub fn walk(actions: &[Action]) -> Vec<(String, &Action)> {
    fn go<'a>(prefix: &str, list: &'a [Action], out: &mut Vec<(String, &'a Action)>) {
        for (i, a) in list.iter().enumerate() {
            let p = format!("{prefix}[{i}]");
            out.push((p.clone(), a));
            if let Action::Condition {
                then, otherwise, ..
            } = a
            {
                go(&format!("{p}.then"), then, out);
                go(&format!("{p}.else"), otherwise, out);
            }
        }
    }
    let mut out = Vec::new();
    go("actions", actions, &mut out);
    out
}

// ---------------------------------------------------------------- step paths

/// A parsed step path: top-level index, then (branch, index) pairs.
fn segments(path: &str) -> Option<(usize, Vec<(bool, usize)>)> {
    let mut parts = path.split('.');
    let first = parts.next()?.parse().ok()?;
    let mut rest = Vec::new();
    while let Some(b) = parts.next() {
        let then = match b {
            "then" => true,
            "else" => false,
            _ => return None,
        };
        rest.push((then, parts.next()?.parse().ok()?));
    }
    Some((first, rest))
}

fn render(first: usize, rest: &[(bool, usize)]) -> String {
    let mut s = first.to_string();
    for (then, i) in rest {
        s.push_str(if *then { ".then." } else { ".else." });
        s.push_str(&i.to_string());
    }
    s
}

/// The action at `path`.
pub fn at<'a>(actions: &'a [Action], path: &str) -> Option<&'a Action> {
    let (first, rest) = segments(path)?;
    let mut a = actions.get(first)?;
    for (then, i) in rest {
        let Action::Condition {
            then: t,
            otherwise: e,
            ..
        } = a
        else {
            return None;
        };
        a = if then { t.get(i)? } else { e.get(i)? };
    }
    Some(a)
}

/// The first step of the tree (`None`: no steps).
pub fn first(actions: &[Action]) -> Option<String> {
    (!actions.is_empty()).then(|| "0".to_string())
}

/// The step after `path` once it is done (a condition's branch was not entered): its next
/// sibling, or the step after the enclosing condition, or `None` at the end.
pub fn next_after(actions: &[Action], path: &str) -> Option<String> {
    let (first, mut rest) = segments(path)?;
    loop {
        match rest.pop() {
            None => {
                return (first + 1 < actions.len()).then(|| (first + 1).to_string());
            }
            Some((then, i)) => {
                let parent = render(first, &rest);
                if let Some(Action::Condition {
                    then: t,
                    otherwise: e,
                    ..
                }) = at(actions, &parent)
                {
                    let list = if then { t } else { e };
                    if i + 1 < list.len() {
                        let mut r = rest.clone();
                        r.push((then, i + 1));
                        return Some(render(first, &r));
                    }
                }
                // Branch finished: continue after the condition itself.
            }
        }
    }
}

/// The first step of a condition's branch, or the step after the condition when the
/// branch is empty.
pub fn enter_branch(actions: &[Action], path: &str, then: bool) -> Option<String> {
    match at(actions, path) {
        Some(Action::Condition {
            then: t,
            otherwise: e,
            ..
        }) if !(if then { t } else { e }).is_empty() => {
            Some(format!("{path}.{}.0", if then { "then" } else { "else" }))
        }
        _ => next_after(actions, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Vec<Action> {
        let v = vec![
            json!({"type": "wait", "seconds": 1}),
            json!({"type": "condition", "if": {"exit_code": {"eq": 0}},
                "then": [{"type": "wait", "seconds": 2}, {"type": "wait", "seconds": 3}],
                "else": [{"type": "condition", "if": {"output_contains": "x"}, "then": [{"type": "wait", "seconds": 4}]}]}),
            json!({"type": "wait", "seconds": 5}),
        ];
        match parse_actions(&v) {
            Ok((a, _)) => a,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn paths_walk_the_tree() {
        let t = tree();
        assert_eq!(first(&t).as_deref(), Some("0"));
        assert_eq!(next_after(&t, "0").as_deref(), Some("1"));
        assert_eq!(enter_branch(&t, "1", true).as_deref(), Some("1.then.0"));
        assert_eq!(next_after(&t, "1.then.0").as_deref(), Some("1.then.1"));
        assert_eq!(next_after(&t, "1.then.1").as_deref(), Some("2"));
        assert_eq!(enter_branch(&t, "1", false).as_deref(), Some("1.else.0"));
        // An empty else branch continues after the condition.
        assert_eq!(enter_branch(&t, "1.else.0", false).as_deref(), Some("2"));
        assert_eq!(next_after(&t, "1.else.0.then.0").as_deref(), Some("2"));
        assert_eq!(next_after(&t, "2"), None);
        assert_eq!(
            at(&t, "1.else.0.then.0"),
            Some(&Action::Wait { seconds: 4 })
        );
    }

    #[test]
    fn errors_name_the_part() {
        let e = parse_actions(
            &[json!({"type": "condition", "if": {"exit_code": {"eq": 0}},
            "then": [{"type": "wait", "seconds": 0}]})],
        );
        assert!(
            matches!(e, Err(ApiError::Validation { ref field, .. }) if field == "actions[0].then[0].seconds"),
            "{e:?}"
        );
        let e = parse_actions(&[json!({"type": "reboot"})]);
        assert!(
            matches!(e, Err(ApiError::Validation { ref field, .. }) if field == "actions[0].type")
        );
        let many: Vec<Value> = (0..51)
            .map(|_| json!({"type": "wait", "seconds": 1}))
            .collect();
        assert!(parse_actions(&many).is_err());
        let e = Trigger::parse(&json!({"type": "event", "event": "device.rebooted"}));
        assert!(
            matches!(e, Err(ApiError::Validation { ref field, .. }) if field == "trigger.event")
        );
    }

    #[test]
    fn tests_and_windows() {
        assert!(Test::ExitCode { eq: true, value: 0 }.holds(Some(0), None));
        assert!(!Test::ExitCode { eq: true, value: 0 }.holds(Some(1), None));
        assert!(
            Test::ExitCode {
                eq: false,
                value: 0
            }
            .holds(Some(1), None)
        );
        assert!(Test::OutputContains("ok".into()).holds(None, Some("all ok")));
        let w = TimeWindow {
            days: vec![1],
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default(),
            timezone: chrono_tz::Europe::Berlin,
        };
        // Monday 2026-03-02 07:30 UTC is 08:30 in Berlin.
        let mon = DateTime::parse_from_rfc3339("2026-03-02T07:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        assert!(w.contains(mon));
        assert!(!w.contains(mon - chrono::Duration::hours(1)));
        assert!(!w.contains(mon + chrono::Duration::days(1)));
    }
}
