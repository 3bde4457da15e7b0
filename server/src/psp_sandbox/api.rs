//! The sandbox's merchant API: create a payment request (idempotent) and read its status.

use std::str::FromStr;

use app::money::{Currency, Price};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::Sandbox;
use super::store::{self, NewRequest, PaymentRequest};

/// The longest a payment request may stay open.
const MAX_EXPIRY_S: i64 = 24 * 3600;

/// A merchant API error: status, kind, message and the field it is about.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    field: Option<&'static str>,
}

impl ApiError {
    pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "validation",
            message: message.into(),
            field: Some(field),
        }
    }

    fn internal(error: sqlx::Error) -> Self {
        tracing::error!(%error, "sandbox storage failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            message: "the processor failed; try again".into(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.kind, "message": self.message, "field": self.field});
        (self.status, Json(body)).into_response()
    }
}

/// Compares the bearer key in constant time.
pub(super) fn authorize(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = sandbox.settings.api_key.as_deref().unwrap_or_default();
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let same = given.len() == expected.len()
        && !expected.is_empty()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "unauthorized",
            message: "send the merchant API key as a bearer token".into(),
            field: None,
        })
    }
}

/// The `Idempotency-Key` header: 8 to 64 visible characters.
fn idempotency_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| (8..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| ApiError::invalid("Idempotency-Key", "send 8 to 64 visible characters"))
}

fn not_found(id: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "not_found",
        message: format!("no payment request {id}"),
        field: None,
    }
}

/// `POST /v1/payment-requests`'s body.
#[derive(Debug, Deserialize)]
pub struct CreateRequest {
    /// A decimal string, `"42.50"`.
    pub amount: String,
    pub currency: String,
    /// The merchant's reference, printed in the QR code (1-25 visible characters).
    pub reference: String,
    /// How long the request stays open.
    pub expires_in_s: i64,
    /// Where to post signed events about the request (`http://` or `https://`).
    pub webhook_url: Option<String>,
}

impl CreateRequest {
    fn parse(&self, idempotency_key: String) -> Result<NewRequest, ApiError> {
        let currency = Currency::from_str(&self.currency)
            .map_err(|message| ApiError::invalid("currency", message))?;
        let amount = Decimal::from_str(self.amount.trim())
            .map_err(|_| ApiError::invalid("amount", "must be a decimal like 42.50"))?;
        let amount = Price::parse(amount, currency)
            .map_err(|message| ApiError::invalid("amount", message))?
            .amount();
        let reference = self.reference.trim();
        if !(1..=25).contains(&reference.len()) || !reference.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ApiError::invalid(
                "reference",
                "must be 1 to 25 visible ASCII characters",
            ));
        }
        if !(1..=MAX_EXPIRY_S).contains(&self.expires_in_s) {
            return Err(ApiError::invalid(
                "expires_in_s",
                format!("must be between 1 and {MAX_EXPIRY_S}"),
            ));
        }
        let webhook_url = self.webhook_url.as_deref().map(str::trim);
        if let Some(url) = webhook_url
            && (url.len() > 500 || !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Err(ApiError::invalid(
                "webhook_url",
                "must be an http:// or https:// URL of at most 500 characters",
            ));
        }
        Ok(NewRequest {
            webhook_url: webhook_url.map(str::to_owned),
            idempotency_key,
            reference: reference.to_owned(),
            currency,
            amount,
            expires_at: Utc::now() + chrono::Duration::seconds(self.expires_in_s),
        })
    }
}

/// Creates a payment request; the same `Idempotency-Key` answers the request it made (200).
async fn create(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Result<Json<CreateRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<PaymentRequest>), ApiError> {
    authorize(&sandbox, &headers)?;
    let key = idempotency_key(&headers)?;
    let Json(body) = body.map_err(|rejection| ApiError {
        status: StatusCode::BAD_REQUEST,
        kind: "bad_request",
        message: rejection.body_text(),
        field: None,
    })?;
    let new = body.parse(key.to_owned())?;
    let (request, created) =
        store::create(&sandbox.pool, &sandbox.settings, &sandbox.base_url, &new)
            .await
            .map_err(ApiError::internal)?;
    if !created && (request.amount != new.amount || request.currency != new.currency.code()) {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            kind: "conflict",
            message: "this idempotency key made a request for another amount".into(),
            field: Some("Idempotency-Key"),
        });
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(request)))
}

/// A payment request's status, with the transfers made to it.
async fn read(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<PaymentRequest>, ApiError> {
    authorize(&sandbox, &headers)?;
    let row = store::parse_request_id(&id).ok_or_else(|| not_found(&id))?;
    store::get(&sandbox.pool, &sandbox.base_url, row)
        .await
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

/// `POST /v1/payment-requests/{id}/refunds`'s body.
#[derive(Debug, Default, Deserialize)]
pub struct RefundBody {
    /// Part of what was received (all that is left when absent).
    pub amount: Option<String>,
}

/// Gives money back: partial or full, once per `Idempotency-Key` (the same key answers 200 with
/// the same refund); `409` when it would exceed what was received and not yet refunded.
async fn refund(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<RefundBody>>,
) -> Result<(StatusCode, Json<store::Movement>), ApiError> {
    authorize(&sandbox, &headers)?;
    let key = idempotency_key(&headers)?;
    let amount = body
        .and_then(|Json(body)| body.amount)
        .map(|text| {
            Decimal::from_str(text.trim())
                .ok()
                .filter(|amount| *amount > Decimal::ZERO)
                .ok_or_else(|| ApiError::invalid("amount", "must be a positive decimal like 5.00"))
        })
        .transpose()?;
    let row = store::parse_request_id(&id).ok_or_else(|| not_found(&id))?;
    match store::refund(&sandbox.pool, row, key, amount)
        .await
        .map_err(ApiError::internal)?
    {
        store::RefundOutcome::Done { refund, created } => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(refund)))
        }
        store::RefundOutcome::TooMuch { left } => Err(ApiError {
            status: StatusCode::CONFLICT,
            kind: "conflict",
            message: format!("only {left} can still be refunded"),
            field: Some("amount"),
        }),
        store::RefundOutcome::KeyOfAnotherRequest => Err(ApiError {
            status: StatusCode::CONFLICT,
            kind: "conflict",
            message: "this idempotency key made a refund of another request".into(),
            field: Some("Idempotency-Key"),
        }),
        store::RefundOutcome::NoSuchRequest => Err(not_found(&id)),
    }
}

/// `/v1/payment-requests`.
pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/v1/payment-requests", post(create))
        .route("/v1/payment-requests/{id}", get(read))
        .route("/v1/payment-requests/{id}/refunds", post(refund))
}
