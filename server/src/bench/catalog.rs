//! `surge bench-catalog`: how fast search and item pages are, at a given catalog size.
//!
//! It seeds the demo catalog into databases of its own, starts a server in this process on a
//! free loopback port, drives it with a fixed number of concurrent clients for a fixed time per
//! phase, and prints the figures. Latency is measured per request from send to the last byte.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::catalog::repo;
use app::shard::id::ItemId;
use rand::Rng;

use super::Figures;
use crate::config::Settings;
use crate::startup::Application;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub items: u64,
    pub concurrency: usize,
    pub duration: Duration,
}

/// Words a shopper types, some misspelled on purpose (fuzzy matching is the expensive part).
const QUERIES: &[&str] = &[
    "oled tv",
    "headphones",
    "hedphones",
    "espresso machine",
    "expresso",
    "gaming laptop",
    "running shoes",
    "robot vacum",
    "board game",
    "mirrorless camera",
    "winter jacket",
    "air fryer",
    "smartphone pro",
    "lumina",
    "cookbook",
    "tent",
];

/// Runs `concurrency` clients that each send `next()`'s request until `duration` is over.
async fn drive(
    options: BenchOptions,
    client: reqwest::Client,
    urls: impl Fn(&mut rand::rngs::ThreadRng) -> String + Clone + Send + 'static,
) -> Figures {
    let started = Instant::now();
    let deadline = started + options.duration;
    let workers = (0..options.concurrency)
        .map(|_| {
            let client = client.clone();
            let urls = urls.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let url = urls(&mut rand::rng());
                    let sent = Instant::now();
                    let ok = match client.get(&url).send().await {
                        Ok(response) => {
                            let success = response.status().is_success();
                            success && response.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed());
                    if !ok {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect::<Vec<_>>();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((found, failed)) = worker.await {
            latencies.extend(found);
            errors += failed;
        }
    }
    Figures::new(latencies, errors, started.elapsed())
}

/// Seeds, serves, measures, cleans up; prints a Markdown table.
pub async fn run(settings: &Settings, options: BenchOptions) -> anyhow::Result<()> {
    super::with_own_databases(settings, |settings| async move {
        measure(&settings, options).await
    })
    .await
}

async fn measure(settings: &Settings, options: BenchOptions) -> anyhow::Result<()> {
    let seeding = crate::startup::connect(settings, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    eprintln!("seeding {} items…", options.items);
    app::catalog::seed::seed(&seeding, options.items, 2026, |_| {}).await?;
    let mut ids: Vec<ItemId> = Vec::new();
    for (shard, database) in seeding.shards.shards() {
        let mut connection = database.acquire().await?;
        let items = repo::items_after(&mut connection, shard, 0, 2_000).await?;
        ids.extend(items.into_iter().map(|item| item.id));
    }
    seeding.shards.close().await;
    anyhow::ensure!(!ids.is_empty(), "no items were seeded");

    eprintln!("starting the server (the index is built at start)…");
    let built = Instant::now();
    let application = Application::build(settings, false).await?;
    let index_build = built.elapsed();
    let addr = application.addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.serve(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;

    eprintln!(
        "search: {} clients for {:?}…",
        options.concurrency, options.duration
    );
    let search = drive(options, client.clone(), move |rng| {
        let words = QUERIES[rng.random_range(0..QUERIES.len())].replace(' ', "+");
        format!("http://{addr}/api/v1/search?q={words}")
    })
    .await;
    eprintln!(
        "item pages: {} clients for {:?}…",
        options.concurrency, options.duration
    );
    let pages = drive(options, client, move |rng| {
        let id = ids[rng.random_range(0..ids.len())];
        format!("http://{addr}/items/{id}")
    })
    .await;
    let _ = stop.send(());
    let _ = server.await;

    println!(
        "index built from the shards in {:.2} s at start\n",
        index_build.as_secs_f64()
    );
    println!("| what | items | requests/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| search (`GET /api/v1/search`) | {} {}",
        options.items,
        search.cells()
    );
    println!(
        "| item page (`GET /items/{{id}}`, SSR) | {} {}",
        options.items,
        pages.cells()
    );
    Ok(())
}
