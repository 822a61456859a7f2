//! Getting the agent from the server: the builds it has (`GET /download/agent`), one
//! build (`GET /download/agent/{platform}`) and the install script (`GET /install.sh`).
//! No sign-in: a binary holds no secret, and the script takes the enrollment key from
//! whoever runs it. Where the binaries come from: `crate::agent_dist`.

use crate::agent_dist::{AgentBinary, build_hint};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breeze_proto::api::{AgentDownload, AgentDownloads, AgentPlatform, ErrorBody};
use futures::StreamExt as _;
use tokio::io::AsyncReadExt as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(download))
        .routes(routes!(install_script))
}

/// The header carrying a download's hex SHA-256.
pub const CHECKSUM_HEADER: &str = "x-checksum-sha256";

/// Logs at start which agent builds the server can hand out, and where it looked.
pub async fn log_available(state: &AppState) {
    match state.agent_dist.available().await {
        Ok(found) if found.is_empty() => {
            let host = crate::agent_dist::host_platform();
            let looked: Vec<String> = host
                .map(|h| state.agent_dist.candidates(h))
                .unwrap_or_default()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            tracing::warn!(
                looked_in = ?looked,
                "no agent binary to serve at /download/agent: build one with \
                 `cargo build --release -p breeze-agent` (or set [agents] dist_dir / --agent-dir)"
            );
        }
        Ok(found) => {
            for (p, b) in found {
                tracing::info!(platform = %p, path = %b.path.display(), sha256 = %b.sha256, "serving an agent build");
            }
        }
        Err(e) => tracing::warn!(error = %e, "looking for agent binaries"),
    }
}

fn parse_platform(s: &str) -> ApiResult<AgentPlatform> {
    AgentPlatform::parse(s).ok_or_else(|| {
        let all: Vec<&str> = AgentPlatform::ALL.iter().map(|p| p.as_str()).collect();
        ApiError::refused(
            StatusCode::NOT_FOUND,
            "unknown_platform",
            format!(
                "`{s}` is not a platform the agent is built for; one of: {}",
                all.join(", ")
            ),
        )
    })
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::internal(anyhow::Error::new(e).context("reading an agent binary"))
}

fn describe(state: &AppState, p: AgentPlatform, b: &AgentBinary) -> AgentDownload {
    AgentDownload {
        platform: p.as_str().into(),
        os: p.os().into(),
        arch: p.arch().into(),
        url: format!("{}/download/agent/{p}", state.config.public_url()),
        file_name: p.file_name(),
        size: b.size,
        sha256: b.sha256.clone(),
    }
}

/// The agent builds this server has, with their checksums, and the install script's address.
#[utoipa::path(get, path = "/download/agent", tag = "downloads",
    responses((status = 200, body = AgentDownloads)))]
async fn list(State(state): State<AppState>) -> ApiResult<axum::Json<AgentDownloads>> {
    let found = state.agent_dist.available().await.map_err(io_error)?;
    let public_url = state.config.public_url();
    let missing = AgentPlatform::ALL
        .into_iter()
        .filter(|p| !found.iter().any(|(f, _)| f == p))
        .map(|p| p.as_str().to_string())
        .collect();
    Ok(axum::Json(AgentDownloads {
        install_script_url: format!("{public_url}/install.sh"),
        public_url,
        agents: found.iter().map(|(p, b)| describe(&state, *p, b)).collect(),
        missing,
    }))
}

/// The agent binary for `<os>-<arch>` (e.g. `linux-x86_64`), with its SHA-256 in
/// `X-Checksum-Sha256`. A platform this server has no build for answers 404 saying how
/// to build one.
#[utoipa::path(get, path = "/download/agent/{platform}", tag = "downloads",
    params(("platform" = String, Path, description = "`<os>-<arch>`: linux-x86_64, linux-aarch64, darwin-x86_64, darwin-aarch64, windows-x86_64, windows-aarch64")),
    responses(
        (status = 200, description = "the agent binary", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("X-Checksum-Sha256" = String, description = "hex SHA-256 of the body"),
                    ("Content-Disposition" = String, description = "`attachment; filename=breeze-agent-<platform>[.exe]`"))),
        (status = 404, description = "unknown platform (`unknown_platform`) or no build for it (`agent_not_built`)", body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    ApiPath(platform): ApiPath<String>,
) -> ApiResult<Response> {
    let p = parse_platform(&platform)?;
    let not_built = || ApiError::refused(StatusCode::NOT_FOUND, "agent_not_built", build_hint(p));
    let Some(found) = state.agent_dist.find(p).await.map_err(io_error)? else {
        return Err(not_built());
    };
    let file = match tokio::fs::File::open(&found.path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_built()),
        Err(e) => return Err(io_error(e)),
    };
    // The file may have been replaced since it was hashed: describe what was opened.
    let meta = file.metadata().await.map_err(io_error)?;
    let b = state
        .agent_dist
        .describe(&found.path, meta.len(), meta.modified().ok())
        .await
        .map_err(io_error)?;
    let size = b.size;
    let stream = futures::stream::unfold(file.take(size), |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
    .boxed();
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    // Binaries are sent as they are: compressing one per download costs more than it saves.
    h.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&b.sha256) {
        h.insert(CHECKSUM_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", p.file_name())) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The POSIX shell template; `__BREEZE_SERVER__` becomes the quoted public URL.
const INSTALL_SH: &str = include_str!("install.sh");

/// `s` as one single-quoted shell word.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The install script for this server: `install.sh --key KEY [--no-service] [--prefix DIR]`
/// detects the OS and architecture, downloads the agent from this server, verifies its
/// checksum, enrolls and installs the systemd service (or runs the agent in the foreground).
#[utoipa::path(get, path = "/install.sh", tag = "downloads",
    responses((status = 200, description = "a POSIX sh script", content_type = "text/x-shellscript", body = String)))]
async fn install_script(State(state): State<AppState>) -> impl IntoResponse {
    let script = INSTALL_SH.replace("__BREEZE_SERVER__", &sh_quote(&state.config.public_url()));
    (
        [
            (header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        script,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_a_url_one_word() {
        assert_eq!(sh_quote("http://h:1"), "'http://h:1'");
        assert_eq!(sh_quote("http://h/a'b"), r"'http://h/a'\''b'");
    }

    #[test]
    fn the_template_has_one_server_placeholder() {
        assert_eq!(INSTALL_SH.matches("__BREEZE_SERVER__").count(), 1);
    }
}
