//! The API's one error shape: `{"error": {"status": 400, "message": "…", "parameter": "limit"}}`.
//! Every refusal says what to change; `parameter` names the query or path parameter at fault.

use crate::store::StoreFailure;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::json_response;

/// A refusal or failure of an API request, answered as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A sentence a person can act on.
    pub message: String,
    /// The parameter at fault, when there is one.
    pub parameter: Option<String>,
}

impl ApiError {
    /// A 400 about `parameter`.
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            parameter: Some(parameter.to_string()),
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            parameter: None,
        }
    }

    /// A failure of the server itself.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            parameter: None,
        }
    }
}

impl From<StoreFailure> for ApiError {
    fn from(error: StoreFailure) -> ApiError {
        if error.is_bad_trace_id() {
            ApiError::bad_parameter("trace_id", error.to_string())
        } else if error.is_unavailable() {
            ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: error.to_string(),
                parameter: None,
            }
        } else {
            ApiError::internal(error.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({
            "status": self.status.as_u16(),
            "message": self.message,
        });
        if let Some(parameter) = self.parameter {
            error["parameter"] = serde_json::Value::String(parameter);
        }
        json_response(self.status, &serde_json::json!({ "error": error }))
    }
}
