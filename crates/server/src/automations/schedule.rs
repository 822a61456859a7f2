//! Schedule triggers: cron slots with a timezone, fired once each under a job lease.

use crate::state::AppState;

/// Fires due schedule slots, once each.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let _ = state;
    Ok(())
}
