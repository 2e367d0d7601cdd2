//! The exporter's HTTP/1 server (hyper): `GET /metrics` (OpenMetrics when the scraper asks for
//! it, else the Prometheus text format: the same gauges either way) and `GET /healthz`. Each
//! request answers from the latest snapshot; nothing is computed per request.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The Prometheus text format's content type (the body is valid in both formats).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What every request is answered from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub metrics: Bytes,
    /// `/healthz`'s body: whether the last refresh succeeded and when the figures date from.
    pub health: String,
}

impl Snapshot {
    pub fn new(metrics: String, health: &super::Health) -> Snapshot {
        let state = if health.last_refresh_success {
            "ok"
        } else if health.last_success.is_some() {
            "stale: the last refresh failed; serving the last good figures"
        } else {
            "starting: no refresh has succeeded yet"
        };
        Snapshot {
            metrics: Bytes::from(metrics),
            health: format!(
                "{state}\nseries {}\nlast refresh {}\n",
                health.series, health.last_refresh
            ),
        }
    }
}

/// The response to one request (pure, apart from reading the snapshot).
pub fn respond(
    method: &Method,
    path: &str,
    accept: Option<&str>,
    snapshot: &Snapshot,
) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if method != Method::GET && method != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n".into());
    }
    match path {
        "/metrics" => {
            let openmetrics = accept.is_some_and(|a| a.contains("application/openmetrics-text"));
            let content_type = if openmetrics {
                sidescan_core::layout::OPENMETRICS_CONTENT_TYPE
            } else {
                TEXT_CONTENT_TYPE
            };
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type)
                .body(Full::new(snapshot.metrics.clone()))
                .unwrap_or_default()
        }
        "/healthz" => plain(StatusCode::OK, snapshot.health.clone()),
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found: /metrics or /healthz\n".into(),
        ),
    }
}

/// Accepts connections until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, snapshots: watch::Receiver<Arc<Snapshot>>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                continue;
            }
        };
        let snapshots = snapshots.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let snapshot = snapshots.borrow().clone();
                async move {
                    let accept = req
                        .headers()
                        .get(header::ACCEPT)
                        .and_then(|v| v.to_str().ok());
                    Ok::<_, Infallible>(respond(req.method(), req.uri().path(), accept, &snapshot))
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot::new(
            "# EOF\n".into(),
            &super::super::Health {
                last_refresh_success: false,
                last_success: Some(1.0),
                ..Default::default()
            },
        )
    }

    #[test]
    fn metrics_follow_the_accept_header_and_unknown_paths_are_404() {
        let s = snapshot();
        let om = respond(
            &Method::GET,
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
            &s,
        );
        assert_eq!(om.status(), StatusCode::OK);
        assert_eq!(
            om.headers()[header::CONTENT_TYPE],
            sidescan_core::layout::OPENMETRICS_CONTENT_TYPE
        );
        let text = respond(&Method::GET, "/metrics", None, &s);
        assert_eq!(text.headers()[header::CONTENT_TYPE], TEXT_CONTENT_TYPE);
        assert_eq!(
            respond(&Method::GET, "/other", None, &s).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            respond(&Method::POST, "/metrics", None, &s).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let health = respond(&Method::GET, "/healthz", None, &s);
        assert_eq!(health.status(), StatusCode::OK);
        assert!(s.health.starts_with("stale"), "{}", s.health);
    }
}
