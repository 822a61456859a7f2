//! The OpenAPI 3.1 document (`/api/openapi.json`) and its interactive viewer (`/api/docs`).

use crate::state::AppState;
use axum::Router;
use std::sync::Arc;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Breeze RMM API", description = "Remote monitoring and management for MSPs. Authenticate with `Authorization: Bearer <access token>` from `/api/v1/auth/login`."),
    modifiers(&BearerAuth),
    tags(
        (name = "setup", description = "First-run setup"),
        (name = "auth", description = "Login, tokens, MFA, password reset"),
        (name = "partners", description = "Partners (platform operators)"),
        (name = "orgs", description = "Organizations and sites"),
        (name = "device-groups", description = "Device groups"),
        (name = "users", description = "Users and invitations"),
        (name = "roles", description = "Roles and permissions"),
        (name = "audit", description = "Audit log"),
        (name = "settings", description = "A partner's settings: SMTP and session policy"),
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "events", description = "Live updates (Server-Sent Events)"),
        (name = "downloads", description = "The agent binaries and the install script (no sign-in)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // Agent bearer tokens (`bzt_…`), issued at enrollment.
        components.add_security_scheme(
            "agent",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn docs_router(doc: Arc<utoipa::openapi::OpenApi>) -> Router<AppState> {
    let json = doc.clone();
    Router::new()
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let d = json.clone();
                async move { axum::Json((*d).clone()) }
            }),
        )
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .url("/api/openapi-swagger.json", (*doc).clone()),
        )
}
