//! The background jobs every server copy runs: the outbox relay, the event stream follower
//! (which drops stale cache entries and hands changed items to the indexer, which keeps this
//! copy's search index current), the expiry of overdue stock holds, the payment poller and the
//! refund sender.
//! All are safe to run in every copy at once and to stop at any point (see `app::events` and
//! `app::payments::service`).

use std::collections::BTreeSet;
use std::time::Duration;

use app::events::relay::{self, BATCH_ROWS};
use app::events::stream::Cursor;
use app::search::service::Urgency;
use app::shard::id::ItemId;
use app::state::AppState;
use app::{catalog, checkout, payments, search};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often the relay looks for new events when the last pass found few.
const RELAY_IDLE: Duration = Duration::from_millis(200);
/// How long a job waits after a failure before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Starts the jobs; abort the handles to stop them.
pub fn spawn(state: &AppState, events: Cursor) -> Vec<JoinHandle<()>> {
    let (changed, changes) = mpsc::unbounded_channel();
    vec![
        tokio::spawn(relay_outbox(state.clone())),
        tokio::spawn(follow_events(state.clone(), events, changed)),
        tokio::spawn(keep_index(state.clone(), changes)),
        tokio::spawn(expire_holds(state.clone())),
        tokio::spawn(poll_payments(state.clone())),
        tokio::spawn(send_refunds(state.clone())),
    ]
}

/// Logs the first failure of a streak and the recovery, not every retry.
#[derive(Default)]
struct FailureLog {
    failing: bool,
}

impl FailureLog {
    fn failed(&mut self, job: &str, error: &dyn std::fmt::Display) {
        if !self.failing {
            tracing::warn!(job, %error, "job failing; retrying every second");
            self.failing = true;
        }
    }

    fn succeeded(&mut self, job: &str) {
        if self.failing {
            tracing::info!(job, "job recovered");
            self.failing = false;
        }
    }
}

async fn relay_outbox(state: AppState) {
    let mut log = FailureLog::default();
    loop {
        match relay::relay_once(&state).await {
            Ok(published) => {
                log.succeeded("outbox relay");
                // A full batch means more may be waiting: go again at once.
                if published < BATCH_ROWS as usize {
                    tokio::time::sleep(RELAY_IDLE).await;
                }
            }
            Err(error) => {
                log.failed("outbox relay", &error);
                tokio::time::sleep(RETRY_AFTER_FAILURE).await;
            }
        }
    }
}

/// How often the expiry job looks for overdue holds. Checkout reclaims an item's expired holds by
/// itself, so this only keeps the displayed stock fresh and ends unpaid orders.
const EXPIRY_EVERY: Duration = Duration::from_secs(1);

async fn expire_holds(state: AppState) {
    let mut log = FailureLog::default();
    loop {
        match checkout::service::expire_due_holds(&state).await {
            Ok(_) => log.succeeded("hold expiry"),
            Err(error) => log.failed("hold expiry", &error),
        }
        tokio::time::sleep(EXPIRY_EVERY).await;
    }
}

/// How often the poller and the refund sender look for due work.
const PAYMENTS_EVERY: Duration = Duration::from_secs(1);

async fn poll_payments(state: AppState) {
    let mut log = FailureLog::default();
    loop {
        match payments::service::poll_due(&state).await {
            Ok(_) => log.succeeded("payment poller"),
            Err(error) => log.failed("payment poller", &error),
        }
        tokio::time::sleep(PAYMENTS_EVERY).await;
    }
}

async fn send_refunds(state: AppState) {
    let mut log = FailureLog::default();
    loop {
        match payments::service::send_due_refunds(&state).await {
            Ok(_) => log.succeeded("refund sender"),
            Err(error) => log.failed("refund sender", &error),
        }
        tokio::time::sleep(PAYMENTS_EVERY).await;
    }
}

async fn follow_events(
    state: AppState,
    mut cursor: Cursor,
    changed: mpsc::UnboundedSender<(ItemId, Urgency)>,
) {
    let mut log = FailureLog::default();
    loop {
        match cursor.next_batch(&state).await {
            Ok(events) => {
                log.succeeded("event follower");
                catalog::service::apply_events(&state, &events).await;
                for event in &events {
                    if let Some(item) = search::service::changed_item(event)
                        && changed.send(item).is_err()
                    {
                        return;
                    }
                }
            }
            Err(error) => {
                log.failed("event follower", &error);
                tokio::time::sleep(RETRY_AFTER_FAILURE).await;
            }
        }
    }
}

/// The least time between two updates of the search index. Each one is a commit (a new segment,
/// a new searcher, and the engine's recent answers dropped), so a sale's stream of stock changes
/// becomes a few commits a second, not hundreds. A change reaches search results this long after
/// the relay's pass at most.
const INDEX_EVERY: Duration = Duration::from_millis(500);

/// The same when every pending change is a hold's ([`Urgency::Sale`]): the commits were a tenth
/// of the shop's CPU in a sale's holds, and stock in search results may lag a sale by this much.
pub(crate) const SALE_INDEX_EVERY: Duration = Duration::from_secs(2);

/// Takes changed items from the follower and reindexes them, each item once however often it
/// changed meanwhile. Items whose update failed are kept and tried again at the next update.
async fn keep_index(state: AppState, mut changes: mpsc::UnboundedReceiver<(ItemId, Urgency)>) {
    let mut log = FailureLog::default();
    let mut pending = BTreeSet::new();
    let mut prompt = false;
    let mut last = Instant::now()
        .checked_sub(SALE_INDEX_EVERY)
        .unwrap_or_else(Instant::now);
    loop {
        if pending.is_empty() {
            let Some((item, urgency)) = changes.recv().await else {
                return;
            };
            pending.insert(item);
            prompt |= urgency == Urgency::Prompt;
        }
        loop {
            let due = last
                + if prompt {
                    INDEX_EVERY
                } else {
                    SALE_INDEX_EVERY
                };
            tokio::select! {
                () = tokio::time::sleep_until(due) => break,
                change = changes.recv() => match change {
                    Some((item, urgency)) => {
                        pending.insert(item);
                        prompt |= urgency == Urgency::Prompt;
                    }
                    None => return,
                },
            }
        }
        match search::service::reindex(&state, &pending).await {
            Ok(()) => {
                log.succeeded("search indexer");
                pending.clear();
                prompt = false;
            }
            Err(error) => log.failed("search indexer", &error),
        }
        last = Instant::now();
    }
}
