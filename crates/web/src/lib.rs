//! The web console: `web/dist` (built by Vite) embedded with rust-embed and served as a
//! single-page app.
//!
//! - `/assets/*` are content-hashed by Vite: cached for a year, `immutable`.
//! - `index.html` (and every client-side route, which answers with it) is `no-cache`, so a
//!   new release is picked up on the next load.
//! - Unknown paths under `/api` and `/ws` answer a JSON 404 instead of the page.
//! - Every answer carries a strict Content-Security-Policy: no inline script or style. The
//!   one exception is `<style>` elements carrying the per-response nonce that `index.html`
//!   hands the page in `<meta name="csp-nonce">`: CodeMirror injects its styles that way
//!   (`EditorView.cspNonce`). Injected markup cannot know the nonce, so it stays inert.
//!
//! Mount it as the server's fallback: `api_router.fallback_service(breeze_web::router())`.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::{EmbeddedFile, RustEmbed};
use tower_http::compression::CompressionLayer;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Dist;

/// The console's Content-Security-Policy. `data:` images are the MFA QR code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";
/// Unhashed files at the root (favicon): short cache, revalidated.
const SHORT: &str = "public, max-age=3600";

/// The console router. It only has a fallback, so it can be the fallback of the API router.
pub fn router() -> Router {
    Router::new()
        .fallback(serve)
        .layer(CompressionLayer::new().gzip(true))
}

/// True when `path` belongs to the API or the WebSocket endpoints, never to the page.
fn is_backend_path(path: &str) -> bool {
    ["/api", "/ws"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if is_backend_path(path) {
        return json_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint");
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let rel = path.trim_start_matches('/');
    if let Some(asset) = rel.strip_prefix("assets/") {
        // A missing hashed asset is a 404: answering index.html would be cached as JS.
        return match Dist::get(&format!("assets/{asset}")) {
            Some(file) => file_response(&format!("assets/{asset}"), file, IMMUTABLE, &headers),
            None => not_found_page(),
        };
    }
    if !rel.is_empty()
        && rel != "index.html"
        && let Some(file) = Dist::get(rel)
    {
        return file_response(rel, file, SHORT, &headers);
    }
    match Dist::get("index.html") {
        Some(file) => index_response(file),
        None => not_found_page(),
    }
}

/// The placeholder in `web/index.html` that each answer replaces with a fresh nonce.
const NONCE_PLACEHOLDER: &str = "__CSP_NONCE__";

/// `index.html` with a fresh style nonce, and the policy that allows exactly that nonce.
/// Never cached and without an ETag: every answer differs.
fn index_response(file: EmbeddedFile) -> Response {
    let nonce = hex(&rand::random::<[u8; 16]>());
    let html = String::from_utf8_lossy(&file.data).replace(NONCE_PLACEHOLDER, &nonce);
    let csp = CONTENT_SECURITY_POLICY.replace(
        "style-src 'self';",
        &format!("style-src 'self' 'nonce-{nonce}';"),
    );
    let builder = security_headers(Response::builder(), &csp)
        .header(header::CACHE_CONTROL, NO_CACHE)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8");
    builder
        .status(StatusCode::OK)
        .body(Body::from(html))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn file_response(name: &str, file: EmbeddedFile, cache: &'static str, req: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let not_modified = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, &etag);
    builder = security_headers(builder, CONTENT_SECURITY_POLICY);
    let result = if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, mime.as_ref())
            .body(Body::from(file.data.into_owned()))
    };
    result.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn security_headers(b: axum::http::response::Builder, csp: &str) -> axum::http::response::Builder {
    b.header(header::CONTENT_SECURITY_POLICY, csp)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::REFERRER_POLICY, "no-referrer")
}

fn not_found_page() -> Response {
    security_headers(Response::builder(), CONTENT_SECURITY_POLICY)
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, NO_CACHE)
        .body(Body::from("not found"))
        .unwrap_or_else(|_| StatusCode::NOT_FOUND.into_response())
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    // The API's error shape: {"error":{"code","message"}}. Both strings are constants here.
    let body = format!(r#"{{"error":{{"code":"{code}","message":"{message}"}}}}"#);
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| status.into_response())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str) -> Response {
        router()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header(r: &Response, name: header::HeaderName) -> &str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn index_is_not_cached_and_has_a_strict_csp() {
        let r = get("/").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, header::CACHE_CONTROL), "no-cache");
        assert!(header(&r, header::CONTENT_TYPE).starts_with("text/html"));
        let csp = header(&r, header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("default-src 'self'"));
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
    }

    fn nonce_of(r: &Response) -> String {
        let csp = header(r, header::CONTENT_SECURITY_POLICY);
        let start = csp.find("'nonce-").map(|i| i + 7).unwrap();
        csp[start..].split('\'').next().unwrap().to_string()
    }

    #[tokio::test]
    async fn each_index_answer_has_its_own_style_nonce() {
        let (a, b) = (get("/").await, get("/").await);
        let (na, nb) = (nonce_of(&a), nonce_of(&b));
        assert_eq!(na.len(), 32);
        assert_ne!(na, nb);
        assert!(
            header(&a, header::CONTENT_SECURITY_POLICY)
                .contains(&format!("style-src 'self' 'nonce-{na}';"))
        );
        assert!(header(&a, header::ETAG).is_empty());
        assert_eq!(
            a.headers()
                .get_all(header::CONTENT_SECURITY_POLICY)
                .iter()
                .count(),
            1
        );
        let body =
            String::from_utf8(to_bytes(a.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
        assert!(!body.contains(NONCE_PLACEHOLDER));
        // The page learns the nonce from its meta tag (when the real console is embedded).
        if body.contains("csp-nonce") {
            assert!(body.contains(&format!("content=\"{na}\"")), "{body}");
        }
    }

    #[tokio::test]
    async fn client_routes_answer_with_the_index_page() {
        let page = |r: Response| async move {
            let nonce = nonce_of(&r);
            let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            String::from_utf8(body.to_vec())
                .unwrap()
                .replace(&nonce, NONCE_PLACEHOLDER)
        };
        let index = page(get("/").await).await;
        for path in ["/devices", "/devices/0192-abc", "/settings?x=1", "/login"] {
            let r = get(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&r, header::CACHE_CONTROL), "no-cache", "{path}");
            assert_eq!(page(r).await, index, "{path}");
        }
    }

    #[tokio::test]
    async fn api_and_ws_paths_never_fall_back_to_the_page() {
        for path in ["/api", "/api/v1/nope", "/ws/events", "/ws"] {
            let r = get(path).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(header(&r, header::CONTENT_TYPE), "application/json");
        }
        // A page route that merely starts with the same letters is still the page.
        assert_eq!(get("/apix").await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn missing_assets_are_404_not_the_page() {
        let r = get("/assets/index-doesnotexist.js").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable() {
        // Only when the console was built (a fresh clone embeds the placeholder alone).
        let Some(name) = Dist::iter().find(|n| n.starts_with("assets/")) else {
            return;
        };
        let r = get(&format!("/{name}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert!(!header(&r, header::CONTENT_SECURITY_POLICY).is_empty());
    }

    #[tokio::test]
    async fn etag_revalidation_answers_304() {
        let Some(name) = Dist::iter().find(|n| n.as_ref() != "index.html") else {
            return;
        };
        let path = format!("/{name}");
        let etag = header(&get(&path).await, header::ETAG).to_string();
        assert!(!etag.is_empty());
        let r = router()
            .oneshot(
                Request::get(path.as_str())
                    .header(header::IF_NONE_MATCH, &etag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn other_methods_are_refused() {
        let r = router()
            .oneshot(Request::post("/devices").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
