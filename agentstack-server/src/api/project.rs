//! The [`Project`] extractor: which project a request reads. Every query of the API is scoped
//! to one project. Until API keys exist every request reads [`DEFAULT_PROJECT`], the project the
//! collector writes into; with keys, the key of the request will pick its project here, and no
//! handler will change.

use agentstack_exporter_sqlite::DEFAULT_PROJECT;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::ApiError;

/// The project of a request: always [`DEFAULT_PROJECT`] while the server has no API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Project {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Project, ApiError> {
        Ok(Project(DEFAULT_PROJECT.to_string()))
    }
}
