//! Extractors that turn a request's parts into domain input or a clear [`AppError`]: a malformed
//! body is a 400, a well-formed body with a wrong field is a 422 naming the field, an oversized
//! one a 413; and the signed-in account (401 without one, 403 for a customer where an admin is
//! needed).

use std::net::IpAddr;

use app::accounts::model::User;
use app::accounts::service;
use app::error::AppError;
use app::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body, parsed into `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(AppError::BadRequest {
                message: "send the body as JSON, with `Content-Type: application/json`".into(),
            });
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge {
                        message: rejection.body_text(),
                    }
                } else {
                    AppError::BadRequest {
                        message: rejection.body_text(),
                    }
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, telling a malformed document (400) from a field of the wrong shape (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let malformed = |error: serde_json::Error| AppError::BadRequest {
        message: format!("malformed JSON: {error}"),
    };
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => deserializer.end().map(|()| value).map_err(malformed),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.classify() == serde_json::error::Category::Data {
                let field = if path == "." { "body".to_owned() } else { path };
                Err(AppError::invalid(
                    &field,
                    strip_position(&inner.to_string()),
                ))
            } else {
                Err(malformed(inner))
            }
        }
    }
}

/// serde's messages end with " at line 1 column 42"; the field name says more to a client.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string, parsed into `T`; a bad parameter is a 422 naming the query.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| AppError::invalid("query", rejection.body_text()))
    }
}

/// The signed-in account (session cookie or bearer token); 401 without one.
pub struct RequireUser(pub User);

impl FromRequestParts<AppState> for RequireUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        service::require_user(state, parts).await.map(RequireUser)
    }
}

/// Admits only a signed-in admin; 401 without a session, 403 for a customer.
pub struct RequireAdmin;

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        service::require_admin(state, parts)
            .await
            .map(|_| RequireAdmin)
    }
}

/// The address the request came from, when the server knows it.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        Ok(ClientAddress(app::request::client_address(parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::catalog::model::ItemInput;

    fn fields(error: AppError) -> Vec<String> {
        match error {
            AppError::Validation { fields } => fields.into_keys().collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let error = parse_json::<ItemInput>(br#"{"category_id": 1, "name": "x", "price": true}"#)
            .unwrap_err();
        assert_eq!(fields(error), ["price"]);
        let missing = parse_json::<ItemInput>(br#"{"category_id": 1, "price": "1"}"#).unwrap_err();
        assert_eq!(missing.status_code(), 422);
    }

    #[test]
    fn malformed_json_and_bad_bytes_are_bad_requests() {
        let trailing = br#"{"category_id": 1, "name": "x", "price": "1"} {}"#;
        for body in [&b"{"[..], b"not json", b"{\"name\": \"\xff\"}", trailing] {
            let error = parse_json::<ItemInput>(body).unwrap_err();
            assert_eq!(
                error.status_code(),
                400,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
