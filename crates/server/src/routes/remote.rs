//! Remote sessions (issue 12): `/api/v1/remote/sessions…` and the `/ws/remote/{id}` socket.

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
