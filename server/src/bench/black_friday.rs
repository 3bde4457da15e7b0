//! `surge load black-friday`: the capacity plan's mix, open-loop, against a shop of its own with
//! the sandbox processor: 2,500 reads a second (search, item pages, category pages, order-status
//! polls) and 500 writes a second (add to cart, check out, then pay through the sandbox's bank or
//! cancel), times a multiplier, for a bounded time, over up to 3,000 connections held open.
//!
//! Every request has a due time fixed before the run (`start + n / rate`); a request's latency is
//! measured from it, so a server that falls behind shows as latency, never as fewer requests
//! (no coordinated omission). The later steps of a purchase are timed from their own send. A
//! sold-out answer is counted apart, not as an error. The run ends with the audit, prints a table
//! per operation, and draws p99 latency per second as an SVG.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::catalog::seed;
use app::shard::id::ItemId;
use app::state::AppState;
use rand::Rng;
use reqwest::header::ACCEPT_ENCODING;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use super::baseline::Sweep;
use super::cpu::{CpuReading, CpuSpent};
use super::stage::{ShopProcess, Stage};
use super::{Figures, baseline};
use crate::config::Settings;
use crate::startup;

/// The plan's rates at 1×.
const READS_PER_S: f64 = 2500.0;
const WRITES_PER_S: f64 = 500.0;
/// A purchase is three writes: the cart line, the checkout, then the payment or the cancel.
const WRITES_PER_PURCHASE: f64 = 3.0;
/// The least stock an item needs to be bought in the holds baseline (never sold out there).
const STOCKED: i32 = 50;
/// Customers on the payment page, whose checkouts the order-status reads poll.
const WAITING: usize = 200;
/// The longest the run waits for what came before it to pass through the shop.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// The run to make.
#[derive(Debug, Clone)]
pub struct BlackFridayOptions {
    pub duration: Duration,
    pub multiplier: f64,
    pub connections: usize,
    pub items: u64,
    pub customers: usize,
    /// Where the latency plot goes.
    pub plot: PathBuf,
    /// How long each baseline runs before the mix (zero: none), and with how many clients.
    pub baseline: Duration,
    pub baseline_clients: usize,
    /// Where the shop runs.
    pub shop: ShopProcess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Search,
    ItemPage,
    CategoryPage,
    OrderStatus,
    Cart,
    Checkout,
    Pay,
    Cancel,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Search => "read: search (`GET /api/v1/search`)",
            Op::ItemPage => "read: item page (`GET /items/{id}`, SSR)",
            Op::CategoryPage => "read: category page (`GET /categories/{slug}`, SSR)",
            Op::OrderStatus => "read: order status (`GET /api/v1/checkouts/{id}/payment`)",
            Op::Cart => "write: cart line (`PUT /api/v1/cart/items/{id}`)",
            Op::Checkout => "write: checkout (`POST /api/v1/checkouts`)",
            Op::Pay => "write: payment request (`POST .../payment`)",
            Op::Cancel => "write: cancel (`POST /api/v1/orders/{id}/cancel`)",
        }
    }

    fn is_read(self) -> bool {
        matches!(
            self,
            Op::Search | Op::ItemPage | Op::CategoryPage | Op::OrderStatus
        )
    }
}

/// One request's outcome.
struct Sample {
    op: Op,
    /// Its due time, since the start.
    due: Duration,
    latency: Duration,
    sold_out: bool,
    error: Option<String>,
}

/// What the requests of one phase need to know.
struct World {
    parts: Arc<Parts>,
    /// Customers' session tokens not in a purchase now (a cart belongs to one purchase at a time).
    idle: Mutex<Vec<String>>,
    samples: mpsc::UnboundedSender<Sample>,
    start: Instant,
    /// Makes this phase's idempotency keys its own (a customer buys in several phases).
    phase_key: u64,
}

const QUERIES: [&str; 8] = [
    "kettle",
    "lamp",
    "chair",
    "wool socks",
    "headphones",
    "lego",
    "coffee",
    "jacket",
];

/// What a run came to.
pub struct BlackFridayOutcome {
    /// Requests sent (each answered, in error or not).
    pub requests: usize,
    pub errors: usize,
    pub audit_clean: bool,
    /// The printed report.
    pub report: String,
}

/// Runs the scenario on databases of its own and prints the report.
pub async fn run(settings: &Settings, options: BlackFridayOptions) -> anyhow::Result<()> {
    super::with_own_databases(settings, |settings| async move {
        let outcome = scenario(&settings, &options).await?;
        println!("{}", outcome.report);
        Ok(())
    })
    .await
}

/// What every phase's requests need: the shop, its catalog and its customers.
struct Parts {
    client: reqwest::Client,
    shop: String,
    bank: String,
    items: Vec<ItemId>,
    /// Items with stock enough for the baseline's holds.
    stocked: Vec<ItemId>,
    categories: Vec<String>,
    tokens: Vec<String>,
    /// Customers waiting to pay (token, checkout ID), polling their checkout's progress.
    waiting: Vec<(String, String)>,
    connections: usize,
}

impl Parts {
    fn random_waiting(&self) -> &(String, String) {
        &self.waiting[rand::rng().random_range(0..self.waiting.len())]
    }

    fn random_item(&self) -> ItemId {
        self.items[rand::rng().random_range(0..self.items.len())]
    }
}

/// Seeds the catalog into the (migrated) databases of `settings`, starts a stage of its own,
/// makes the customers and opens the connections.
async fn prepare(
    settings: &Settings,
    items: u64,
    customers: usize,
    connections: usize,
    shop: ShopProcess,
) -> anyhow::Result<(Stage, Arc<Parts>)> {
    eprintln!("seeding {items} items…");
    let seeding = startup::connect(settings, settings.http.addr)?;
    seed::seed(&seeding, items, 7, |_| {}).await?;
    seeding.shards.close().await;
    // The run's customers stand in for a crowd many times larger: each of them checks out far
    // more often than a person would (the holds baseline's few dozen, hundreds of times a
    // minute). The rate limit is still counted on every checkout, as in a sale, but never hit.
    let mut settings = settings.clone();
    settings.checkout.per_customer_per_minute = 1_000_000_000;
    let mut stage = Stage::build(&settings, shop).await?;
    match parts(&mut stage, customers, connections).await {
        Ok(parts) => Ok((stage, Arc::new(parts))),
        Err(error) => {
            stage.close().await?;
            Err(error)
        }
    }
}

async fn parts(stage: &mut Stage, customers: usize, connections: usize) -> anyhow::Result<Parts> {
    eprintln!("making {customers} customers…");
    let made = super::checkout::customers_with_sessions(&stage.state, "friday", customers).await?;
    let tokens: Vec<String> = made.into_iter().map(|(_, token)| token).collect();
    let mut items = Vec::new();
    let mut stocked = Vec::new();
    for (shard, database) in stage.state.shards.shards() {
        let mut connection = database.acquire().await?;
        let rows: Vec<(u64, i32)> =
            sqlx::query_as("SELECT id, stock FROM items WHERE deleted_at IS NULL")
                .fetch_all(&mut *connection)
                .await?;
        for (id, stock) in rows {
            let id = ItemId::new(shard, id)?;
            items.push(id);
            if stock >= STOCKED {
                stocked.push(id);
            }
        }
    }
    let categories = app::catalog::service::list_categories(&stage.state)
        .await?
        .into_iter()
        .map(|category| category.slug)
        .collect();
    stage.open().await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(10))
        .build()?;
    let shop = format!("http://{}", stage.addr);
    hold_connections_open(&client, &shop, connections).await;
    eprintln!("sending {WAITING} customers to the payment page…");
    let mut waiting = Vec::with_capacity(WAITING);
    for (_, token) in
        super::checkout::customers_with_sessions(&stage.state, "friday-waiting", WAITING).await?
    {
        let item = stocked[rand::rng().random_range(0..stocked.len())];
        let checkout = wait_on_payment(&client, &shop, &token, item)
            .await
            .ok_or_else(|| anyhow::anyhow!("a customer could not reach the payment page"))?;
        waiting.push((token, checkout));
    }
    Ok(Parts {
        client,
        shop,
        bank: stage.bank.clone(),
        items,
        stocked,
        categories,
        tokens,
        waiting,
        connections,
    })
}

/// The request that sets customer `token`'s cart line of `item` to one unit.
fn one_unit_in_cart(
    client: &reqwest::Client,
    shop: &str,
    token: &str,
    item: ItemId,
) -> reqwest::RequestBuilder {
    client
        .put(format!("{shop}/api/v1/cart/items/{item}"))
        .bearer_auth(token)
        .json(&json!({ "quantity": 1 }))
}

/// One unit of `item` in the cart, checked out and a payment asked for, left unpaid (until the
/// hold ends): the checkout's ID.
async fn wait_on_payment(
    client: &reqwest::Client,
    shop: &str,
    token: &str,
    item: ItemId,
) -> Option<String> {
    let put = one_unit_in_cart(client, shop, token, item)
        .send()
        .await
        .ok()?;
    if !put.status().is_success() {
        return None;
    }
    let checkout: Value = client
        .post(format!("{shop}/api/v1/checkouts"))
        .bearer_auth(token)
        .header(
            "idempotency-key",
            format!("friday-waiting-{:016x}", rand::random::<u64>()),
        )
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let checkout = checkout["checkout_id"].as_str()?.to_owned();
    let paying = client
        .post(format!("{shop}/api/v1/checkouts/{checkout}/payment"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    paying.status().is_success().then_some(checkout)
}

/// One phase: the mix at `multiplier` for `duration`; every request's sample.
async fn phase(
    parts: &Arc<Parts>,
    multiplier: f64,
    duration: Duration,
) -> anyhow::Result<Vec<Sample>> {
    let (samples, mut received) = mpsc::unbounded_channel();
    let world = Arc::new(World {
        parts: Arc::clone(parts),
        idle: Mutex::new(parts.tokens.clone()),
        samples,
        start: Instant::now() + Duration::from_millis(200),
        phase_key: rand::random(),
    });
    eprintln!(
        "{:.0} reads/s and {:.0} writes/s for {duration:?} over {} connections…",
        READS_PER_S * multiplier,
        WRITES_PER_S * multiplier,
        parts.connections
    );
    let gate = Arc::new(Semaphore::new(parts.connections.max(1)));
    let reads = tokio::spawn(schedule(
        Arc::clone(&world),
        Arc::clone(&gate),
        READS_PER_S * multiplier,
        duration,
        false,
    ));
    let writes = tokio::spawn(schedule(
        Arc::clone(&world),
        Arc::clone(&gate),
        WRITES_PER_S * multiplier / WRITES_PER_PURCHASE,
        duration,
        true,
    ));
    // Each schedule returns once every request it started has finished.
    reads.await?;
    writes.await?;
    drop(world);
    let mut all = Vec::new();
    while let Some(sample) = received.recv().await {
        all.push(sample);
    }
    Ok(all)
}

/// Seeds the catalog into the (migrated) databases of `settings`, runs the scenario on a stage of
/// its own, audits.
pub async fn scenario(
    settings: &Settings,
    options: &BlackFridayOptions,
) -> anyhow::Result<BlackFridayOutcome> {
    let (stage, parts) = prepare(
        settings,
        options.items,
        options.customers,
        options.connections,
        options.shop.clone(),
    )
    .await?;
    let outcome = async {
        let baselines = if options.baseline.is_zero() {
            None
        } else {
            Some(
                measure_baselines(
                    settings,
                    &stage,
                    &parts,
                    options.baseline_clients.max(1),
                    options.baseline,
                )
                .await?,
            )
        };
        settle(&stage.state).await?;
        let before = CpuReading::now(stage.shop_pid());
        let samples = phase(&parts, options.multiplier, options.duration).await?;
        let cpu = CpuReading::now(stage.shop_pid()).since(&before);
        anyhow::Ok((baselines, samples, cpu))
    }
    .await;
    let settings = stage.close().await?;
    let (baselines, samples, cpu) = outcome?;
    let audit = crate::audit::run(&settings).await?;
    if let Some(folder) = options.plot.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)?;
    }
    std::fs::write(&options.plot, plot(&samples, options.duration))?;
    Ok(BlackFridayOutcome {
        requests: samples.len(),
        errors: samples.iter().filter(|s| s.error.is_some()).count(),
        audit_clean: audit.is_clean(),
        report: report(&samples, options, baselines.as_ref(), &cpu, &audit),
    })
}

/// `surge load steady-ramp`: the same mix, in steps of rising rate.
#[derive(Debug, Clone)]
pub struct RampOptions {
    pub step: Duration,
    /// The first multiplier, and how much each step adds.
    pub first: f64,
    pub increment: f64,
    /// No step beyond this multiplier.
    pub last: f64,
    /// The bounds: the ramp stops at the first step past either.
    pub read_p99: Duration,
    pub write_p99: Duration,
    pub connections: usize,
    pub items: u64,
    pub customers: usize,
    /// Where the shop runs.
    pub shop: ShopProcess,
}

/// One step of the ramp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RampStep {
    pub multiplier: f64,
    pub reads_per_s: f64,
    pub writes_per_s: f64,
    pub read_p99_ms: f64,
    pub write_p99_ms: f64,
    pub errors: usize,
}

impl RampStep {
    fn within(&self, options: &RampOptions) -> bool {
        self.errors == 0
            && self.read_p99_ms <= options.read_p99.as_secs_f64() * 1000.0
            && self.write_p99_ms <= options.write_p99.as_secs_f64() * 1000.0
    }
}

/// The 99th percentile of some latencies, in ms (0 for none).
fn p99_ms(mut latencies: Vec<f64>) -> f64 {
    latencies.sort_by(f64::total_cmp);
    latencies
        .get(((latencies.len() as f64 - 1.0) * 0.99).round().max(0.0) as usize)
        .copied()
        .unwrap_or(0.0)
}

/// Raises the rate step by step until p99 passes a bound (or the last multiplier); the knee is
/// the last step within. Returns the steps and whether the audit was clean.
pub async fn ramp(
    settings: &Settings,
    options: &RampOptions,
) -> anyhow::Result<(Vec<RampStep>, bool)> {
    let (stage, parts) = prepare(
        settings,
        options.items,
        options.customers,
        options.connections,
        options.shop.clone(),
    )
    .await?;
    let climbed = async {
        let mut steps = Vec::new();
        let mut multiplier = options.first;
        while multiplier <= options.last + 1e-9 {
            let before = CpuReading::now(stage.shop_pid());
            let samples = phase(&parts, multiplier, options.step).await?;
            eprint!("{}", CpuReading::now(stage.shop_pid()).since(&before));
            let latencies = |read: bool| {
                samples
                    .iter()
                    .filter(|s| s.op.is_read() == read && s.error.is_none())
                    .map(|s| s.latency.as_secs_f64() * 1000.0)
                    .collect::<Vec<_>>()
            };
            let step = RampStep {
                multiplier,
                reads_per_s: READS_PER_S * multiplier,
                writes_per_s: WRITES_PER_S * multiplier,
                read_p99_ms: p99_ms(latencies(true)),
                write_p99_ms: p99_ms(latencies(false)),
                errors: samples.iter().filter(|s| s.error.is_some()).count(),
            };
            let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
            for error in samples.iter().filter_map(|s| s.error.as_deref()) {
                *kinds.entry(error).or_default() += 1;
            }
            eprintln!(
                "{multiplier:.2}×: read p99 {:.1} ms, write p99 {:.1} ms, {} errors {kinds:?}",
                step.read_p99_ms, step.write_p99_ms, step.errors
            );
            steps.push(step);
            if !step.within(options) {
                break;
            }
            multiplier += options.increment;
        }
        anyhow::Ok(steps)
    }
    .await;
    let settings = stage.close().await?;
    let steps = climbed?;
    let audit = crate::audit::run(&settings).await?;
    Ok((steps, audit.is_clean()))
}

/// Runs the ramp on databases of its own and prints its table.
pub async fn run_ramp(settings: &Settings, options: RampOptions) -> anyhow::Result<()> {
    super::with_own_databases(settings, |settings| async move {
        let (steps, clean) = ramp(&settings, &options).await?;
        println!(
            "steady ramp: {:?} a step, bounds read p99 {:?} and write p99 {:?}",
            options.step, options.read_p99, options.write_p99
        );
        println!(
            "| multiplier | reads/s | writes/s | read p99 ms | write p99 ms | errors | within |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---|");
        for step in &steps {
            println!(
                "| {:.2}× | {:.0} | {:.0} | {:.1} | {:.1} | {} | {} |",
                step.multiplier,
                step.reads_per_s,
                step.writes_per_s,
                step.read_p99_ms,
                step.write_p99_ms,
                step.errors,
                if step.within(&options) { "yes" } else { "no" }
            );
        }
        let knee = steps.iter().take_while(|s| s.within(&options)).last();
        match knee {
            Some(knee) => println!(
                "the knee: {:.2}× (the last step within both bounds)",
                knee.multiplier
            ),
            None => println!("the knee: below the first step"),
        }
        println!(
            "audit: {}",
            if clean {
                "clean"
            } else {
                "BROKEN (run surge audit)"
            }
        );
        anyhow::ensure!(clean, "the audit found broken invariants");
        Ok(())
    })
    .await
}

/// Opens `count` keep-alive connections at once (they stay in the client's pool).
async fn hold_connections_open(client: &reqwest::Client, shop: &str, count: usize) {
    let opens = (0..count).map(|_| client.get(format!("{shop}/api/v1/categories")).send());
    let opened = futures_util::future::join_all(opens).await;
    let failed = opened.iter().filter(|r| r.is_err()).count();
    eprintln!("{} connections open ({failed} failed)", count - failed);
}

/// Spawns one task per due time, `rate` a second, for `duration`; returns when all are done.
async fn schedule(
    world: Arc<World>,
    gate: Arc<Semaphore>,
    rate: f64,
    duration: Duration,
    purchases: bool,
) {
    if rate <= 0.0 {
        return;
    }
    let requests = (rate * duration.as_secs_f64()) as u64;
    let mut running = tokio::task::JoinSet::new();
    for n in 0..requests {
        let due = world.start + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due).await;
        while running.try_join_next().is_some() {}
        let world = Arc::clone(&world);
        let gate = Arc::clone(&gate);
        running.spawn(async move {
            let Ok(_permit) = gate.acquire_owned().await else {
                return;
            };
            if purchases {
                purchase(&world, n, due).await;
            } else {
                read(&world, n, due).await;
            }
        });
    }
    while running.join_next().await.is_some() {}
}

impl World {
    fn record(&self, op: Op, due: Instant, since: Instant, outcome: Result<bool, String>) {
        let (sold_out, error) = match outcome {
            Ok(sold_out) => (sold_out, None),
            Err(error) => (false, Some(error)),
        };
        let _ = self.samples.send(Sample {
            op,
            due: due.saturating_duration_since(self.start),
            latency: since.elapsed(),
            sold_out,
            error,
        });
    }
}

/// What an answer means: `Ok(false)` success, `Ok(true)` sold out, `Err(kind)` an error.
async fn judge(
    what: &str,
    response: Result<reqwest::Response, reqwest::Error>,
) -> (Result<bool, String>, Value) {
    match response {
        Ok(r) if r.status().is_success() => {
            let json = r.json::<Value>().await.unwrap_or_default();
            (Ok(false), json)
        }
        Ok(r) if r.status().as_u16() == 409 => {
            let body = r.json::<Value>().await.unwrap_or_default();
            if body["error"] == "sold_out" || body["field"] == "item_id" {
                (Ok(true), body)
            } else {
                (Err(format!("{what} 409")), body)
            }
        }
        Ok(r) => (Err(format!("{what} {}", r.status().as_u16())), Value::Null),
        Err(e) if e.is_timeout() => (Err(format!("{what} timeout")), Value::Null),
        Err(_) => (Err(format!("{what} transport")), Value::Null),
    }
}

/// The `n`th read of the mix: 30 % search, 40 % item pages, 20 % category pages, 10 % a
/// customer's order status, each asking for a compressed answer as a browser does.
fn read_request(parts: &Parts, n: u64) -> (Op, reqwest::RequestBuilder) {
    let op = match n % 10 {
        0..=2 => Op::Search,
        3..=6 => Op::ItemPage,
        7 | 8 => Op::CategoryPage,
        _ => Op::OrderStatus,
    };
    let request = match op {
        Op::Search => {
            let query = QUERIES[(n / 10) as usize % QUERIES.len()];
            parts
                .client
                .get(format!("{}/api/v1/search?q={query}", parts.shop))
        }
        Op::ItemPage => parts
            .client
            .get(format!("{}/items/{}", parts.shop, parts.random_item())),
        Op::CategoryPage => {
            let slug = &parts.categories[(n / 10) as usize % parts.categories.len()];
            parts
                .client
                .get(format!("{}/categories/{slug}", parts.shop))
        }
        _ => {
            let (token, checkout) = parts.random_waiting();
            parts
                .client
                .get(format!(
                    "{}/api/v1/checkouts/{checkout}/payment",
                    parts.shop
                ))
                .bearer_auth(token)
        }
    };
    (op, request.header(ACCEPT_ENCODING, BROWSER_ENCODINGS))
}

/// What a browser's `Accept-Encoding` offers. Reads send it, so the shop compresses its answers
/// as it would for a customer; the load generator takes the compressed bytes without decoding
/// them, as the browser's decoding is not the shop's work.
const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";

/// Sends a read and takes its whole body, as a browser does: `Ok(false)`, or the error's kind.
async fn fetch(request: reqwest::RequestBuilder) -> Result<bool, String> {
    match request.send().await {
        Ok(r) if r.status().is_success() => r
            .bytes()
            .await
            .map(|_| false)
            .map_err(|_| "read body".to_owned()),
        Ok(r) => Err(format!("read {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("read timeout".into()),
        Err(_) => Err("read transport".into()),
    }
}

async fn read(world: &World, n: u64, due: Instant) {
    let (op, request) = read_request(&world.parts, n);
    let outcome = fetch(request).await;
    world.record(op, due, due, outcome);
}

/// A purchase: one unit in the cart, check out, then pay through the bank (every other one) or
/// cancel.
async fn purchase(world: &World, n: u64, due: Instant) {
    let Some(token) = world.idle.lock().ok().and_then(|mut idle| idle.pop()) else {
        world.record(Op::Cart, due, due, Err("no idle customer".into()));
        return;
    };
    purchase_as(world, &token, n, due).await;
    if let Ok(mut idle) = world.idle.lock() {
        idle.push(token);
    }
}

async fn purchase_as(world: &World, token: &str, n: u64, due: Instant) {
    let item = world.parts.random_item();
    let response = one_unit_in_cart(&world.parts.client, &world.parts.shop, token, item)
        .send()
        .await;
    let (outcome, _) = judge("cart", response).await;
    let go_on = outcome == Ok(false);
    world.record(Op::Cart, due, due, outcome);
    if !go_on {
        return;
    }
    let sent = Instant::now();
    let response = world
        .parts
        .client
        .post(format!("{}/api/v1/checkouts", world.parts.shop))
        .bearer_auth(token)
        .header(
            "idempotency-key",
            format!("black-friday-{:016x}-{n:010}", world.phase_key),
        )
        .send()
        .await;
    let (outcome, checkout) = judge("checkout", response).await;
    let held = outcome == Ok(false);
    world.record(Op::Checkout, due, sent, outcome);
    if !held {
        // A sold-out or failed checkout leaves the line in the cart: empty it for the next one.
        let _ = world
            .parts
            .client
            .delete(format!("{}/api/v1/cart", world.parts.shop))
            .bearer_auth(token)
            .send()
            .await;
        return;
    }
    let sent = Instant::now();
    if n.is_multiple_of(2) {
        let checkout_id = checkout["checkout_id"].as_str().unwrap_or_default();
        let response = world
            .parts
            .client
            .post(format!(
                "{}/api/v1/checkouts/{checkout_id}/payment",
                world.parts.shop
            ))
            .bearer_auth(token)
            .send()
            .await;
        let (outcome, payment) = judge("pay", response).await;
        let paid = outcome == Ok(false);
        world.record(Op::Pay, due, sent, outcome);
        if paid {
            let payload = payment["qr_payload"].as_str().unwrap_or_default();
            let amount = payment["amount"].as_str().unwrap_or_default();
            let _ = world
                .parts
                .client
                .post(format!("{}/bank/transfers", world.parts.bank))
                .form(&[("payload", payload), ("amount", amount)])
                .send()
                .await;
        }
    } else {
        let order = checkout["orders"][0]["id"].as_str().unwrap_or_default();
        let response = world
            .parts
            .client
            .post(format!("{}/api/v1/orders/{order}/cancel", world.parts.shop))
            .bearer_auth(token)
            .send()
            .await;
        let (outcome, _) = judge("cancel", response).await;
        world.record(Op::Cancel, due, sent, outcome);
    }
}

fn figures(samples: &[&Sample], elapsed: Duration) -> Figures {
    let errors = samples.iter().filter(|s| s.error.is_some()).count();
    Figures::new(
        samples
            .iter()
            .filter(|s| s.error.is_none())
            .map(|s| s.latency)
            .collect(),
        errors,
        elapsed,
    )
}

fn report(
    samples: &[Sample],
    options: &BlackFridayOptions,
    baselines: Option<&Baselines>,
    cpu: &CpuSpent,
    audit: &crate::audit::AuditReport,
) -> String {
    let elapsed = options.duration;
    let mut by_op: BTreeMap<Op, Vec<&Sample>> = BTreeMap::new();
    let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
    for sample in samples {
        by_op.entry(sample.op).or_default().push(sample);
        if let Some(kind) = &sample.error {
            *errors.entry(kind.as_str()).or_default() += 1;
        }
    }
    let reads: Vec<&Sample> = samples.iter().filter(|s| s.op.is_read()).collect();
    let writes: Vec<&Sample> = samples.iter().filter(|s| !s.op.is_read()).collect();
    let sold_out = samples.iter().filter(|s| s.sold_out).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "black friday: {:.2}× for {:?}, {} connections, {} items, {} customers: {} requests, {} sold out, {} errors",
        options.multiplier,
        options.duration,
        options.connections,
        options.items,
        options.customers,
        samples.len(),
        sold_out,
        errors.values().sum::<usize>()
    );
    for (kind, count) in &errors {
        let _ = writeln!(out, "  error {kind}: {count}");
    }
    let _ = writeln!(
        out,
        "| operation | per second | p50 ms | p90 ms | p99 ms | max ms | errors |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for (op, list) in &by_op {
        let _ = writeln!(
            out,
            "| {} {}",
            op.name(),
            figures(list, elapsed).cells_with_p90()
        );
    }
    let _ = writeln!(
        out,
        "| **all reads** {}",
        figures(&reads, elapsed).cells_with_p90()
    );
    let _ = writeln!(
        out,
        "| **all writes** {}",
        figures(&writes, elapsed).cells_with_p90()
    );
    if let Some(baselines) = baselines {
        let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
        let answered = |read: bool, op: Option<Op>| {
            samples
                .iter()
                .filter(|s| s.op.is_read() == read && op.is_none_or(|op| s.op == op))
                .filter(|s| s.error.is_none() && !s.sold_out)
                .count() as f64
                / seconds
        };
        let _ = write!(
            out,
            "{}",
            baselines.table(answered(true, None), answered(false, Some(Op::Checkout)))
        );
    }
    let _ = write!(out, "{cpu}{audit}");
    let _ = writeln!(out, "latency plot: {}", options.plot.display());
    out
}

/// The ceilings measured before the mix, and Surge's own closed-loop figures beside them.
struct Baselines {
    clients: usize,
    duration: Duration,
    trivial: Figures,
    /// The read mix's first pass: most item pages are made (and kept) then.
    first_reads: Figures,
    /// The read mix's next pass, from what the first kept.
    reads: Figures,
    direct_holds: Sweep,
    holds: Sweep,
}

impl Baselines {
    /// The baselines' table, and the run's own rates (`reads_per_s` answered reads, `holds_per_s`
    /// held checkouts) as shares of the ceilings.
    fn table(&self, reads_per_s: f64, holds_per_s: f64) -> String {
        let share =
            |part: f64, whole: f64| format!("{:.0} %", 100.0 * part / whole.max(f64::EPSILON));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "baselines, closed loop, {:?} each; reads with {} clients, holds with each number of \
             clients below (each side's best, *, is its ceiling):",
            self.duration, self.clients
        );
        let _ = writeln!(
            out,
            "| what | per second | p50 ms | p99 ms | max ms | errors | of the ceiling |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        let trivial = self.trivial.per_second();
        let reads = [
            (
                "ceiling: trivial route (`GET /livez`), same HTTP stack".to_owned(),
                &self.trivial,
            ),
            (
                "Surge: the read mix, first pass (pages made and kept)".to_owned(),
                &self.first_reads,
            ),
            ("Surge: the read mix, next pass".to_owned(), &self.reads),
        ];
        let direct = self.direct_holds.best_per_second();
        let holds = [
            (
                "ceiling: the hold transaction straight on MariaDB",
                &self.direct_holds,
            ),
            (
                "Surge: holds (cart line + checkout), as fast as it answers",
                &self.holds,
            ),
        ];
        let swept = holds.iter().flat_map(|(what, sweep)| {
            let best = sweep.best().map(|level| level.clients);
            sweep.levels.iter().map(move |level| {
                let mark = if Some(level.clients) == best {
                    " *"
                } else {
                    ""
                };
                (
                    format!("{what}, {} clients{mark}", level.clients),
                    &level.figures,
                )
            })
        });
        for (what, figures, ceiling) in reads
            .into_iter()
            .map(|(what, figures)| (what, figures, trivial))
            .chain(swept.map(|(what, figures)| (what, figures, direct)))
        {
            let _ = writeln!(
                out,
                "| {what} {} {} |",
                figures.cells(),
                share(figures.per_second(), ceiling)
            );
        }
        let _ = writeln!(
            out,
            "Surge's holds at their best = {} of the direct hold transaction's best",
            share(self.holds.best_per_second(), direct)
        );
        out.push_str(&self.cpu_per_hold());
        let _ = writeln!(
            out,
            "the run: {reads_per_s:.0} reads/s answered = {} of the trivial route's ceiling; \
             {holds_per_s:.0} holds/s = {} of the direct hold transaction's",
            share(reads_per_s, trivial),
            share(holds_per_s, direct)
        );
        out
    }

    /// Each process's CPU for one hold, each side at its best level: where Surge's holds spend
    /// more than the transaction alone. Surge's side counts until its holds' events had passed
    /// through the shop.
    fn cpu_per_hold(&self) -> String {
        let (Some(direct), Some(surge)) = (self.direct_holds.best(), self.holds.best()) else {
            return String::new();
        };
        let (direct, surge) = (direct.cpu_each(), surge.cpu_each());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| CPU µs a hold, each side at its best | direct transaction | Surge's holds |"
        );
        let _ = writeln!(out, "|---|---:|---:|");
        let mut kinds: Vec<&str> = surge.iter().map(|(kind, _)| *kind).collect();
        for (kind, _) in &direct {
            if !kinds.contains(kind) {
                kinds.push(kind);
            }
        }
        let of = |side: &[(&str, f64)], kind: &str| {
            side.iter()
                .find(|(k, _)| *k == kind)
                .map_or(0.0, |(_, micros)| *micros)
        };
        for kind in kinds {
            let _ = writeln!(
                out,
                "| {kind} | {:.0} | {:.0} |",
                of(&direct, kind),
                of(&surge, kind)
            );
        }
        let all = |side: &[(&str, f64)]| side.iter().map(|(_, micros)| micros).sum::<f64>();
        let _ = writeln!(out, "| all | {:.0} | {:.0} |", all(&direct), all(&surge));
        out
    }
}

/// The fewest clients the holds baselines are swept from: half the reads' clients.
fn sweep_from(clients: usize) -> usize {
    (clients / 2).max(1)
}

/// The most clients the holds baselines are swept to: eight times the reads' clients. Surge's
/// holds wait on more round trips than the direct transaction, so they need more clients to
/// keep the machine busy: at four times, their best was the last level in three runs of three.
fn sweep_to(clients: usize) -> usize {
    clients * 8
}

/// Waits until what came before the run has passed through the shop: every database's outbox
/// relayed (the baselines' tens of thousands of holds and cancels are as many events), then the
/// search index's next update. The run then measures the mix, not the baselines' aftermath.
async fn settle(state: &AppState) -> anyhow::Result<()> {
    eprintln!("waiting for the events before the run to pass through the shop…");
    passed_through(state).await
}

/// Returns once every event written so far has passed through the shop: every database's outbox
/// relayed, then the search index's next update run.
async fn passed_through(state: &AppState) -> anyhow::Result<()> {
    let until = Instant::now() + SETTLE_WITHIN;
    loop {
        let mut unrelayed = 0;
        for database in state.shards.databases() {
            let mut connection = database.acquire().await?;
            let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox")
                .fetch_one(&mut *connection)
                .await?;
            unrelayed += rows;
        }
        if unrelayed == 0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < until,
            "{unrelayed} events still in the outboxes after {SETTLE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(crate::jobs::SALE_INDEX_EVERY + Duration::from_millis(500)).await;
    Ok(())
}

/// Measures the baselines on the open stage before the mix: the trivial route and Surge's read
/// mix (twice: the first pass makes the pages the shop keeps, as a sale's first minutes do; the
/// next pass takes turns with the trivial route) with `clients` clients, then the direct hold transaction and Surge's holds,
/// taking turns at every number of clients from half to eight times as many (see
/// `baseline::holds`). The holds made are canceled afterwards.
async fn measure_baselines(
    settings: &Settings,
    stage: &Stage,
    parts: &Arc<Parts>,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Baselines> {
    eprintln!("baselines: {clients} clients (holds swept), {duration:?} each…");
    // The trivial route and the read mix's next pass take turns, half their time each turn, so
    // that a slow moment of the machine falls on both.
    let half = duration / 2;
    let trivial_route = || baseline::trivial_route(&parts.client, &parts.shop, clients, half);
    let read_mix = |duration| {
        let parts = Arc::clone(parts);
        baseline::closed_loop(clients, duration, move |client, round| {
            let (_, request) = read_request(&parts, round * clients as u64 + client as u64);
            async move { fetch(request).await == Ok(false) }
        })
    };
    let trivial = trivial_route().await;
    let first_reads = read_mix(duration).await;
    let reads = read_mix(half).await;
    let trivial = trivial.and(trivial_route().await);
    let reads = reads.and(read_mix(half).await);
    let swept = (
        sweep_from(clients),
        sweep_to(clients).min(parts.tokens.len()),
    );
    let made: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let key: u64 = rand::random();
    let shop = stage.shop_pid();
    let (direct_holds, holds) = baseline::holds(settings, shop, swept, duration, |clients| {
        let parts = Arc::clone(parts);
        let made = Arc::clone(&made);
        let holding = baseline::closed_loop(clients, duration, move |client, round| {
            let parts = Arc::clone(&parts);
            let made = Arc::clone(&made);
            async move {
                let key = format!("baseline-{key:016x}-{clients}-{client}-{round}");
                let Some(order) = hold_through_shop(&parts, client, &key).await else {
                    return false;
                };
                if let Ok(mut made) = made.lock() {
                    made.push((client, order));
                }
                true
            }
        });
        async move {
            let figures = holding.await;
            passed_through(&stage.state).await?;
            Ok(figures)
        }
    })
    .await?;
    let made = made.lock().map(|made| made.clone()).unwrap_or_default();
    eprintln!("canceling the {} baseline holds…", made.len());
    let canceled = made.chunks(clients).map(|chunk| {
        futures_util::future::join_all(chunk.iter().map(|(client, order)| {
            parts
                .client
                .post(format!("{}/api/v1/orders/{order}/cancel", parts.shop))
                .bearer_auth(&parts.tokens[*client])
                .send()
        }))
    });
    for batch in canceled {
        let failed = batch.await.iter().filter(|r| r.is_err()).count();
        anyhow::ensure!(failed == 0, "{failed} baseline holds were not canceled");
    }
    Ok(Baselines {
        clients,
        duration,
        trivial,
        first_reads,
        reads,
        direct_holds,
        holds,
    })
}

/// One unit of a well-stocked item into customer `client`'s cart, then checked out with `key`:
/// the order's ID when it was held (else the cart is emptied).
async fn hold_through_shop(parts: &Parts, client: usize, key: &str) -> Option<String> {
    let token = &parts.tokens[client];
    let item = parts.stocked[rand::rng().random_range(0..parts.stocked.len())];
    let put = one_unit_in_cart(&parts.client, &parts.shop, token, item)
        .send()
        .await
        .ok()?;
    if !put.status().is_success() {
        return None;
    }
    let order = super::checkout::check_out(&parts.client, &parts.shop, token, key).await;
    if order.is_none() {
        let _ = parts
            .client
            .delete(format!("{}/api/v1/cart", parts.shop))
            .bearer_auth(token)
            .send()
            .await;
    }
    order
}

/// p99 latency per second of reads and of writes (by due time), as an SVG line chart.
fn plot(samples: &[Sample], duration: Duration) -> String {
    let seconds = duration.as_secs().max(1) as usize;
    let p99 = |read: bool| -> Vec<f64> {
        let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); seconds];
        for s in samples
            .iter()
            .filter(|s| s.op.is_read() == read && s.error.is_none())
        {
            let second = (s.due.as_secs() as usize).min(seconds - 1);
            buckets[second].push(s.latency.as_secs_f64() * 1000.0);
        }
        buckets.into_iter().map(p99_ms).collect()
    };
    let (reads, writes) = (p99(true), p99(false));
    let top = reads
        .iter()
        .chain(&writes)
        .copied()
        .fold(10.0_f64, f64::max)
        .min(120_000.0);
    let (width, height, left, bottom) = (800.0, 320.0, 60.0, 40.0);
    let x = |i: usize| left + (width - left - 20.0) * i as f64 / (seconds.max(2) - 1) as f64;
    let y = |ms: f64| (height - bottom) - (height - bottom - 20.0) * (ms.min(top) / top);
    let line = |series: &[f64]| {
        series
            .iter()
            .enumerate()
            .map(|(i, ms)| format!("{:.1},{:.1}", x(i), y(*ms)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{left}\" y=\"14\">p99 latency per second (ms), by due time</text>"
    );
    for step in 0..=4 {
        let ms = top * f64::from(step) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"4\" y=\"{:.1}\">{ms:.0}</text>",
            width - 20.0,
            y(ms) + 4.0,
            y = y(ms)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"{}\">0 s</text><text x=\"{}\" y=\"{}\">{seconds} s</text>\
         <polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\" points=\"{}\"/>\
         <polyline fill=\"none\" stroke=\"#c8102e\" stroke-width=\"2\" points=\"{}\"/>\
         <text x=\"{}\" y=\"30\" fill=\"#1f6feb\">reads</text>\
         <text x=\"{}\" y=\"30\" fill=\"#c8102e\">writes</text></svg>",
        height - 20.0,
        width - 60.0,
        height - 20.0,
        line(&reads),
        line(&writes),
        width - 160.0,
        width - 100.0
    );
    svg
}
