//! The OpenAPI 3.1 document (`/api/openapi.json`) and its interactive viewer (`/api/docs`).

use crate::overload::RouteClass;
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderMap, Method};
use std::sync::Arc;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Header, Ref, RefOr};

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

/// Documents the error answers every operation can give by its shape, so no route can
/// forget one (the routes add the ones particular to them, such as 409):
///
/// * authenticated (`security` present): 401 (no, bad or expired token) and 403 (a
///   permission, MFA enrolment the partner requires, a read-only organization);
/// * an id in the path: 400 (not a UUID) and 404 (absent or outside the caller's reach);
/// * a JSON body: 400 (malformed JSON, not an object), 413 (too large), 415 (not
///   `application/json`) and 422 (a field fails validation; it is named);
/// * query parameters: 422 (`invalid_query` for a value that does not parse, `validation`
///   for one out of range; the parameter is named).
///
/// * a route with an in-flight bound (`crate::overload`): 503 `overloaded`.
///
/// Every 4xx and 503 answer carries the `ErrorBody` schema; 429 and 503 say `Retry-After`.
pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_path_params = path.contains('{');
            for (method, op) in [
                (Method::GET, &mut item.get),
                (Method::PUT, &mut item.put),
                (Method::POST, &mut item.post),
                (Method::DELETE, &mut item.delete),
                (Method::PATCH, &mut item.patch),
                (Method::HEAD, &mut item.head),
            ] {
                let Some(op) = op else { continue };
                let class = RouteClass::of(&method, path, &HeaderMap::new());
                document_errors(op, has_path_params, class);
            }
        }
    }
}

fn document_errors(op: &mut Operation, has_path_params: bool, class: Option<RouteClass>) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let json_body = op.request_body.as_ref().is_some_and(|b| match b {
        RefOr::T(b) => b.content.contains_key("application/json"),
        RefOr::Ref(_) => true,
    });
    let has_query = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == ParameterIn::Query,
        RefOr::Ref(_) => false,
    });
    let mut add = |status: &str, description: &str, when: bool| {
        if when {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::T(error_response(description)));
        }
    };
    add("401", "Missing, invalid or expired bearer token", secured);
    add(
        "403",
        "Not permitted (a permission, MFA enrolment required by the partner, a read-only organization)",
        secured,
    );
    add(
        "400",
        "Malformed request: a path id that is not a UUID, or a body that is not a JSON object",
        has_path_params || json_body,
    );
    add(
        "404",
        "No such object in the caller's reach",
        has_path_params,
    );
    add(
        "413",
        "The body is larger than this endpoint accepts",
        json_body,
    );
    add(
        "415",
        "The body is not `Content-Type: application/json`",
        json_body,
    );
    add(
        "422",
        "A field or query parameter is invalid (named in `error.field`)",
        json_body || has_query,
    );
    add(
        "503",
        match class {
            Some(RouteClass::Agent) => {
                "Overloaded (`overloaded`): too many agent requests in flight; retry after `Retry-After` seconds, with jitter"
            }
            Some(RouteClass::Login) => {
                "Overloaded (`overloaded`): too many sign-in requests in flight; retry after `Retry-After` seconds"
            }
            _ => {
                "Overloaded (`overloaded`): too many API requests in flight; retry after `Retry-After` seconds"
            }
        },
        class.is_some(),
    );
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(r) = response else { continue };
        if (status.starts_with('4') || status == "503") && r.content.is_empty() {
            *r = error_response(&r.description);
        }
        if (status == "429" || status == "503") && !r.headers.contains_key("Retry-After") {
            let mut header = Header::new(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .build(),
            );
            header.description = Some("Seconds to wait before trying again".into());
            r.headers.insert("Retry-After".into(), RefOr::T(header));
        }
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
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
