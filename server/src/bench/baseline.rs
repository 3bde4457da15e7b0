//! Baselines: the ceilings a load run's figures are read against, measured in the same run on the
//! same machine, so that a slower or busier machine lowers both and the ratio stays honest.
//!
//! Each is closed-loop: a fixed number of clients, each sending its next request as soon as the
//! last one answered, for a fixed time; what counts is how many a second are answered.
//!
//! - the same HTTP stack (router, layers, keep-alive connections, client) answering a trivial
//!   route, `GET /livez`: the most any read could reach;
//! - the hold transaction (`app::checkout::service::hold_lines`: conditional stock update, order,
//!   line, hold, ledger and outbox rows, one durable commit) run straight on the MariaDB servers
//!   through sqlx, without HTTP, Redis, the cart, the catalog cache or the idempotency lookup: the
//!   most checkouts could reach. It runs on databases of its own, over items on every shard.
//!
//! A ceiling is the most a side answers, and the number of clients that reaches it differs: the
//! direct transaction fills the two cores with fewer clients than holds through the shop, whose
//! every hold waits on a dozen more round trips. So both holds baselines are measured at several
//! numbers of clients (see [`holds`]), and each is read at its best.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app::accounts::model::UserId;
use app::catalog::model::Item;
use app::checkout::service::{Attempt, ShardFailure, ShardLine, hold_lines};
use app::money::Currency;
use rand::Rng;
use tokio::time::Instant;

use super::Figures;
use super::cpu::{CpuReading, CpuSpent};
use crate::config::Settings;
use crate::startup;

/// Items the direct hold baseline spreads its transactions over (on every shard).
const DIRECT_ITEMS: u32 = 300;

/// One closed-loop baseline measured at several numbers of clients.
pub struct Sweep {
    /// Each number of clients tried, in order.
    pub levels: Vec<Level>,
}

/// One number of clients of a sweep: what it answered, and the CPU every process spent on it.
pub struct Level {
    pub clients: usize,
    pub figures: Figures,
    pub cpu: CpuSpent,
}

impl Level {
    /// Each kind of process's CPU for one answer, in µs, busiest first.
    pub fn cpu_each(&self) -> Vec<(&'static str, f64)> {
        self.cpu.micros_each(self.figures.answered())
    }
}

impl Sweep {
    /// The level that answered the most a second.
    pub fn best(&self) -> Option<&Level> {
        self.levels
            .iter()
            .max_by(|a, b| a.figures.per_second().total_cmp(&b.figures.per_second()))
    }

    /// The best level's rate (0 when nothing ran).
    pub fn best_per_second(&self) -> f64 {
        self.best().map_or(0.0, |level| level.figures.per_second())
    }
}

/// What `measure` answers with `from` clients, then twice as many, and so on up to `to`: each
/// level one closed-loop baseline. (A rule that stops once a doubling answers no more stopped
/// too early: in the shop's latency-bound range, twice the clients can answer the same and four
/// times a sixth more.)
async fn levels<T, F, Fut>(from: usize, to: usize, mut measure: F) -> Vec<(usize, T)>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = T>,
{
    let mut levels = Vec::new();
    let mut clients = from.max(1);
    loop {
        levels.push((clients, measure(clients).await));
        if clients * 2 > to.max(from) {
            return levels;
        }
        clients *= 2;
    }
}

/// Runs `clients` loops of `job` until `duration` has passed; `job(client, round)` answers
/// whether its request succeeded. Latency is from each request's send to its answer.
pub async fn closed_loop<F, Fut>(clients: usize, duration: Duration, job: F) -> Figures
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let job = Arc::new(job);
    let started = Instant::now();
    let deadline = started + duration;
    let loops = (0..clients)
        .map(|client| {
            let job = Arc::clone(&job);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut round = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if job(client, round).await {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                    round += 1;
                }
                (latencies, errors)
            })
        })
        .collect::<Vec<_>>();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for finished in futures_util::future::join_all(loops).await {
        match finished {
            Ok((mine, my_errors)) => {
                latencies.extend(mine);
                errors += my_errors;
            }
            Err(_) => errors += 1,
        }
    }
    Figures::new(latencies, errors, started.elapsed())
}

/// The trivial route's ceiling: `clients` loops of `GET /livez` over `client`'s connections.
pub async fn trivial_route(
    client: &reqwest::Client,
    shop: &str,
    clients: usize,
    duration: Duration,
) -> Figures {
    let client = client.clone();
    let url = format!("{shop}/livez");
    closed_loop(clients, duration, move |_, _| {
        let request = client.get(&url).send();
        async move {
            match request.await {
                Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

/// Both holds baselines, swept from `from` to `to` clients (see [`levels`]), level by level: the
/// hold transaction's ceiling straight on MariaDB (each client a connection committing one hold
/// of one unit after the other, on databases of their own, made, then dropped), then `surge`'s
/// holds with as many clients. Taking turns level by level, not side after side, lets a slow
/// minute of the machine (or the database's clean-up after one side's writes) fall on both.
/// `surge(clients)` answers once what its holds set off (their events relayed and applied) has
/// passed, so that work counts in its CPU, not in the next level's direct side; the CPU of every
/// process (`shop` the shop's when it runs apart) is read around each side.
/// Answers (the direct transaction's sweep, Surge's).
pub async fn holds<F, Fut>(
    settings: &Settings,
    shop: Option<u32>,
    (from, to): (usize, usize),
    duration: Duration,
    mut surge: F,
) -> anyhow::Result<(Sweep, Sweep)>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<Figures>>,
{
    let mut measured = None;
    super::with_own_databases(settings, |settings| {
        let measured = &mut measured;
        let surge = &mut surge;
        async move {
            let state = startup::connect(&settings, settings.http.addr)?;
            let items = Arc::new(super::checkout::make_items(&state, DIRECT_ITEMS).await?);
            let both = levels(from, to, |clients| {
                let shards = state.shards.clone();
                let items = Arc::clone(&items);
                let direct = closed_loop(clients, duration, move |_, _| {
                    let shards = shards.clone();
                    let items = Arc::clone(&items);
                    async move {
                        let item = &items[rand::rng().random_range(0..items.len())];
                        hold_one(&shards, item).await.is_ok()
                    }
                });
                let through_surge = surge(clients);
                async move {
                    let before = CpuReading::now(shop);
                    let direct = direct.await;
                    let between = CpuReading::now(shop);
                    let through_surge = through_surge.await?;
                    let after = CpuReading::now(shop);
                    anyhow::Ok((
                        Level {
                            clients,
                            figures: direct,
                            cpu: between.since(&before),
                        },
                        Level {
                            clients,
                            figures: through_surge,
                            cpu: after.since(&between),
                        },
                    ))
                }
            })
            .await;
            state.shards.close().await;
            let mut direct = Vec::new();
            let mut through_surge = Vec::new();
            for (_, level) in both {
                let (direct_level, surge_level) = level?;
                direct.push(direct_level);
                through_surge.push(surge_level);
            }
            *measured = Some((
                Sweep { levels: direct },
                Sweep {
                    levels: through_surge,
                },
            ));
            Ok(())
        }
    })
    .await?;
    measured.ok_or_else(|| anyhow::anyhow!("the holds baselines did not run"))
}

/// One hold of one unit of `item` for a customer of its own, committed: the hold transaction and
/// nothing around it.
async fn hold_one(shards: &app::shard::router::ShardRouter, item: &Item) -> anyhow::Result<()> {
    let shard = item.id.shard();
    let database = shards.shard(shard)?;
    let checkout_id = format!("{:032x}", rand::random::<u128>());
    // A new customer each time: the per-customer limit is checked but never reached.
    let attempt = Attempt {
        checkout_id: &checkout_id,
        customer: UserId(rand::rng().random_range(1..1 << 40)),
        currency: Currency::EUR,
        expires: chrono::Utc::now() + chrono::Duration::minutes(2),
    };
    let line = ShardLine {
        item: item.id,
        category: item.category_id,
        name: item.name.clone(),
        quantity: 1,
        unit_price: item.price,
        seen_stock: item.stock,
    };
    let mut tx = database.begin().await?;
    match hold_lines(&mut tx, shard, attempt, std::slice::from_ref(&line)).await? {
        Ok(_) => {
            tx.commit().await?;
            Ok(())
        }
        Err(ShardFailure::Short { .. } | ShardFailure::OverLimit { .. }) => {
            tx.rollback().await?;
            anyhow::bail!("{} refused a hold", item.id)
        }
        Err(ShardFailure::Error(error)) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers of clients of a sweep from `from` to `to`.
    async fn swept(from: usize, to: usize) -> Vec<usize> {
        let levels = levels(from, to, |clients| async move { clients }).await;
        levels.iter().map(|(clients, _)| *clients).collect()
    }

    #[tokio::test]
    async fn a_sweep_doubles_the_clients_up_to_its_most() {
        assert_eq!(swept(8, 64).await, [8, 16, 32, 64]);
        assert_eq!(swept(8, 40).await, [8, 16, 32]);
        assert_eq!(swept(0, 0).await, [1]);
    }

    #[tokio::test]
    async fn the_best_level_is_the_one_that_answered_most() {
        let before = CpuReading::now(None);
        let levels = levels(4, 32, |clients| {
            let answered =
                vec![Duration::from_millis(1); [50, 80, 70, 75][clients.ilog2() as usize - 2]];
            async move { Figures::new(answered, 0, Duration::from_secs(1)) }
        })
        .await;
        let sweep = Sweep {
            levels: levels
                .into_iter()
                .map(|(clients, figures)| Level {
                    clients,
                    figures,
                    cpu: CpuReading::now(None).since(&before),
                })
                .collect(),
        };
        assert_eq!(sweep.best().map(|level| level.clients), Some(8));
        assert!((sweep.best_per_second() - 80.0).abs() < 1e-9);
    }
}
