//! The sandbox's "bank app": what a customer's phone does after scanning a payment QR code. Paste
//! the payload (or open the request's link), check whom you pay, change the amount if you like
//! (to try paying too little or too much), and pay, as many times as you like.

use std::str::FromStr;

use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::Sandbox;
use super::emv::{PROCESSOR_ID, PaymentPayload};
use super::store;

type Page = (StatusCode, Html<String>);

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Page {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} — Sandbox Bank</title></head>\
             <body style=\"font-family: sans-serif; max-width: 32rem; margin: 2rem auto\">\
             <p><strong>Sandbox Bank</strong> · a test bank app; no real money moves</p>\
             <h1>{title}</h1>{body}</body></html>",
            title = escape(title),
        )),
    )
}

fn paste_form(payload: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/bank/pay\">\
         <label for=\"payload\">Payment code (the text of the QR code)</label><br>\
         <textarea id=\"payload\" name=\"payload\" rows=\"5\" cols=\"48\" required>{}</textarea><br>\
         <button type=\"submit\">Continue</button></form>",
        escape(payload)
    )
}

fn refused(status: StatusCode, message: &str, payload: &str) -> Page {
    page(
        status,
        "Cannot pay this code",
        &format!(
            "<p role=\"alert\">{}</p>{}",
            escape(message),
            paste_form(payload)
        ),
    )
}

/// `GET /bank`: paste a payment code.
async fn start() -> Page {
    page(StatusCode::OK, "Pay with a code", &paste_form(""))
}

#[derive(Debug, Deserialize)]
struct PayQuery {
    payload: String,
}

/// The request a payload pays, or the page that says why not.
async fn payee(sandbox: &Sandbox, text: &str) -> Result<(PaymentPayload, u64), Page> {
    let payload = PaymentPayload::parse(text)
        .map_err(|error| refused(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string(), text))?;
    if payload.processor != PROCESSOR_ID {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this code is for another payment processor",
            text,
        ));
    }
    match store::by_account(&sandbox.pool, &payload.account).await {
        Ok(Some(id)) => Ok((payload, id)),
        Ok(None) => Err(refused(
            StatusCode::NOT_FOUND,
            "no account has this number",
            text,
        )),
        Err(error) => {
            tracing::error!(%error, "sandbox storage failed");
            Err(refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "the bank is unavailable; try again",
                text,
            ))
        }
    }
}

/// `GET /bank/pay?payload=...`: whom you pay and how much, to confirm.
async fn confirm(State(sandbox): State<Sandbox>, Query(query): Query<PayQuery>) -> Page {
    let (payload, _) = match payee(&sandbox, &query.payload).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let body = format!(
        "<dl><dt>To</dt><dd>{name}, {city}</dd><dt>Reference</dt><dd>{reference}</dd>\
         <dt>Account</dt><dd>{account}</dd></dl>\
         <form method=\"post\" action=\"/bank/transfers\">\
         <input type=\"hidden\" name=\"payload\" value=\"{payload}\">\
         <label for=\"amount\">Amount ({currency})</label> \
         <input id=\"amount\" name=\"amount\" value=\"{amount}\" inputmode=\"decimal\" required> \
         <button type=\"submit\">Pay</button></form>",
        name = escape(&payload.merchant_name),
        city = escape(&payload.merchant_city),
        reference = escape(&payload.reference),
        account = escape(&payload.account),
        payload = escape(query.payload.trim()),
        currency = payload.currency.code(),
        amount = payload.amount,
    );
    page(StatusCode::OK, "Confirm the payment", &body)
}

#[derive(Debug, Deserialize)]
struct TransferForm {
    payload: String,
    amount: String,
}

/// `POST /bank/transfers`: sends the money.
async fn transfer(State(sandbox): State<Sandbox>, Form(form): Form<TransferForm>) -> Page {
    let (payload, id) = match payee(&sandbox, &form.payload).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let amount = match Decimal::from_str(form.amount.trim()) {
        Ok(amount)
            if amount > Decimal::ZERO
                && amount.scale() <= payload.currency.minor_units()
                && amount < Decimal::from(10_000_000) =>
        {
            amount
        }
        _ => {
            return refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "the amount must be a positive number with at most {} decimals",
                    payload.currency.minor_units()
                ),
                &form.payload,
            );
        }
    };
    if let Err(error) = store::add_transfer(&sandbox.pool, id, amount).await {
        tracing::error!(%error, "sandbox storage failed");
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the bank is unavailable; nothing was paid",
            &form.payload,
        );
    }
    sandbox.queued.notify_one();
    tracing::info!(request = %store::request_id(id), %amount, "sandbox transfer");
    page(
        StatusCode::OK,
        "Paid",
        &format!(
            "<p role=\"status\">You paid {amount} {currency} to {name} (reference {reference}).</p>\
             <p><a href=\"/bank\">Pay another code</a></p>",
            currency = payload.currency.code(),
            name = escape(&payload.merchant_name),
            reference = escape(&payload.reference),
        ),
    )
}

/// `/bank`.
pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/bank", get(start))
        .route("/bank/pay", get(confirm))
        .route("/bank/transfers", post(transfer))
}
