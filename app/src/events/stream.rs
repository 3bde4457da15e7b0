//! Reading the event stream: every server copy follows it from the moment it starts and applies
//! each event to what it keeps locally or in Redis.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};

use super::Event;
use super::relay::stream_key;
use crate::redis_store::RedisError;
use crate::state::AppState;

/// How long one read waits for new events.
const BLOCK: Duration = Duration::from_millis(1000);
/// The most events handled per read.
const COUNT: usize = 500;

/// Where a consumer is in the stream, and its own connection: a blocking read would stall every
/// other command queued on the shared multiplexed connection.
pub struct Cursor {
    last_id: String,
    connection: Option<MultiplexedConnection>,
}

impl Cursor {
    /// Starts with the events published from now on.
    pub fn from_now() -> Self {
        Cursor {
            last_id: "$".into(),
            connection: None,
        }
    }

    /// Starts after the newest event already in the stream: take it *before* building anything
    /// from the databases, so the changes made meanwhile are applied again, not missed. Without
    /// Redis, it starts with the events published from when the stream is reachable.
    pub async fn at_latest(state: &AppState) -> Self {
        let key = stream_key(&state.redis);
        let mut connection = state.redis.connection();
        let newest: Result<StreamRangeReply, _> =
            redis::AsyncCommands::xrevrange_count(&mut connection, &key, "+", "-", 1).await;
        match newest {
            Ok(reply) => Cursor {
                last_id: reply
                    .ids
                    .first()
                    .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone()),
                connection: None,
            },
            Err(error) => {
                tracing::warn!(%error, "event stream unreachable; following it from when it is");
                Cursor::from_now()
            }
        }
    }

    /// Waits for the next events (at most [`BLOCK`]) and returns them, moving past them. Payloads
    /// that do not parse are logged and skipped: one bad event must not stop the stream.
    pub async fn next_batch(&mut self, state: &AppState) -> Result<Vec<Event>, RedisError> {
        let key = stream_key(&state.redis);
        let options = StreamReadOptions::default()
            .block(usize::try_from(BLOCK.as_millis()).unwrap_or(1000))
            .count(COUNT);
        let connection = match &mut self.connection {
            Some(connection) => connection,
            empty => empty.insert(state.redis.dedicated(BLOCK * 3).await?),
        };
        let reply: Result<Option<StreamReadReply>, _> =
            redis::AsyncCommands::xread_options(connection, &[&key], &[&self.last_id], &options)
                .await;
        let reply = reply.inspect_err(|_| self.connection = None)?;
        let mut events = Vec::new();
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            self.last_id.clone_from(&entry.id);
            let Some(payload) = entry.get::<String>("event") else {
                tracing::warn!(id = %entry.id, "stream entry without an event");
                continue;
            };
            match serde_json::from_str(&payload) {
                Ok(event) => events.push(event),
                Err(error) => tracing::warn!(id = %entry.id, %error, "unreadable event skipped"),
            }
        }
        Ok(events)
    }
}
