//! `GET /api/openapi.json`: the OpenAPI 3.1 description of the API, kept by hand in
//! `openapi.json` beside this file and compiled in; a test checks it lists every route.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

/// The OpenAPI 3.1 document.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// `GET /api/openapi.json`.
pub async fn document() -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        OPENAPI_JSON,
    )
        .into_response()
}
