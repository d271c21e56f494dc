//! API keys: every request to the collector and the API names its project through a key
//! (`Authorization: Bearer ask_…` or `x-agentstack-api-key: ask_…`). [`KeyRing`] creates, lists,
//! revokes and checks keys in the span store (SHA-256 only, see [`key`]); [`cli`] is
//! `agentstack keys`. A server whose store has never held a key and that listens on loopback only
//! accepts requests without one, into [`DEFAULT_PROJECT`].

pub mod cli;
pub mod key;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use agentstack_exporter_sqlite::{ApiKeyRecord, DEFAULT_PROJECT};
use axum::http::{HeaderMap, StatusCode, header};

use crate::store::{Store, StoreFailure};

/// The header that carries a key besides `Authorization: Bearer`.
pub const API_KEY_HEADER: &str = "x-agentstack-api-key";

/// How to send a key, for refusals.
const HOW_TO_SEND: &str = "send it as `Authorization: Bearer ask_…` or `x-agentstack-api-key: \
     ask_…` (the SDK: AGENTSTACK_API_KEY or builder().api_key(…)); create one with `agentstack \
     keys create --project NAME`";

/// Why a request was refused, or a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request carries no key, and the server requires one.
    #[error("this server requires an API key and the request has none; {HOW_TO_SEND}")]
    Missing,
    /// What the request carries is not the shape of a key.
    #[error(
        "the API key of the request is not an AgentStack key (ask_ and 32 hex characters); {HOW_TO_SEND}"
    )]
    Malformed,
    /// No such key.
    #[error("the API key of the request is not known to this server; {HOW_TO_SEND}")]
    Unknown,
    /// The key was revoked.
    #[error(
        "the API key {prefix}… was revoked; create a new one with `agentstack keys create --project NAME`"
    )]
    Revoked {
        /// The key's public prefix.
        prefix: String,
    },
    /// A project name that cannot be one.
    #[error("{0:?} is not a project name: use 1 to 64 letters, digits, '.', '_' or '-'")]
    BadProject(String),
    /// No key with that prefix, for revoke.
    #[error("no API key starts with {0:?}; list them with `agentstack keys list`")]
    NoSuchKey(String),
    /// The operating system gave no random bytes, or the check could not run.
    #[error("{0}")]
    Internal(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl AuthError {
    /// The HTTP status of this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Missing
            | AuthError::Malformed
            | AuthError::Unknown
            | AuthError::Revoked { .. } => StatusCode::UNAUTHORIZED,
            AuthError::BadProject(_) => StatusCode::BAD_REQUEST,
            AuthError::NoSuchKey(_) => StatusCode::NOT_FOUND,
            AuthError::Store(failure) if failure.is_unavailable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AuthError::Internal(_) | AuthError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A key just created: the secret (shown once) and its record.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The whole key.
    pub secret: String,
    /// What the store keeps.
    pub record: ApiKeyRecord,
}

/// How long the distributed roles use a key read from the store before reading it again
/// ([`KeyRing::cache_for`]): a key revoked through another process stops working within this.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// The keys of one span store, and the rule of who may come in without one. Every answer of
/// the store is kept: while the store does not answer, the last one is used, so a collector
/// keeps accepting spans through a store outage. With [`cache_for`](Self::cache_for) answers
/// are also reused while fresh, sparing the store a read per request.
#[derive(Debug, Clone)]
pub struct KeyRing {
    store: Arc<dyn Store>,
    /// Whether a store that has never held a key lets requests in without one (loopback only).
    open_without_keys: bool,
    cache: Arc<Mutex<KeyCache>>,
    /// How long an answer is reused without asking the store (zero: always ask).
    fresh_for: Duration,
}

/// What the store last said: whether it has keys, and each prefix's key.
#[derive(Debug, Default)]
struct KeyCache {
    has_keys: Option<(bool, Instant)>,
    keys: HashMap<String, (Option<ApiKeyRecord>, Instant)>,
}

/// A cached answer that is still fresh, or a stale one to use while the store fails.
fn cached<T: Clone>(entry: Option<&(T, Instant)>, fresh_for: Option<Duration>) -> Option<T> {
    entry
        .filter(|(_, at)| fresh_for.is_none_or(|ttl| at.elapsed() < ttl))
        .map(|(value, _)| value.clone())
}

impl KeyRing {
    /// The keys in `store`; `open_without_keys`: whether requests without a key go to
    /// [`DEFAULT_PROJECT`] while the store has no key at all.
    pub fn new(store: Arc<dyn Store>, open_without_keys: bool) -> KeyRing {
        KeyRing {
            store,
            open_without_keys,
            cache: Arc::default(),
            fresh_for: Duration::ZERO,
        }
    }

    /// Reuses each answer of the store for `ttl` before asking again.
    pub fn cache_for(mut self, ttl: Duration) -> KeyRing {
        self.fresh_for = ttl;
        self
    }

    /// Creates a key for `project`.
    pub async fn create(&self, project: &str) -> Result<CreatedKey, AuthError> {
        check_project(project)?;
        loop {
            let new = key::generate()
                .map_err(|e| AuthError::Internal(format!("cannot make a random key: {e}")))?;
            let record = ApiKeyRecord {
                prefix: new.prefix,
                sha256: new.sha256,
                project: project.to_string(),
                created_unix_nanos: crate::clock::now_unix_nanos(),
                revoked_unix_nanos: None,
            };
            // A prefix already taken (1 in 4 billion): draw again.
            if self.store.insert_api_key(&record).await? {
                self.forget();
                return Ok(CreatedKey {
                    secret: new.secret,
                    record,
                });
            }
        }
    }

    /// Every key, oldest first (no secrets: the store has none).
    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        Ok(self.store.api_keys().await?)
    }

    /// Revokes the key whose prefix (or whole key) is `prefix`; it stops working at once.
    pub async fn revoke(&self, prefix: &str) -> Result<ApiKeyRecord, AuthError> {
        let prefix = prefix.trim();
        let prefix = key::public_prefix(prefix).unwrap_or(prefix);
        self.forget();
        self.store
            .revoke_api_key(prefix, crate::clock::now_unix_nanos())
            .await?
            .ok_or_else(|| AuthError::NoSuchKey(prefix.to_string()))
    }

    /// Whether requests need a key now.
    pub async fn requires_keys(&self) -> Result<bool, AuthError> {
        if !self.open_without_keys {
            return Ok(true);
        }
        if let Some(has) = cached(self.lock().has_keys.as_ref(), Some(self.fresh_for)) {
            return Ok(has);
        }
        match self.store.has_api_keys().await {
            Ok(has) => {
                self.lock().has_keys = Some((has, Instant::now()));
                Ok(has)
            }
            Err(error) => cached(self.lock().has_keys.as_ref(), None).ok_or(error.into()),
        }
    }

    /// The key with `prefix`, from the cache or the store.
    async fn key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        if let Some(key) = cached(self.lock().keys.get(prefix), Some(self.fresh_for)) {
            return Ok(key);
        }
        match self.store.api_key(prefix).await {
            Ok(key) => {
                let mut cache = self.lock();
                if cache.keys.len() > 10_000 {
                    // Unknown prefixes could fill it: start again.
                    cache.keys.clear();
                }
                cache
                    .keys
                    .insert(prefix.to_string(), (key.clone(), Instant::now()));
                Ok(key)
            }
            Err(error) => cached(self.lock().keys.get(prefix), None).ok_or(error.into()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops every cached answer (a key was created or revoked here).
    fn forget(&self) {
        *self.lock() = KeyCache::default();
    }

    /// The project of a request with `headers`.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<String, AuthError> {
        if !self.requires_keys().await? {
            // No key was ever made and only this machine can reach us: as before keys existed.
            return Ok(DEFAULT_PROJECT.to_string());
        }
        let given = key_of(headers).ok_or(AuthError::Missing)?;
        let prefix = key::public_prefix(given).ok_or(AuthError::Malformed)?;
        let record = self.key(prefix).await?.ok_or(AuthError::Unknown)?;
        if !key::constant_time_eq(&key::sha256_hex(given), &record.sha256) {
            return Err(AuthError::Unknown);
        }
        if !record.is_active() {
            return Err(AuthError::Revoked {
                prefix: record.prefix,
            });
        }
        Ok(record.project)
    }
}

/// The key a request carries: `Authorization: Bearer …`, else `x-agentstack-api-key`.
pub fn key_of(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    bearer
        .or_else(|| {
            headers
                .get(API_KEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|key| !key.is_empty())
}

/// Refuses names that could not be a project.
pub fn check_project(project: &str) -> Result<(), AuthError> {
    let ok = (1..=64).contains(&project.len())
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadProject(project.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ring(open: bool) -> KeyRing {
        KeyRing::new(
            Arc::new(crate::store::SqliteStore::new(
                agentstack_exporter_sqlite::SqliteSpanStore::open_in_memory().unwrap(),
            )),
            open,
        )
    }

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[tokio::test]
    async fn without_keys_a_loopback_server_is_open_and_any_other_is_not() {
        assert_eq!(
            ring(true).authenticate(&HeaderMap::new()).await.unwrap(),
            "default"
        );
        assert!(matches!(
            ring(false).authenticate(&HeaderMap::new()).await,
            Err(AuthError::Missing)
        ));
    }

    #[tokio::test]
    async fn a_key_picks_its_project_until_revoked() {
        let ring = ring(true);
        let a = ring.create("alpha").await.unwrap();
        assert_eq!(
            ring.authenticate(&with("authorization", &format!("Bearer {}", a.secret)))
                .await
                .unwrap(),
            "alpha"
        );
        assert_eq!(
            ring.authenticate(&with(API_KEY_HEADER, &a.secret))
                .await
                .unwrap(),
            "alpha"
        );
        assert!(matches!(
            ring.authenticate(&HeaderMap::new()).await,
            Err(AuthError::Missing)
        ));
        let forged = format!("{}{}", a.record.prefix, "0".repeat(24));
        assert!(matches!(
            ring.authenticate(&with(API_KEY_HEADER, &forged)).await,
            Err(AuthError::Unknown)
        ));
        assert!(matches!(
            ring.authenticate(&with(API_KEY_HEADER, "hunter2")).await,
            Err(AuthError::Malformed)
        ));
        ring.revoke(&a.record.prefix).await.unwrap();
        assert!(matches!(
            ring.authenticate(&with(API_KEY_HEADER, &a.secret)).await,
            Err(AuthError::Revoked { .. })
        ));
        assert!(matches!(
            ring.revoke("ask_nothere").await,
            Err(AuthError::NoSuchKey(_))
        ));
        assert!(matches!(
            ring.create("no spaces").await,
            Err(AuthError::BadProject(_))
        ));
    }
}
