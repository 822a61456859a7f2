//! Reading the audit log: `/api/v1/audit/logs`, its streamed export, and a summary.

use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use breeze_core::permissions::{Action, Resource};
use breeze_proto::api::vocab::EXPORT_FORMATS;
use breeze_proto::api::{AuditEntry, AuditQuery, AuditSummary, ErrorBody, Page};
use breeze_store::audit;
use breeze_store::listing::check_search;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logs))
        .routes(routes!(export))
        .routes(routes!(summary))
}

/// The text filters are compared with `=` or a prefix LIKE: each is at most
/// 200 characters, like every search.
fn check_filters(q: &AuditQuery) -> ApiResult<()> {
    for (field, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("resource_type", &q.resource_type),
        ("resource_id", &q.resource_id),
        ("result", &q.result),
    ] {
        if let Some(v) = v {
            check_search(field, v)?;
        }
    }
    Ok(())
}

fn cursor(q: &AuditQuery) -> ApiResult<Option<i64>> {
    q.cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::validation("cursor", "is not a cursor this server issued"))
        })
        .transpose()
}

/// Audit rows in reach, newest first.
#[utoipa::path(get, path = "/api/v1/audit/logs", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logs(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<axum::Json<Page<AuditEntry>>> {
    auth.require(Resource::Audit, Action::Read)?;
    check_filters(&q)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation("limit", "must be between 1 and 500"));
    }
    let rows = audit::list(&state.db, &auth.scope, &q, cursor(&q)?, limit + 1).await?;
    let more = rows.len() > limit as usize;
    let mut data: Vec<AuditEntry> = rows
        .into_iter()
        .take(limit as usize)
        .map(Into::into)
        .collect();
    data.truncate(limit as usize);
    let next = if more {
        data.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    Ok(axum::Json(Page {
        data,
        next_cursor: next,
    }))
}

/// Exports the matching rows as CSV or JSON lines, streamed page by page.
#[utoipa::path(get, path = "/api/v1/audit/logs/export", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "CSV (`format=csv`, the default) or JSON lines (`format=json`), one row per entry", content((String = "text/csv"), (String = "application/x-ndjson"))), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn export(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    auth.require(Resource::Audit, Action::Read)?;
    check_filters(&q)?;
    let format = q.format.clone().unwrap_or_else(|| "csv".into());
    if !EXPORT_FORMATS.contains(&format.as_str()) {
        return Err(ApiError::validation("format", "must be csv or json"));
    }
    let scope = auth.scope.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let csv = format == "csv";
    tokio::spawn(async move {
        let mut before = None;
        if csv {
            let header = "seq,id,timestamp,partner_id,org_id,actor_type,actor_id,actor_email,action,resource_type,resource_id,resource_name,result,error_message,ip_address,user_agent,details,checksum,site_id,device_id\n";
            if tx.send(Ok(header.as_bytes().to_vec())).await.is_err() {
                return;
            }
        }
        loop {
            let rows = match audit::list(&state.db, &scope, &q, before, 500).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            if rows.is_empty() {
                return;
            }
            before = rows.last().map(|r| r.seq);
            let mut buf = Vec::new();
            for r in rows {
                let e: AuditEntry = r.into();
                if csv {
                    let mut w = csv::WriterBuilder::new()
                        .has_headers(false)
                        .from_writer(Vec::new());
                    let opt = |o: Option<String>| o.unwrap_or_default();
                    let rec = [
                        e.seq.to_string(),
                        e.id.to_string(),
                        e.timestamp.to_rfc3339(),
                        opt(e.partner_id.map(|p| p.to_string())),
                        opt(e.org_id.map(|p| p.to_string())),
                        e.actor_type,
                        opt(e.actor_id.map(|p| p.to_string())),
                        opt(e.actor_email),
                        e.action,
                        e.resource_type,
                        opt(e.resource_id),
                        opt(e.resource_name),
                        e.result,
                        opt(e.error_message),
                        opt(e.ip_address),
                        opt(e.user_agent),
                        e.details.to_string(),
                        e.checksum,
                        opt(e.site_id.map(|p| p.to_string())),
                        opt(e.device_id.map(|p| p.to_string())),
                    ];
                    if w.write_record(rec.iter().map(|s| neutralize(s))).is_ok()
                        && let Ok(b) = w.into_inner()
                    {
                        buf.extend(b);
                    }
                } else if let Ok(line) = serde_json::to_vec(&e) {
                    buf.extend(line);
                    buf.push(b'\n');
                }
            }
            if tx.send(Ok(buf)).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream_from(rx);
    let (ct, name) = if csv {
        ("text/csv; charset=utf-8", "audit-log.csv")
    } else {
        ("application/x-ndjson", "audit-log.jsonl")
    };
    Ok((
        [
            (header::CONTENT_TYPE, ct.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Spreadsheet formula injection guard: a cell starting with = + - @ is prefixed with '.
fn neutralize(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Counts by action, result and actor for the matching rows.
#[utoipa::path(get, path = "/api/v1/audit/summary", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditSummary), (status = 403, body = ErrorBody)))]
async fn summary(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<axum::Json<AuditSummary>> {
    auth.require(Resource::Audit, Action::Read)?;
    check_filters(&q)?;
    Ok(axum::Json(
        audit::summary(&state.db, &auth.scope, &q).await?,
    ))
}
