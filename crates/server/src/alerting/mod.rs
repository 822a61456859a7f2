//! The alert engine (issue 11): evaluates rules on metric ingest, inventory changes and a
//! Clock-driven sweep, raises and auto-resolves alerts, and tells the console (live
//! events), the audit log and the notifier.
//!
//! - Rules live in an in-memory [`index::Index`] (per organization, by metric), loaded on
//!   first use and reloaded after any rule change.
//! - Metric windows: per rule × device × condition the time the metric started breaching
//!   and the samples since; a sample that does not breach (or a gap longer than three
//!   heartbeat intervals) resets it. A condition with `duration_minutes` holds once the
//!   metric breached on every sample for that long; 0 fires on the first breaching sample.
//! - Status (offline, no data) conditions: [`Engine::sweep`], run by the jobs sweep, and
//!   on the heartbeat that brings an offline device back.
//! - Software conditions: on an inventory upload that changes the software list. They are
//!   events: such alerts are resolved by a person, never automatically.
//! - Which rules have an open alert on which device is remembered (loaded with the index)
//!   so a clearing condition resolves without a query per heartbeat; the store's unique
//!   index stays the arbiter (a stale memory only costs a no-op statement).
//!
//! The engine's memory is per process: with several replicas each evaluates the
//! heartbeats it receives; the store keeps one open alert per rule × device whatever
//! replica raises it.

pub mod index;
pub mod templates;

use crate::audit::AuditEvent;
use crate::notify::alerts::{AlertEvent, alert_event};
use crate::state::AppState;
use breeze_core::DeviceCoords;
use breeze_core::alerts::{Condition, SoftwareAction, TargetFacts, glob_matches};
use breeze_proto::agent::Metrics;
use breeze_proto::api::{self, Alert, LiveEvent};
use breeze_proto::ids::{AlertRuleId, DeviceGroupId, DeviceId, OrgId};
use breeze_store::alerts::{self as store, NewAlert, Raised, Resolver};
use chrono::{DateTime, Duration, Utc};
use index::{Index, LoadedRule};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A metric condition's window on one device.
#[derive(Clone, Copy, Debug)]
struct Breach {
    since: DateTime<Utc>,
    last_at: DateTime<Utc>,
    samples: u32,
    value: f64,
}

#[derive(Debug, Default)]
struct PairState {
    /// Per condition (depth-first leaf index): its window, while it breaches.
    breaches: HashMap<usize, Breach>,
    /// No new alert before this (the rule's cooldown after its last alert resolved).
    cooldown_until: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
struct Facts {
    os_type: String,
    groups: Vec<DeviceGroupId>,
    generation: u64,
    loaded: std::time::Instant,
}

/// How long cached device facts (OS, group memberships) are trusted without a change
/// notice (dynamic groups follow inventory, which sends none).
const FACTS_TTL: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Default)]
pub struct Engine {
    index: RwLock<Option<Arc<Index>>>,
    /// Bumped by every rule change; a load started before a bump is not kept.
    rules_generation: AtomicU64,
    /// Bumped when group memberships or sites change.
    targets_generation: AtomicU64,
    open: Mutex<HashSet<(AlertRuleId, DeviceId)>>,
    open_loaded: std::sync::atomic::AtomicBool,
    pairs: Mutex<HashMap<(AlertRuleId, DeviceId), PairState>>,
    facts: Mutex<HashMap<DeviceId, Facts>>,
    /// The latest heartbeat metrics of devices the engine looked at (for rule tests).
    last_metrics: Mutex<HashMap<DeviceId, (DateTime<Utc>, Metrics)>>,
    /// The other replicas, told to drop the same caches (set once by `App::build`).
    cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A device as the engine sees it.
#[derive(Clone, Debug)]
pub struct DeviceRef<'a> {
    pub at: DeviceCoords,
    pub hostname: &'a str,
    pub status: &'a str,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// What evaluating one rule on one device decided.
enum Verdict {
    Fire { context: Value },
    Clear,
    Nothing,
}

impl Engine {
    /// The rule index, loaded from the store on first use (and after each rule change).
    pub async fn index(&self, state: &AppState) -> anyhow::Result<Arc<Index>> {
        if let Some(i) = self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(i.clone());
        }
        let generation = self.rules_generation.load(Ordering::SeqCst);
        let rules = breeze_store::alert_rules::enabled_for_system(&state.db).await?;
        let idx = Arc::new(Index::build(rules));
        if !self.open_loaded.load(Ordering::SeqCst) {
            let pairs = store::open_pairs_for_system(&state.db).await?;
            lock(&self.open).extend(pairs);
            self.open_loaded.store(true, Ordering::SeqCst);
        }
        if self.rules_generation.load(Ordering::SeqCst) == generation {
            *self.index.write().unwrap_or_else(|e| e.into_inner()) = Some(idx.clone());
        }
        Ok(idx)
    }

    /// Tells the engine which cluster to notify of cache changes (once, at start-up).
    pub fn set_cluster(&self, cluster: Arc<crate::cluster::Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    fn fan_out(&self, what: crate::cluster::Invalidate) {
        if let Some(c) = self.cluster.get() {
            c.invalidate(what);
        }
    }

    /// A rule was created, changed or deleted: reload the index, and forget the rule's
    /// windows (its conditions may have changed), here and on the other replicas.
    pub fn rule_changed(&self, rule: AlertRuleId) {
        self.rule_changed_local(rule);
        self.fan_out(crate::cluster::Invalidate::AlertRule { rule });
    }

    fn rule_changed_local(&self, rule: AlertRuleId) {
        self.rules_generation.fetch_add(1, Ordering::SeqCst);
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = None;
        lock(&self.pairs).retain(|(r, _), _| *r != rule);
    }

    /// Group memberships changed: re-read every device's facts when next needed.
    pub fn targets_changed(&self) {
        self.targets_generation.fetch_add(1, Ordering::SeqCst);
        self.fan_out(crate::cluster::Invalidate::AlertTargets);
    }

    /// One device's tags or site changed: re-read its facts (and no other device's) when
    /// next needed.
    pub fn device_changed(&self, device: DeviceId) {
        lock(&self.facts).remove(&device);
        self.fan_out(crate::cluster::Invalidate::AlertDevice { device });
    }

    /// Another replica changed what a cache here holds.
    pub fn invalidate_local(&self, what: &crate::cluster::Invalidate) {
        use crate::cluster::Invalidate;
        match *what {
            Invalidate::AlertRule { rule } => self.rule_changed_local(rule),
            Invalidate::AlertTargets => {
                self.targets_generation.fetch_add(1, Ordering::SeqCst);
            }
            Invalidate::AlertDevice { device } => {
                lock(&self.facts).remove(&device);
            }
        }
    }

    /// An alert was resolved by a person: forget that it is open and start its rule's
    /// cooldown.
    pub fn resolved(&self, alert: &Alert) {
        let Some(rule) = alert.rule_id else { return };
        let key = (rule, alert.device_id);
        lock(&self.open).remove(&key);
        let cooldown = self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|i| {
                i.orgs
                    .get(&alert.org_id)?
                    .rules
                    .iter()
                    .find(|r| r.rule.id == rule)
                    .map(|r| r.rule.cooldown_minutes)
            });
        if let (Some(at), Some(c)) = (alert.resolved_at, cooldown) {
            lock(&self.pairs).entry(key).or_default().cooldown_until =
                Some(at + Duration::minutes(c));
        }
    }

    async fn facts(
        &self,
        state: &AppState,
        device: DeviceId,
    ) -> anyhow::Result<(String, Vec<DeviceGroupId>)> {
        let generation = self.targets_generation.load(Ordering::SeqCst);
        if let Some(f) = lock(&self.facts).get(&device)
            && f.generation == generation
            && f.loaded.elapsed() < FACTS_TTL
        {
            return Ok((f.os_type.clone(), f.groups.clone()));
        }
        let store::DeviceTargets { os_type, groups } =
            store::targets_of_device_for_system(&state.db, device).await?;
        lock(&self.facts).insert(
            device,
            Facts {
                os_type: os_type.clone(),
                groups: groups.clone(),
                generation,
                loaded: std::time::Instant::now(),
            },
        );
        Ok((os_type, groups))
    }

    /// Whether `rule` targets the device (reading its OS and groups only when the rule's
    /// targets need them).
    async fn targets(
        &self,
        state: &AppState,
        rule: &LoadedRule,
        at: &DeviceCoords,
        known_os: Option<&str>,
    ) -> anyhow::Result<bool> {
        let t = &rule.targets;
        if t.all {
            return Ok(true);
        }
        let quick = TargetFacts {
            device_id: at.device_id,
            site_id: at.site_id,
            os_type: known_os.unwrap_or(""),
            group_ids: &[],
        };
        let needs_os = !t.os_types.is_empty() && known_os.is_none();
        if !t.needs_groups() && !needs_os {
            return Ok(t.matches(&quick));
        }
        let (os, groups) = self.facts(state, at.device_id).await?;
        Ok(t.matches(&TargetFacts {
            os_type: known_os.unwrap_or(&os),
            group_ids: &groups,
            ..quick
        }))
    }

    /// A heartbeat's metrics (called after the heartbeat is stored). `was_offline`: the
    /// device came back with it, so its status conditions are looked at too.
    pub async fn on_heartbeat(
        &self,
        state: &AppState,
        dev: &DeviceRef<'_>,
        metrics: &Metrics,
        was_offline: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let idx = self.index(state).await?;
        let Some(org) = idx.orgs.get(&dev.at.org_id) else {
            return Ok(());
        };
        let mut picked: Vec<usize> = Vec::new();
        for m in breeze_core::alerts::Metric::BUILTIN.iter() {
            if let Some(p) = org.by_metric.get(&m.name()) {
                picked.extend(p);
            }
        }
        for k in metrics.custom.keys() {
            if let Some(p) = org.by_metric.get(&format!("custom.{k}")) {
                picked.extend(p);
            }
        }
        if was_offline {
            picked.extend(&org.status);
        }
        if picked.is_empty() {
            return Ok(());
        }
        picked.sort_unstable();
        picked.dedup();
        lock(&self.last_metrics).insert(dev.at.device_id, (now, metrics.clone()));
        let max_gap = Duration::seconds(
            i64::try_from(
                state
                    .config
                    .agents
                    .heartbeat_interval_secs
                    .saturating_mul(3),
            )
            .unwrap_or(i64::MAX)
            .max(300),
        );
        for pos in picked {
            let rule = &org.rules[pos];
            if !self.targets(state, rule, &dev.at, None).await? {
                continue;
            }
            let verdict = self.judge(rule, dev, Input::Sample { metrics, max_gap }, now);
            self.act(state, rule, dev, verdict, now).await;
        }
        Ok(())
    }

    /// The software list of a device changed (`installed`/`removed`: package names).
    pub async fn on_software(
        &self,
        state: &AppState,
        dev: &DeviceRef<'_>,
        installed: &[String],
        removed: &[String],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let idx = self.index(state).await?;
        let Some(org) = idx.orgs.get(&dev.at.org_id) else {
            return Ok(());
        };
        for &pos in &org.software {
            let rule = &org.rules[pos];
            if !self.targets(state, rule, &dev.at, None).await? {
                continue;
            }
            let verdict = self.judge(rule, dev, Input::Software { installed, removed }, now);
            self.act(state, rule, dev, verdict, now).await;
        }
        Ok(())
    }

    /// Whether some rule of the organization watches software changes (so the inventory
    /// route reads the old list only then).
    pub async fn watches_software(&self, state: &AppState, org: OrgId) -> bool {
        match self.index(state).await {
            Ok(idx) => idx.orgs.get(&org).is_some_and(|o| !o.software.is_empty()),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "loading alert rules");
                false
            }
        }
    }

    /// The Clock-driven part: suppressed alerts whose time is up become active again,
    /// and offline / no-data conditions are evaluated for every device they target.
    pub async fn sweep(&self, state: &AppState) -> anyhow::Result<()> {
        let now = state.now();
        for a in store::unsuppress_due_for_system(&state.db, now).await? {
            let at = coords_of(state, &a).await?;
            record(
                state,
                &a,
                &at,
                "alert.unsuppress",
                json!({"reason": "suppression ended"}),
            )
            .await;
            publish(state, &a, &at);
        }
        let idx = self.index(state).await?;
        let orgs: Vec<OrgId> = idx
            .orgs
            .iter()
            .filter(|(_, o)| !o.status.is_empty())
            .map(|(id, _)| *id)
            .collect();
        if orgs.is_empty() {
            return Ok(());
        }
        let devices = store::devices_of_orgs_for_system(&state.db, &orgs).await?;
        for d in &devices {
            let Some(org) = idx.orgs.get(&OrgId(d.org_id)) else {
                continue;
            };
            let dev = DeviceRef {
                at: d.coords(),
                hostname: &d.hostname,
                status: &d.status,
                last_seen_at: d.last_seen_at,
            };
            for &pos in &org.status {
                let rule = &org.rules[pos];
                if !self.targets(state, rule, &dev.at, Some(&d.os_type)).await? {
                    continue;
                }
                let verdict = self.judge(rule, &dev, Input::Status, now);
                self.act(state, rule, &dev, verdict, now).await;
            }
        }
        Ok(())
    }

    /// Evaluates a rule on a device with what this event tells.
    fn judge(
        &self,
        rule: &LoadedRule,
        dev: &DeviceRef<'_>,
        input: Input<'_>,
        now: DateTime<Utc>,
    ) -> Verdict {
        let key = (rule.rule.id, dev.at.device_id);
        let mut pairs = lock(&self.pairs);
        let pair = pairs.entry(key).or_default();
        let mut contexts: Vec<Value> = Vec::new();
        let firing = rule.conditions.eval(&mut |i, leaf| {
            let (held, ctx) = leaf_holds(pair, i, leaf, dev, &input, now);
            contexts.push(ctx);
            held
        });
        let is_open = lock(&self.open).contains(&key);
        if firing {
            if is_open || pair.cooldown_until.is_some_and(|u| now < u) {
                return Verdict::Nothing;
            }
            let context = if rule.single {
                contexts.pop().unwrap_or_default()
            } else {
                json!({"match": if matches!(rule.conditions, Condition::All(_)) {"all"} else {"any"},
                    "conditions": contexts})
            };
            return Verdict::Fire { context };
        }
        // Software conditions are events: their alerts stay until a person resolves them.
        if is_open && rule.rule.auto_resolve && !rule.has_software {
            return Verdict::Clear;
        }
        Verdict::Nothing
    }

    async fn act(
        &self,
        state: &AppState,
        rule: &LoadedRule,
        dev: &DeviceRef<'_>,
        v: Verdict,
        now: DateTime<Utc>,
    ) {
        let r = match v {
            Verdict::Nothing => return,
            Verdict::Fire { context } => self.raise(state, rule, dev, context, now).await,
            Verdict::Clear => self.auto_resolve(state, rule, dev, now).await,
        };
        if let Err(e) = r {
            tracing::error!(rule = %rule.rule.id, device = %dev.at.device_id, error = format!("{e:#}"), "alert engine");
        }
    }

    async fn raise(
        &self,
        state: &AppState,
        rule: &LoadedRule,
        dev: &DeviceRef<'_>,
        context: Value,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let key = (rule.rule.id, dev.at.device_id);
        let r = &rule.rule;
        let title = format!("{}: {}", r.name, dev.hostname);
        let message = describe(&context);
        let raised = store::raise_for_system(
            &state.db,
            &NewAlert {
                org_id: r.org_id,
                rule_id: r.id,
                rule_name: r.name.clone(),
                device_id: dev.at.device_id,
                severity: r.severity.clone(),
                title,
                message,
                context: context.clone(),
                cooldown_minutes: r.cooldown_minutes,
            },
            now,
        )
        .await?;
        match raised {
            Raised::New(alert) => {
                lock(&self.open).insert(key);
                record(
                    state,
                    &alert,
                    &dev.at,
                    "alert.trigger",
                    json!({"context": context}),
                )
                .await;
                publish(state, &alert, &dev.at);
                if let Err(e) = alert_event(state, &alert, AlertEvent::Triggered).await {
                    tracing::error!(alert = %alert.id, error = format!("{e:#}"), "queueing alert notifications");
                }
            }
            Raised::AlreadyOpen => {
                lock(&self.open).insert(key);
            }
            Raised::CoolingDown { until } => {
                lock(&self.pairs).entry(key).or_default().cooldown_until = Some(until);
            }
            Raised::DeviceSilenced => {}
        }
        Ok(())
    }

    async fn auto_resolve(
        &self,
        state: &AppState,
        rule: &LoadedRule,
        dev: &DeviceRef<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let key = (rule.rule.id, dev.at.device_id);
        lock(&self.open).remove(&key);
        let Some(open) = store::open_for_system(&state.db, rule.rule.id, dev.at.device_id).await?
        else {
            return Ok(());
        };
        let alert = match store::resolve(&state.db, open.id, Resolver::Auto, None, now).await {
            Ok(a) => a,
            // Resolved meanwhile (by a person): nothing more to do.
            Err(breeze_store::StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        lock(&self.pairs).entry(key).or_default().cooldown_until =
            Some(now + Duration::minutes(rule.rule.cooldown_minutes));
        record(
            state,
            &alert,
            &dev.at,
            "alert.resolve",
            json!({"resolved_by": "auto"}),
        )
        .await;
        publish(state, &alert, &dev.at);
        if let Err(e) = alert_event(state, &alert, AlertEvent::Resolved).await {
            tracing::error!(alert = %alert.id, error = format!("{e:#}"), "queueing alert notifications");
        }
        Ok(())
    }

    /// `POST /api/v1/alert-rules/{id}/test`: the rule against current data (the latest
    /// heartbeat this process saw, else the latest stored sample; status; windows held
    /// in memory), raising and notifying nothing. Software conditions are events and
    /// never hold here.
    pub async fn test(
        &self,
        state: &AppState,
        scope: &breeze_core::Scope,
        rule: &api::AlertRule,
    ) -> Result<api::AlertRuleTestResult, crate::error::ApiError> {
        let loaded = LoadedRule::parse(rule.clone())
            .map_err(|e| crate::error::ApiError::validation(e.path, e.message))?;
        let now = state.now();
        let devices = store::devices_of_orgs_for_system(&state.db, &[rule.org_id]).await?;
        let mut out = Vec::new();
        for d in devices {
            let at = d.coords();
            let visible = match scope.reaches_device(&at) {
                breeze_core::DeviceReach::No => false,
                breeze_core::DeviceReach::Yes => true,
                breeze_core::DeviceReach::IfInGroups => {
                    let groups = store::targets_of_device_for_system(&state.db, at.device_id)
                        .await?
                        .groups;
                    scope
                        .device_groups
                        .as_ref()
                        .is_some_and(|s| groups.iter().any(|g| s.contains(g)))
                }
            };
            if !visible
                || !self
                    .targets(state, &loaded, &at, Some(&d.os_type))
                    .await
                    .map_err(crate::error::ApiError::internal)?
            {
                continue;
            }
            let remembered = lock(&self.last_metrics).get(&at.device_id).cloned();
            let sample = match remembered {
                Some(s) => Some(s),
                None => store::latest_metrics(&state.db, at.device_id).await?,
            };
            let dev = DeviceRef {
                at,
                hostname: &d.hostname,
                status: &d.status,
                last_seen_at: d.last_seen_at,
            };
            let mut pair = lock(&self.pairs)
                .get(&(rule.id, at.device_id))
                .map(|p| PairState {
                    breaches: p.breaches.clone(),
                    cooldown_until: p.cooldown_until,
                })
                .unwrap_or_default();
            let mut contexts = Vec::new();
            let input = Input::Test {
                sample: sample.as_ref(),
            };
            let firing = loaded.conditions.eval(&mut |i, leaf| {
                let (held, ctx) = leaf_holds(&mut pair, i, leaf, &dev, &input, now);
                contexts.push(json!({"held": held, "detail": ctx}));
                held
            });
            out.push(api::AlertRuleTestDevice {
                device_id: at.device_id,
                hostname: d.hostname.clone(),
                firing,
                context: json!({"status": d.status, "last_seen_at": d.last_seen_at,
                    "sampled_at": sample.as_ref().map(|s| s.0), "conditions": contexts}),
            });
            if out.len() >= 500 {
                break;
            }
        }
        Ok(api::AlertRuleTestResult {
            rule_id: rule.id,
            evaluated_devices: out.len() as i64,
            firing_devices: out.iter().filter(|d| d.firing).count() as i64,
            devices: out,
        })
    }
}

/// What an evaluation has to go on.
enum Input<'a> {
    /// A heartbeat sample: metric windows advance.
    Sample {
        metrics: &'a Metrics,
        max_gap: Duration,
    },
    /// An inventory upload changed the software list.
    Software {
        installed: &'a [String],
        removed: &'a [String],
    },
    /// The sweep: status conditions; metric windows as they stand.
    Status,
    /// A rule test: the latest sample without advancing windows.
    Test {
        sample: Option<&'a (DateTime<Utc>, Metrics)>,
    },
}

/// Whether condition `i` holds, and what it saw.
fn leaf_holds(
    pair: &mut PairState,
    i: usize,
    leaf: &Condition,
    dev: &DeviceRef<'_>,
    input: &Input<'_>,
    now: DateTime<Utc>,
) -> (bool, Value) {
    match leaf {
        Condition::Metric(t) => {
            let window = t.duration_minutes;
            let held_by = |b: &Breach| now - b.since >= Duration::minutes(window as i64);
            let mut ctx = json!({"metric": t.metric.name(), "operator": t.operator.as_str(),
                "threshold": t.value, "window_minutes": window});
            match input {
                Input::Sample { metrics, max_gap } => {
                    let Some(v) = t.metric.value(metrics) else {
                        pair.breaches.remove(&i);
                        ctx["value"] = Value::Null;
                        return (false, ctx);
                    };
                    ctx["value"] = json!(v);
                    if !t.operator.holds(v, t.value) {
                        pair.breaches.remove(&i);
                        return (false, ctx);
                    }
                    let b = pair
                        .breaches
                        .entry(i)
                        .and_modify(|b| {
                            if now - b.last_at > *max_gap {
                                // A gap in the samples: the window starts again.
                                *b = Breach {
                                    since: now,
                                    last_at: now,
                                    samples: 0,
                                    value: v,
                                };
                            }
                            b.samples += 1;
                            b.last_at = now;
                            b.value = v;
                        })
                        .or_insert(Breach {
                            since: now,
                            last_at: now,
                            samples: 1,
                            value: v,
                        });
                    ctx["samples"] = json!(b.samples);
                    ctx["breaching_since"] = json!(b.since);
                    (held_by(b), ctx)
                }
                Input::Test { sample } => {
                    let v = sample.and_then(|(_, m)| t.metric.value(m));
                    ctx["value"] = json!(v);
                    let now_breaching = v.is_some_and(|v| t.operator.holds(v, t.value));
                    let b = pair.breaches.get(&i);
                    if let Some(b) = b {
                        ctx["samples"] = json!(b.samples);
                        ctx["breaching_since"] = json!(b.since);
                    }
                    (
                        now_breaching && (window == 0 || b.is_some_and(held_by)),
                        ctx,
                    )
                }
                Input::Status | Input::Software { .. } => match pair.breaches.get(&i) {
                    Some(b) => {
                        ctx["value"] = json!(b.value);
                        ctx["samples"] = json!(b.samples);
                        ctx["breaching_since"] = json!(b.since);
                        (held_by(b), ctx)
                    }
                    None => (false, ctx),
                },
            }
        }
        Condition::Offline { duration_minutes } => {
            let ctx = json!({"condition": "offline", "status": dev.status,
                "last_seen_at": dev.last_seen_at, "window_minutes": duration_minutes});
            let held = dev.status == "offline"
                && dev
                    .last_seen_at
                    .is_some_and(|t| now - t >= Duration::minutes(*duration_minutes as i64));
            (held && !matches!(input, Input::Sample { .. }), ctx)
        }
        Condition::NoData { duration_minutes } => {
            let ctx = json!({"condition": "no_data", "last_seen_at": dev.last_seen_at,
                "window_minutes": duration_minutes});
            let held = dev
                .last_seen_at
                .is_some_and(|t| now - t >= Duration::minutes(*duration_minutes as i64));
            (held && !matches!(input, Input::Sample { .. }), ctx)
        }
        Condition::Software { action, pattern } => {
            let names: &[String] = match (input, action) {
                (Input::Software { installed, .. }, SoftwareAction::Installed) => installed,
                (Input::Software { removed, .. }, SoftwareAction::Removed) => removed,
                _ => &[],
            };
            let hits: Vec<&String> = names.iter().filter(|n| glob_matches(pattern, n)).collect();
            let ctx = json!({"condition": "software_change", "action": action.as_str(),
                "name_pattern": pattern, "names": hits});
            (!hits.is_empty(), ctx)
        }
        Condition::All(_) | Condition::Any(_) => (false, Value::Null),
    }
}

/// A one-line account of a context, for the alert's message.
fn describe(ctx: &Value) -> Option<String> {
    let one = |c: &Value| -> Option<String> {
        if let Some(m) = c.get("metric").and_then(Value::as_str) {
            let op = c.get("operator").and_then(Value::as_str).unwrap_or("?");
            return Some(format!(
                "{m} {} {op} {} (window {} min)",
                c.get("value").map(ToString::to_string).unwrap_or_default(),
                c.get("threshold")
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                c.get("window_minutes")
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ));
        }
        match c.get("condition").and_then(Value::as_str)? {
            "offline" => Some(format!(
                "offline for at least {} min",
                c.get("window_minutes")
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )),
            "no_data" => Some(format!(
                "no data for at least {} min",
                c.get("window_minutes")
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )),
            "software_change" => Some(format!(
                "software {}: {}",
                c.get("action").and_then(Value::as_str).unwrap_or("changed"),
                c.get("names").map(ToString::to_string).unwrap_or_default()
            )),
            _ => None,
        }
    };
    match ctx.get("conditions").and_then(Value::as_array) {
        Some(list) => {
            let parts: Vec<String> = list.iter().filter_map(one).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        None => one(ctx),
    }
}

/// Where an alert's device sits (for events and audit rows).
pub async fn coords_of(state: &AppState, a: &Alert) -> anyhow::Result<DeviceCoords> {
    Ok(store::device_for_system(&state.db, a.device_id)
        .await?
        .coords())
}

/// `alert.updated` to the streams that may see the device.
pub fn publish(state: &AppState, a: &Alert, at: &DeviceCoords) {
    state.events.publish(
        *at,
        &LiveEvent::AlertUpdated {
            alert_id: a.id,
            rule_id: a.rule_id,
            device_id: a.device_id,
            org_id: a.org_id,
            site_id: at.site_id,
            status: a.status.clone(),
            severity: a.severity.clone(),
        },
    );
}

/// An audit row for a change the engine made (actor: the system).
async fn record(state: &AppState, a: &Alert, at: &DeviceCoords, action: &str, details: Value) {
    let ev = AuditEvent::new(action, "alert")
        .partner(Some(at.partner_id))
        .org(Some(a.org_id))
        .device(at.site_id, a.device_id)
        .resource(a.id, Some(&a.title))
        .details(details);
    if let Err(e) = state.record(ev, None).await {
        tracing::error!(alert = %a.id, error = %e, "auditing an alert change");
    }
}
