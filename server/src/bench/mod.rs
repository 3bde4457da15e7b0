//! The benchmarks behind `surge bench-catalog`, `surge bench-checkout` and `surge load`
//! (`flash-sale`, `black-friday`). Each one works on
//! databases and Redis keys of its own (a fresh prefix on the configured servers), starts a server
//! in this process on a free loopback port, drives it with a fixed number of concurrent clients
//! for a fixed time per phase, prints a Markdown table, and drops what it made.

pub mod baseline;
pub mod black_friday;
pub mod catalog;
pub mod checkout;
pub mod cpu;
pub mod flash_sale;
pub mod stage;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Settings;

/// The figures of one kind of request in one phase.
pub struct Figures {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
}

impl Figures {
    /// Figures of `latencies` (any order) measured over `elapsed`.
    pub fn new(mut latencies: Vec<Duration>, errors: usize, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        Figures {
            requests: latencies.len(),
            errors,
            elapsed,
            latencies,
        }
    }

    /// These figures and `other`'s together, as if measured in one stretch of both their times.
    pub fn and(self, other: Figures) -> Figures {
        let mut latencies = self.latencies;
        latencies.extend(other.latencies);
        Figures::new(
            latencies,
            self.errors + other.errors,
            self.elapsed + other.elapsed,
        )
    }

    /// Requests answered.
    pub fn answered(&self) -> usize {
        self.requests
    }

    /// Requests answered a second.
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }

    /// `| per second | p50 ms | p90 ms | p99 ms | max ms | errors |`
    pub fn cells_with_p90(&self) -> String {
        let per_second = self.per_second();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "| {per_second:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            ms(self.percentile(0.50)),
            ms(self.percentile(0.90)),
            ms(self.percentile(0.99)),
            ms(self.latencies.last().copied().unwrap_or_default()),
            self.errors
        )
    }

    /// `| per second | p50 ms | p99 ms | max ms | errors |`
    pub fn cells(&self) -> String {
        let per_second = self.per_second();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "| {per_second:.0} | {:.1} | {:.1} | {:.1} | {} |",
            ms(self.percentile(0.50)),
            ms(self.percentile(0.99)),
            ms(self.latencies.last().copied().unwrap_or_default()),
            self.errors
        )
    }
}

/// Creates and migrates databases of a prefix of its own, runs `measure` on them (and a free
/// port), then drops the databases and Redis keys of that prefix, whether `measure` succeeded or
/// not.
pub async fn with_own_databases<F, Fut>(settings: &Settings, measure: F) -> anyhow::Result<()>
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut settings = settings.clone();
    let unique: u32 = rand::random();
    settings.database.prefix = format!("bench{unique:08x}");
    settings.redis.key_prefix = settings.database.prefix.clone();
    settings.http.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let topology = settings.topology()?;
    let result = match app::shard::migrate::migrate_all(&topology).await {
        Ok(()) => measure(settings.clone()).await,
        Err(error) => Err(error.into()),
    };
    app::shard::migrate::drop_all(&topology).await?;
    let redis = app::redis_store::Redis::connect_lazy(&settings.redis)?;
    redis.delete_all_keys().await?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_measured_in_two_turns_add_up() {
        let ms = Duration::from_millis;
        let first = Figures::new(vec![ms(3), ms(1)], 1, Duration::from_secs(1));
        let second = Figures::new(vec![ms(2); 5], 0, Duration::from_secs(2));
        let both = first.and(second);
        assert_eq!(both.requests, 7);
        assert_eq!(both.errors, 1);
        assert!((both.per_second() - 7.0 / 3.0).abs() < 1e-9);
        assert_eq!(both.latencies.first(), Some(&ms(1)));
        assert_eq!(both.latencies.last(), Some(&ms(3)));
        assert_eq!(both.percentile(0.5), ms(2));
    }
}
