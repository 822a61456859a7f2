//! Running processes with their user, CPU and memory.

use breeze_proto::agent::ProcessInfo;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

/// Samples processes twice, `interval` apart, so CPU use is meaningful.
pub fn collect(sys: &mut System) -> Vec<ProcessInfo> {
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_user(UpdateKind::OnlyIfNotSet);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let users = Users::new_with_refreshed_list().ok();
    let mut out: Vec<ProcessInfo> = sys
        .processes()
        .values()
        .filter(|p| p.thread_kind().is_none())
        .map(|p| ProcessInfo {
            pid: p.pid().as_u32(),
            name: p.name().to_string_lossy().into_owned(),
            user: p
                .user_id()
                .and_then(|uid| users.as_ref()?.get_user_by_id(uid))
                .map(|u| u.name().to_string()),
            cpu_percent: (p.cpu_usage() * 10.0).round() / 10.0,
            memory_bytes: p.memory(),
        })
        .collect();
    out.sort_by_key(|p| p.pid);
    out
}
