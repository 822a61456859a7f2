//! `terminal` streams (issue 12).

use super::RemoteConfig;
use breeze_mux::Incoming;
use std::sync::Arc;

pub fn serve(inc: Incoming, _config: Arc<RemoteConfig>) {
    inc.refuse("terminal sessions are not built yet");
}
