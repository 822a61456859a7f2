//! Running processes and logged-in users of a device: the latest snapshot its agent sent
//! (one JSON document per section), served as lists that are searched, sorted and paged
//! in memory (a snapshot holds hundreds of rows, a few thousand at most).

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use breeze_proto::agent::{InventorySection, LoggedInUser, ProcessInfo};
use breeze_proto::ids::DeviceId;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::types::Json;
use std::cmp::Ordering;

#[derive(sqlx::FromRow)]
struct Doc {
    data: Json<Value>,
}

async fn snapshot<T: DeserializeOwned>(
    db: &Db,
    device: DeviceId,
    section: InventorySection,
) -> Result<Vec<T>, StoreError> {
    let doc: Option<Doc> = db
        .optional(
            Q::new("SELECT data FROM device_inventory WHERE device_id = ? AND section = ?")
                .bind(device)
                .bind(section.as_str()),
        )
        .await?;
    Ok(doc
        .and_then(|d| serde_json::from_value(d.data.0).ok())
        .unwrap_or_default())
}

/// `(field, descending)` of a `sort` value among `allowed`, else the default.
fn sort_key(
    opts: &ListOpts,
    allowed: &[&'static str],
    default: (&'static str, bool),
) -> Result<(&'static str, bool), StoreError> {
    let Some(s) = &opts.sort else {
        return Ok(default);
    };
    let (name, desc) = s
        .strip_prefix('-')
        .map_or((s.as_str(), false), |n| (n, true));
    allowed
        .iter()
        .find(|a| **a == name)
        .map(|a| (*a, desc))
        .ok_or_else(|| {
            StoreError::invalid(
                "sort",
                format!(
                    "must be one of {} (prefix - for descending)",
                    allowed.join(", ")
                ),
            )
        })
}

/// The page `opts` asks for, plus one row more when there is a next page.
fn window<T>(rows: Vec<T>, opts: &ListOpts) -> Vec<T> {
    let skip = usize::try_from(opts.offset).unwrap_or(usize::MAX);
    rows.into_iter()
        .skip(skip)
        .take(opts.limit as usize + 1)
        .collect()
}

fn contains(hay: Option<&str>, needle: &str) -> bool {
    hay.is_some_and(|h| h.to_lowercase().contains(needle))
}

/// Sorts: `cpu`, `memory`, `name`, `pid`, `user` (default `-cpu`, busiest first); `q`
/// searches name and user.
pub const PROCESS_SORTS: &[&str] = &["cpu", "memory", "name", "pid", "user"];

/// Processes of a device the caller fetched through its scope.
pub async fn processes(
    db: &Db,
    device: DeviceId,
    opts: &ListOpts,
) -> Result<Vec<ProcessInfo>, StoreError> {
    let (key, desc) = sort_key(opts, PROCESS_SORTS, ("cpu", true))?;
    let mut rows: Vec<ProcessInfo> = snapshot(db, device, InventorySection::Processes).await?;
    if let Some(q) = &opts.search {
        let q = q.to_lowercase();
        rows.retain(|p| contains(Some(&p.name), &q) || contains(p.user.as_deref(), &q));
    }
    rows.sort_by(|a, b| {
        let o = match key {
            "cpu" => a.cpu_percent.total_cmp(&b.cpu_percent),
            "memory" => a.memory_bytes.cmp(&b.memory_bytes),
            "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            "user" => a.user.cmp(&b.user),
            _ => Ordering::Equal,
        };
        let o = if desc { o.reverse() } else { o };
        let by_pid = a.pid.cmp(&b.pid);
        o.then(if desc && key == "pid" {
            by_pid.reverse()
        } else {
            by_pid
        })
    });
    Ok(window(rows, opts))
}

/// Sorts: `username` (default), `terminal`, `login_time`; `q` searches username,
/// terminal and host.
pub const USER_SORTS: &[&str] = &["username", "terminal", "login_time"];

/// Logged-in users (sessions) of a device the caller fetched through its scope.
pub async fn logged_in_users(
    db: &Db,
    device: DeviceId,
    opts: &ListOpts,
) -> Result<Vec<LoggedInUser>, StoreError> {
    let (key, desc) = sort_key(opts, USER_SORTS, ("username", false))?;
    let mut rows: Vec<LoggedInUser> = snapshot(db, device, InventorySection::Users).await?;
    if let Some(q) = &opts.search {
        let q = q.to_lowercase();
        rows.retain(|u| {
            contains(Some(&u.username), &q)
                || contains(Some(&u.terminal), &q)
                || contains(u.host.as_deref(), &q)
        });
    }
    rows.sort_by(|a, b| {
        let o = match key {
            "terminal" => a.terminal.cmp(&b.terminal),
            "login_time" => a.login_time.cmp(&b.login_time),
            _ => a.username.cmp(&b.username),
        };
        let o = if desc { o.reverse() } else { o };
        o.then_with(|| a.username.cmp(&b.username))
            .then_with(|| a.terminal.cmp(&b.terminal))
    });
    Ok(window(rows, opts))
}
