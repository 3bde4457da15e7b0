//! The client of a processor's merchant API over HTTP (the sandbox's, `surge psp-sandbox`), behind
//! a circuit breaker: every call has a deadline; failures (no connection, a timeout, a 5xx, an
//! answer that cannot be read) count toward opening the breaker, and while it is open calls fail
//! at once with a clear message. A 4xx is the processor answering, not failing.

use std::time::Duration;

use app::payments::breaker::CircuitBreaker;
use app::payments::processor::{
    PaymentProcessor, PaymentRequestInput, ProcessorError, ProcessorRefund, ProcessorRequest,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A processor's merchant API.
pub struct HttpProcessor {
    client: reqwest::Client,
    base_url: String,
    api_key: String,
    breaker: CircuitBreaker,
}

impl HttpProcessor {
    /// A client of `base_url` with `api_key`; each call waits at most `timeout`.
    pub fn new(
        base_url: &str,
        api_key: &str,
        timeout: Duration,
        breaker: CircuitBreaker,
    ) -> anyhow::Result<Self> {
        Ok(HttpProcessor {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            breaker,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ProcessorError> {
        if !self.breaker.allow() {
            return Err(ProcessorError::Unavailable {
                reason: "it failed repeatedly; calls resume shortly".into(),
            });
        }
        let unavailable = |reason: String| {
            self.breaker.failed();
            ProcessorError::Unavailable { reason }
        };
        let response = match request.bearer_auth(&self.api_key).send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return Err(unavailable("no answer in time".into()));
            }
            Err(_) => return Err(unavailable("cannot reach it".into())),
        };
        let status = response.status();
        if status.is_server_error() {
            return Err(unavailable(format!("it answered {status}")));
        }
        if status.is_client_error() {
            self.breaker.succeeded();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            return Err(ProcessorError::Rejected {
                status: status.as_u16(),
                message: body["message"].as_str().unwrap_or("refused").to_owned(),
            });
        }
        match response.json::<T>().await {
            Ok(value) => {
                self.breaker.succeeded();
                Ok(value)
            }
            Err(_) => Err(unavailable("its answer could not be read".into())),
        }
    }
}

impl PaymentProcessor for HttpProcessor {
    fn create_request<'a>(
        &'a self,
        input: &'a PaymentRequestInput,
    ) -> BoxFuture<'a, Result<ProcessorRequest, ProcessorError>> {
        let request = self
            .client
            .post(format!("{}/v1/payment-requests", self.base_url))
            .header("idempotency-key", &input.idempotency_key)
            .json(&json!({
                "amount": input.amount.to_string(),
                "currency": input.currency.code(),
                "reference": input.reference,
                "expires_in_s": input.expires_in_s,
                "webhook_url": input.webhook_url,
            }));
        self.call(request).boxed()
    }

    fn request<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProcessorRequest, ProcessorError>> {
        let request = self
            .client
            .get(format!("{}/v1/payment-requests/{id}", self.base_url));
        self.call(request).boxed()
    }

    fn refund<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
        amount: Option<Decimal>,
    ) -> BoxFuture<'a, Result<ProcessorRefund, ProcessorError>> {
        let request = self
            .client
            .post(format!(
                "{}/v1/payment-requests/{id}/refunds",
                self.base_url
            ))
            .header("idempotency-key", idempotency_key)
            .json(&json!({ "amount": amount.map(|a| a.to_string()) }));
        self.call(request).boxed()
    }
}
