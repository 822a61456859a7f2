//! `/metrics`: bounded labels whatever clients send, and who may read it (`[metrics]`).

use crate::harness::Engine;
use crate::harness::spawn;
use futures::StreamExt as _;
use reqwest::{Method, StatusCode};

const OPENMETRICS: &str = "application/openmetrics-text";

/// A small deterministic generator (no `rand` dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn word(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'A' + (self.next() % 26) as u8))
            .collect()
    }
}

#[tokio::test]
async fn ten_thousand_requests_with_random_methods_and_paths_leave_metrics_under_100_kb() {
    let app = spawn(Engine::Sqlite, |c| c.metrics.public = true).await;
    let base = app.client.base().clone();
    let mut rng = Lcg(0x5eed);
    let known = [
        "/health",
        "/api/v1/orgs",
        "/api/v1/devices/00000000-0000-0000-0000-000000000000",
        "/api/v1/auth/login",
    ];
    let requests: Vec<(Method, String)> = (0..10_000)
        .map(|i| {
            let method = match i % 4 {
                // Made-up methods, and standard ones on made-up paths.
                0 | 1 => Method::from_bytes(rng.word(8).as_bytes()).expect("method"),
                2 => Method::GET,
                _ => Method::DELETE,
            };
            let path = if i % 2 == 0 {
                known[(rng.next() % 4) as usize].to_string()
            } else {
                format!("/{}/{}", rng.word(6), rng.word(10))
            };
            (method, path)
        })
        .collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .expect("client");
    let statuses: Vec<u16> = futures::stream::iter(requests)
        .map(|(m, p)| {
            let http = http.clone();
            let url = base.join(&p).expect("url");
            async move {
                http.request(m, url)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s != 0), "every request answered");
    let resp = http
        .get(base.join("/metrics").expect("url"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with(OPENMETRICS), "{ct}");
    let text = resp.text().await.expect("text");
    assert!(
        text.len() < 100 * 1024,
        "/metrics grew to {} bytes",
        text.len()
    );
    assert!(
        text.contains("method=\"other\""),
        "made-up methods count as other"
    );
    assert!(!text.contains("/health/"), "no raw paths");
}

async fn get_metrics(url: url::Url, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("metrics");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, resp.text().await.expect("text"))
}

#[tokio::test]
async fn metrics_is_not_public_by_default() {
    let app = spawn(Engine::Sqlite, |_| {}).await;
    let url = app.client.base().join("/metrics").expect("url");
    let (status, _, _) = get_metrics(url, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_token_is_required_in_the_authorization_header() {
    let token = "scrape-me-0123456789";
    let app = spawn(Engine::Sqlite, |c| {
        c.metrics.token = Some(token.to_string().into());
    })
    .await;
    let url = app.client.base().join("/metrics").expect("url");
    let (status, _, _) = get_metrics(url.clone(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token");
    let (status, _, _) = get_metrics(url.clone(), Some("scrape-me-0123456788")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong token");
    let (status, ct, text) = get_metrics(url, Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with(OPENMETRICS), "{ct}");
    assert!(text.contains("breeze_http_requests_total"), "{text}");
}

#[tokio::test]
async fn metrics_listen_serves_metrics_apart_and_the_main_listener_hides_it() {
    let app = spawn(Engine::Sqlite, |c| {
        c.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        // Even `public` does not put it back on the main listener.
        c.metrics.public = true;
    })
    .await;
    let (status, _, _) = get_metrics(app.client.base().join("/metrics").expect("url"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "main listener");
    let addr = app.metrics_addr.expect("metrics listener");
    let dedicated = url::Url::parse(&format!("http://{addr}")).expect("url");
    let (status, ct, text) = get_metrics(dedicated.join("/metrics").expect("url"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with(OPENMETRICS), "{ct}");
    assert!(text.contains("breeze_http_requests_total"), "{text}");
    let (status, _, _) =
        get_metrics(dedicated.join("/api/v1/setup/status").expect("url"), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only /metrics on the metrics address"
    );
}
