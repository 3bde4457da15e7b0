//! `surge bench-checkout`: how many checkouts a second Surge holds, on one hot item (every buyer
//! queues on the same row) and spread over many items on every shard.
//!
//! Each client is a signed-in customer who loops until the phase ends: put one unit in the cart
//! (`PUT /api/v1/cart/items/{id}`), check out (`POST /api/v1/checkouts`: the hold transaction),
//! and cancel the order (`POST /api/v1/orders/{id}/cancel`: the stock goes back), so the stock and
//! the per-customer limit never run out. Each of the three requests is timed on its own, from
//! send to the last byte. The audit runs at the end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::accounts::model::{NewUser, Password, Role, User, UserId};
use app::catalog::model::{CategoryInput, Item, ItemInput};
use app::catalog::service as catalog;
use app::shard::id::ItemId;
use app::state::AppState;
use chrono::SubsecRound;
use rand::Rng;
use rust_decimal::Decimal;

use super::Figures;
use crate::config::Settings;
use crate::startup::Application;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutBenchOptions {
    /// Items of the "many items" phase, spread over every shard.
    pub items: u32,
    pub concurrency: usize,
    pub duration: Duration,
}

/// Enough stock that no phase sells out.
const STOCK: i64 = 1_000_000;

/// What one client saw.
#[derive(Default)]
struct Seen {
    cart: Vec<Duration>,
    checkout: Vec<Duration>,
    cancel: Vec<Duration>,
    errors: [usize; 3],
}

/// Makes the catalog and customers, serves, measures both phases, audits; prints a table.
pub async fn run(settings: &Settings, options: CheckoutBenchOptions) -> anyhow::Result<()> {
    super::with_own_databases(settings, |settings| async move {
        measure(&settings, options).await
    })
    .await
}

async fn measure(settings: &Settings, options: CheckoutBenchOptions) -> anyhow::Result<()> {
    let application = Application::build(settings, false).await?;
    let state = application.state().clone();
    let addr = application.addr()?;
    eprintln!(
        "making {} items and {} customers…",
        options.items + 1,
        options.concurrency
    );
    let items: Vec<ItemId> = make_items(&state, options.items.max(1))
        .await?
        .into_iter()
        .map(|item| item.id)
        .collect();
    let customers = customers_with_sessions(&state, "bench", options.concurrency).await?;
    let tokens = Arc::new(customers.into_iter().map(|(_, token)| token).collect());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.serve(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;

    let hot = items[0];
    eprintln!(
        "hot item: {} clients for {:?}…",
        options.concurrency, options.duration
    );
    let hot_phase = drive(
        &client,
        addr,
        &tokens,
        options,
        "hot",
        Arc::new(move |_| hot),
    )
    .await;
    let many = Arc::new(items[1..].to_vec());
    eprintln!(
        "{} items: {} clients for {:?}…",
        many.len(),
        options.concurrency,
        options.duration
    );
    let spread = Arc::clone(&many);
    let many_phase = drive(
        &client,
        addr,
        &tokens,
        options,
        "many",
        Arc::new(move |rng| spread[rng.random_range(0..spread.len())]),
    )
    .await;
    let _ = stop.send(());
    let _ = server.await;

    // The server closed its pools on the way out: the audit connects anew.
    let report = crate::audit::run(settings).await?;
    println!(
        "{} clients, {:?} per phase; each client: cart, checkout, cancel, again\n",
        options.concurrency, options.duration
    );
    println!("| phase | request | requests/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    for (phase, figures) in [
        ("one hot item".to_owned(), hot_phase),
        (format!("{} items, 3 shards", many.len()), many_phase),
    ] {
        let [cart, checkout, cancel] = figures;
        println!(
            "| {phase} | checkout (`POST /api/v1/checkouts`) {}",
            checkout.cells()
        );
        println!(
            "| {phase} | cart line (`PUT /api/v1/cart/items/{{id}}`) {}",
            cart.cells()
        );
        println!(
            "| {phase} | cancel (`POST /api/v1/orders/{{id}}/cancel`) {}",
            cancel.cells()
        );
    }
    println!("\n{report}");
    anyhow::ensure!(report.is_clean(), "the audit found broken invariants");
    Ok(())
}

type Pick = Arc<dyn Fn(&mut rand::rngs::ThreadRng) -> ItemId + Send + Sync>;

/// Every client loops cart → checkout → cancel until the phase ends.
async fn drive(
    client: &reqwest::Client,
    addr: SocketAddr,
    tokens: &Arc<Vec<String>>,
    options: CheckoutBenchOptions,
    phase: &'static str,
    pick: Pick,
) -> [Figures; 3] {
    let started = Instant::now();
    let deadline = started + options.duration;
    let workers = (0..options.concurrency)
        .map(|n| {
            let client = client.clone();
            let tokens = Arc::clone(tokens);
            let pick = Arc::clone(&pick);
            tokio::spawn(async move {
                let token = &tokens[n];
                let mut seen = Seen::default();
                let mut round = 0u64;
                while Instant::now() < deadline {
                    round += 1;
                    let item = pick(&mut rand::rng());
                    let sent = Instant::now();
                    let put = client
                        .put(format!("http://{addr}/api/v1/cart/items/{item}"))
                        .bearer_auth(token)
                        .json(&serde_json::json!({ "quantity": 1 }))
                        .send()
                        .await;
                    let ok = matches!(&put, Ok(r) if r.status().is_success());
                    seen.cart.push(sent.elapsed());
                    if !ok {
                        seen.errors[0] += 1;
                        continue;
                    }
                    let sent = Instant::now();
                    let key = format!("bench-{phase}-{n}-{round}");
                    let order = check_out(&client, &format!("http://{addr}"), token, &key).await;
                    seen.checkout.push(sent.elapsed());
                    let Some(order) = order else {
                        seen.errors[1] += 1;
                        continue;
                    };
                    let sent = Instant::now();
                    let canceled = client
                        .post(format!("http://{addr}/api/v1/orders/{order}/cancel"))
                        .bearer_auth(token)
                        .send()
                        .await;
                    seen.cancel.push(sent.elapsed());
                    if !matches!(&canceled, Ok(r) if r.status().is_success()) {
                        seen.errors[2] += 1;
                    }
                }
                seen
            })
        })
        .collect::<Vec<_>>();
    let mut all = Seen::default();
    for worker in workers {
        if let Ok(seen) = worker.await {
            all.cart.extend(seen.cart);
            all.checkout.extend(seen.checkout);
            all.cancel.extend(seen.cancel);
            for (total, errors) in all.errors.iter_mut().zip(seen.errors) {
                *total += errors;
            }
        }
    }
    let elapsed = started.elapsed();
    let Seen {
        cart,
        checkout,
        cancel,
        errors,
    } = all;
    [
        Figures::new(cart, errors[0], elapsed),
        Figures::new(checkout, errors[1], elapsed),
        Figures::new(cancel, errors[2], elapsed),
    ]
}

/// Checks the cart out at the shop at `shop` (`http://host:port`); the order's ID when it was
/// held.
pub async fn check_out(
    client: &reqwest::Client,
    shop: &str,
    token: &str,
    key: &str,
) -> Option<String> {
    let response = client
        .post(format!("{shop}/api/v1/checkouts"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .send()
        .await
        .ok()?;
    if response.status().as_u16() != 201 {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body["orders"][0]["id"].as_str().map(str::to_owned)
}

/// The hot item first, then `count` more over categories on every shard, each with stock enough
/// that no benchmark sells it out.
pub async fn make_items(state: &AppState, count: u32) -> anyhow::Result<Vec<Item>> {
    let mut categories = Vec::new();
    for n in 0..6 {
        let input = CategoryInput {
            name: format!("Bench shelf {n}"),
        };
        categories.push(catalog::create_category(state, &input).await?.id);
    }
    let mut items = Vec::new();
    for n in 0..=count {
        let input = ItemInput {
            category_id: categories[n as usize % categories.len()],
            name: if n == 0 {
                "Bench hot deal".to_owned()
            } else {
                format!("Bench item {n}")
            },
            price: Decimal::new(1999, 2),
            stock: STOCK,
            location: "Bench warehouse".into(),
            ..Default::default()
        };
        items.push(catalog::create_item(state, &input).await?);
    }
    Ok(items)
}

/// Customers written straight into the directory, each with a session: `{prefix}0`,
/// `{prefix}1`, ... Their password hash is a placeholder no password matches (no hashing: hundreds
/// are made at once), so they exist only for a benchmark's or a test's own databases.
pub async fn customers_with_sessions(
    state: &AppState,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<(UserId, String)>> {
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    let mut made = Vec::with_capacity(count);
    for n in 0..count {
        let user = NewUser {
            username: format!("{prefix}{n}"),
            email: format!("{prefix}{n}@surge.invalid"),
            phone: "+10000000000".into(),
            display_name: format!("Buyer {n}"),
            timezone: "UTC".into(),
            password: Password::any(String::new()),
        };
        let created_at = chrono::Utc::now().trunc_subsecs(6);
        let id = app::accounts::repo::insert(
            &mut connection,
            &user,
            "$argon2id$placeholder",
            Role::Customer,
            created_at,
        )
        .await?;
        let account = User {
            id,
            username: user.username,
            email: user.email,
            phone: user.phone,
            display_name: user.display_name,
            timezone: user.timezone,
            role: Role::Customer,
            created_at,
        };
        made.push((id, app::accounts::session::create(state, &account).await?));
    }
    Ok(made)
}
