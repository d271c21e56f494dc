//! The dashboard at `/`: the React app's built assets (agentstack-server/dashboard/dist), served
//! from a directory with every unknown page answered by its `index.html` (the app routes in the
//! browser). Paths under `/api/` and `/ws/` stay the API's JSON 404. Without built assets, `/`
//! is a page that says how to build them.

use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Where the dashboard's assets are when `agentstack` runs from its source tree.
pub const SOURCE_TREE_DIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/dist");

/// The API router's fallback: the dashboard, or the API's 404.
#[derive(Debug, Clone)]
pub struct Fallback {
    dist: Option<PathBuf>,
}

impl Fallback {
    /// Serves the assets in `dist` (`None`: no dashboard, every unknown path is a 404).
    pub fn new(dist: Option<PathBuf>) -> Fallback {
        Fallback { dist }
    }

    /// The answer to a request no route took.
    pub async fn answer(self, request: Request) -> Response {
        let path = request.uri().path();
        let api_path = ["/api", "/ws"]
            .iter()
            .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")));
        let Some(dist) = self.dist.filter(|_| !api_path) else {
            return super::not_found().into_response();
        };
        let index = dist.join("index.html");
        if !index.is_file() {
            return not_built(&dist);
        }
        let files = ServeDir::new(&dist).fallback(ServeFile::new(index));
        match files.oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "cannot read the dashboard's files in {}: {error}",
                    dist.display()
                ),
            )
                .into_response(),
        }
    }
}

/// The page at `/` while the dashboard has not been built.
fn not_built(dist: &Path) -> Response {
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>AgentStack</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 42rem; margin: 3rem auto\">\
         <h1>AgentStack</h1>\
         <p>The server and its API run, but the dashboard's assets were not found in \
         <code>{}</code>.</p>\
         <p>Build them once (Node.js 20 and npm):</p>\
         <pre>cd agentstack-server/dashboard &amp;&amp; npm ci &amp;&amp; npm run build</pre>\
         <p>or point the server at a built copy with <code>--dashboard-dir PATH</code> \
         (env <code>AGENTSTACK_DASHBOARD_DIR</code>). The API answers meanwhile: \
         <a href=\"/api/v1/traces\">/api/v1/traces</a>, described by \
         <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p></body></html>",
        html_escape(&dist.display().to_string())
    );
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Html(page),
    )
        .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
