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

/// The whole document `/api/openapi.json` serves: `base()` merged with every route's
/// documentation. `breeze openapi` prints it, and the console's types are generated from it.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::routes::api().1
}

/// utoipa names an operation after its handler, and several route modules have a `list`,
/// a `get`, an `update` …. OpenAPI requires operation ids to be unique (generated clients
/// key their types on them), so a repeated id gets the words of its path appended:
/// `list` at `/api/v1/users` becomes `list_users`.
pub(crate) fn unique_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::HashMap;
    fn operations(
        item: &mut utoipa::openapi::path::PathItem,
    ) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .filter_map(Option::as_mut)
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let words: Vec<String> = path
            .trim_start_matches("/api/v1")
            .split('/')
            .filter(|w| !w.is_empty() && !w.starts_with('{'))
            .map(|w| w.replace(['-', '.'], "_"))
            .collect();
        for op in operations(item) {
            if let Some(id) = op.operation_id.as_mut()
                && seen.get(id.as_str()).is_some_and(|n| *n > 1)
            {
                *id = format!("{id}_{}", words.join("_"));
            }
        }
    }
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
