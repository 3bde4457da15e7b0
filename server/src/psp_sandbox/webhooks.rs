//! Sending webhooks: every queued event is posted to the merchant, signed (see
//! `app::payments::signature`), until the merchant answers 2xx. A failed attempt waits 1, 2, 4, ...
//! seconds (at most five minutes) before the next; after `GIVE_UP_AFTER` attempts the event stays
//! undelivered and the merchant relies on polling the status API. The queue is in the database,
//! so a restart of the sandbox goes on where it stopped.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::Sandbox;
use super::faults::FaultSwitch;
use super::store::{self, DueWebhook};

/// Attempts before an event is given up (about two hours of retries).
pub const GIVE_UP_AFTER: u32 = 30;
/// How often the queue is looked at when no transfer wakes the sender.
const POLL: Duration = Duration::from_millis(200);
/// How long the merchant has to answer one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The delay after the `attempts`-th failed attempt.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.min(9)).min(Duration::from_secs(300))
}

/// Sends due webhooks until the task is dropped.
pub async fn run(sandbox: Sandbox) {
    let client = match reqwest::Client::builder().timeout(ATTEMPT_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "no HTTP client: webhooks are not sent");
            return;
        }
    };
    loop {
        match store::due_webhooks(&sandbox.pool, 50).await {
            // A batch is delivered concurrently, as a processor's senders do: one slow merchant
            // answer does not hold up the events behind it.
            Ok(due) => {
                let sends = due
                    .into_iter()
                    .filter(|w| w.attempts < GIVE_UP_AFTER)
                    .map(|webhook| deliver(&sandbox, &client, webhook));
                futures_util::future::join_all(sends).await;
            }
            Err(error) => tracing::warn!(%error, "cannot read the webhook queue"),
        }
        // A transfer's event wakes the sender at once; others wait for the next look.
        let _ = tokio::time::timeout(POLL, sandbox.queued.notified()).await;
    }
}

async fn deliver(sandbox: &Sandbox, client: &reqwest::Client, webhook: DueWebhook) {
    let faults = sandbox.faults.now();
    if let Some(delay) = sandbox.faults.hold_back(webhook.id) {
        let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        if let Err(error) = store::webhook_postponed(&sandbox.pool, webhook.id, next).await {
            tracing::warn!(%error, "cannot hold a webhook back");
        }
        return;
    }
    if FaultSwitch::roll(faults.drop_webhook_rate) {
        tracing::info!(webhook = webhook.id, "injected fault: webhook lost");
        if let Err(error) = store::webhook_delivered(&sandbox.pool, webhook.id).await {
            tracing::warn!(%error, "cannot record a webhook attempt");
        }
        return;
    }
    let copies = if FaultSwitch::roll(faults.duplicate_webhook_rate) {
        2
    } else {
        1
    };
    let request = match store::get(&sandbox.pool, &sandbox.base_url, webhook.request_id).await {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "cannot read a webhook's request");
            return;
        }
    };
    let body = json!({
        "id": format!("evt_{}", webhook.id),
        "type": "payment.received",
        "transfer_id": format!("tr_{}", webhook.transfer_id),
        "data": request,
    })
    .to_string();
    let secret = sandbox
        .settings
        .webhook_secret
        .as_deref()
        .unwrap_or_default();
    let signature =
        app::payments::signature::sign(secret.as_bytes(), Utc::now().timestamp(), body.as_bytes());
    let mut outcome = None;
    for _ in 0..copies {
        outcome = Some(
            client
                .post(&webhook.url)
                .header("content-type", "application/json")
                .header(app::payments::signature::HEADER, &signature)
                .body(body.clone())
                .send()
                .await,
        );
    }
    let Some(outcome) = outcome else {
        return;
    };
    let failure = match outcome {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("answered {}", response.status())),
        Err(error) => Some(error.to_string()),
    };
    let saved = match failure {
        None => store::webhook_delivered(&sandbox.pool, webhook.id).await,
        Some(error) => {
            let next = Utc::now()
                + chrono::Duration::from_std(backoff(webhook.attempts + 1))
                    .unwrap_or_else(|_| chrono::Duration::seconds(300));
            tracing::info!(webhook = webhook.id, attempts = webhook.attempts + 1, %error, "webhook not acknowledged");
            store::webhook_failed(&sandbox.pool, webhook.id, next, &error).await
        }
    };
    if let Err(error) = saved {
        tracing::warn!(%error, "cannot record a webhook attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(30), Duration::from_secs(300));
    }
}
