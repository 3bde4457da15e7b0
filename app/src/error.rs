//! The one error type that crosses the wire.
//!
//! Every server function and REST handler answers with an [`AppError`]. It is closed and
//! serializable: the browser can match on it and show the right message, and the server maps it to
//! an HTTP status in exactly one place ([`AppError::status_code`]). Internal detail (SQL errors,
//! stack traces) never goes into it: it is logged on the server with an incident id, and only the
//! id travels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An error a client is allowed to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AppError {
    /// The thing asked for does not exist (or the caller may not know that it does).
    #[error("{what} not found")]
    NotFound { what: String },
    /// Input failed validation; `fields` maps each offending field to its messages.
    #[error("invalid input: {}", describe_fields(fields))]
    Validation {
        fields: BTreeMap<String, Vec<String>>,
    },
    /// The request is not well-formed (bad JSON, bad encoding); `message` says what is wrong.
    #[error("bad request: {message}")]
    BadRequest { message: String },
    /// Fewer units of an item are left than asked for; nothing was held.
    #[error("only {left} of {name} left")]
    SoldOut {
        /// The item's ID.
        item: String,
        name: String,
        left: u32,
    },
    /// The request body is larger than the server accepts.
    #[error("the request body is too large: {message}")]
    PayloadTooLarge { message: String },
    /// The caller must authenticate first.
    #[error("{message}")]
    Unauthorized { message: String },
    /// The caller is known but may not do this.
    #[error("{message}")]
    Forbidden { message: String },
    /// Too many requests of this kind: try again after `retry_after_s` seconds.
    #[error("too many attempts: try again in {retry_after_s} seconds")]
    RateLimited { retry_after_s: u64 },
    /// The request conflicts with the current state (a duplicate name, too little stock).
    #[error("{message}")]
    Conflict {
        message: String,
        /// The field the conflict is about, when there is one.
        field: Option<String>,
    },
    /// A dependency (a shard, Redis, the payment processor) cannot be reached right now.
    #[error("{what} is unavailable, please try again shortly")]
    Unavailable { what: String },
    /// Something went wrong on the server; `incident` finds the log line.
    #[error("internal error (incident {incident})")]
    Internal { incident: String },
    /// The request never reached the server function, or its answer could not be read.
    #[error("could not reach the shop: {message}")]
    Transport { message: String },
}

fn describe_fields(fields: &BTreeMap<String, Vec<String>>) -> String {
    fields
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    /// A validation error for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_owned(), vec![message.into()]);
        AppError::Validation { fields }
    }

    /// A conflict with the current state, about `field`.
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    /// Something asked for does not exist.
    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound { what: what.into() }
    }

    /// The HTTP status this error is answered with, in the REST API and in server functions.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest { .. } => 400,
            AppError::Unauthorized { .. } => 401,
            AppError::Forbidden { .. } => 403,
            AppError::NotFound { .. } => 404,
            AppError::Conflict { .. } | AppError::SoldOut { .. } => 409,
            AppError::PayloadTooLarge { .. } => 413,
            AppError::RateLimited { .. } => 429,
            AppError::Validation { .. } => 422,
            AppError::Unavailable { .. } => 503,
            AppError::Internal { .. } => 500,
            AppError::Transport { .. } => 502,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        AppError::Transport {
            message: value.to_string(),
        }
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::AppError;

    impl AppError {
        /// Logs `detail` with a fresh incident id and returns the error the client may see.
        pub fn internal(detail: impl std::fmt::Display) -> Self {
            let incident = incident_id();
            tracing::error!(%incident, error = %detail, "internal error");
            AppError::Internal { incident }
        }
    }

    /// A short random id that ties a client-visible error to its log line.
    fn incident_id() -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::time::{SystemTime, UNIX_EPOCH};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}{:04x}", nanos, n & 0xffff)
    }

    impl axum::response::IntoResponse for AppError {
        fn into_response(self) -> axum::response::Response {
            let status = http::StatusCode::from_u16(self.status_code())
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
            let message = self.to_string();
            let mut body = serde_json::to_value(&self).unwrap_or_default();
            if let Some(object) = body.as_object_mut() {
                object.insert("message".into(), message.into());
            }
            let mut response = (status, axum::Json(body)).into_response();
            match self {
                AppError::RateLimited { retry_after_s } => {
                    response
                        .headers_mut()
                        .insert(http::header::RETRY_AFTER, retry_after_s.into());
                }
                AppError::Unauthorized { .. } => {
                    response.headers_mut().insert(
                        http::header::WWW_AUTHENTICATE,
                        http::HeaderValue::from_static("Bearer"),
                    );
                }
                _ => {}
            }
            response
        }
    }

    /// Sets the status of the server-function response that is being built (SSR or a call from the
    /// browser) to the status of `error`, and returns it.
    pub fn with_status(error: AppError) -> AppError {
        if let Some(options) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            options.set_status(
                http::StatusCode::from_u16(error.status_code())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
            if let AppError::RateLimited { retry_after_s } = &error {
                options.insert_header(http::header::RETRY_AFTER, (*retry_after_s).into());
            }
        }
        error
    }
}

#[cfg(feature = "ssr")]
pub use server::with_status;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_names_the_field() {
        let error = AppError::invalid("price", "must be positive");
        assert_eq!(error.status_code(), 422);
        assert_eq!(error.to_string(), "invalid input: price: must be positive");
    }

    #[test]
    fn errors_round_trip_through_json_with_a_tag() {
        let error = AppError::Unavailable {
            what: "shard 2".into(),
        };
        let json = serde_json::to_string(&error).expect("serializes");
        assert_eq!(json, r#"{"error":"unavailable","what":"shard 2"}"#);
        let back: AppError = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, error);
    }
}
