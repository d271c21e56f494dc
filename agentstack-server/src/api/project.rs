//! The [`Project`] extractor: which project a request reads. Every query of the API is scoped
//! to one project: the project of the request's API key, checked by the [`KeyRing`] the router
//! carries (an `Extension`). Without a key ring (or while a loopback-only server has no key at
//! all) every request reads [`DEFAULT_PROJECT`].

use std::sync::Arc;

use agentstack_exporter_sqlite::DEFAULT_PROJECT;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::ApiError;
use crate::auth::{AuthError, KeyRing};

/// The project of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Project {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Project, ApiError> {
        match parts.extensions.get::<Arc<KeyRing>>() {
            None => Ok(Project(DEFAULT_PROJECT.to_string())),
            Some(keys) => keys
                .authenticate(&parts.headers)
                .await
                .map(Project)
                .map_err(ApiError::from),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> ApiError {
        ApiError {
            status: error.status(),
            message: error.to_string(),
            parameter: None,
        }
    }
}
