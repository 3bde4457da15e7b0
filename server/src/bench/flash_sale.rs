//! `surge load flash-sale`: N buyers (10,000 by default) arrive within a few seconds for one item
//! with a small stock (100); each puts one unit in the cart, checks out and, when the checkout
//! holds a unit, pays it through the sandbox processor's bank and waits until the order is
//! placed. A buyer turned away (the cart's `409` for a sold-out item, or checkout's `409
//! sold_out`) is a success of its own kind, not an error.
//!
//! Arrivals are open-loop: buyer `i` is due at `start + i × window / N` whatever the server is
//! doing, and each buyer's first request is timed from that due time, so a slow server shows as
//! latency instead of fewer requests (no coordinated omission). Every run ends with the audit and
//! fails unless exactly the stock was sold.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::catalog::model::{CategoryInput, ItemInput};
use app::catalog::service as catalog;
use app::shard::id::ItemId;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::Figures;
use super::stage::{ShopProcess, Stage};
use crate::config::Settings;

/// The sale to run.
#[derive(Debug, Clone)]
pub struct FlashSaleOptions {
    pub buyers: usize,
    pub stock: u32,
    /// All buyers arrive within this.
    pub arrival: Duration,
    /// Connections to the shop at most (buyers beyond wait for one; their wait counts).
    pub connections: usize,
    /// Where the shop runs.
    pub shop: ShopProcess,
}

/// What one buyer saw.
#[derive(Debug, Default)]
struct Buyer {
    cart: Option<Duration>,
    checkout: Option<Duration>,
    pay: Option<Duration>,
    placed: Option<Duration>,
    sold_out: bool,
    /// What went wrong, if anything (`checkout 503`, `cart transport`, ...).
    error: Option<String>,
}

/// What the sale came to.
pub struct FlashSaleReport {
    pub buyers: usize,
    pub stock: u32,
    pub elapsed: Duration,
    pub placed: usize,
    pub sold_out: usize,
    /// Errors by kind.
    pub errors: BTreeMap<String, usize>,
    /// (operation, figures) in the order of a purchase.
    pub figures: Vec<(&'static str, Figures)>,
    /// Units of the item the database says were sold, and what is left.
    pub sold_units: i64,
    pub left: i64,
    pub audit: crate::audit::AuditReport,
}

impl FlashSaleReport {
    /// Exactly the stock sold, every other buyer told so, no error, and a clean audit.
    pub fn holds(&self) -> bool {
        self.sold_units == i64::from(self.stock)
            && self.left == 0
            && self.placed == self.stock as usize
            && self.errors.is_empty()
            && self.placed + self.sold_out == self.buyers
            && self.audit.is_clean()
    }
}

impl std::fmt::Display for FlashSaleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "flash sale: {} buyers, {} units, {:.1} s: {} placed, {} told sold out, {} errors; \
             the database sold {} units and has {} left",
            self.buyers,
            self.stock,
            self.elapsed.as_secs_f64(),
            self.placed,
            self.sold_out,
            self.errors.values().sum::<usize>(),
            self.sold_units,
            self.left
        )?;
        for (kind, count) in &self.errors {
            writeln!(f, "  error {kind}: {count}")?;
        }
        writeln!(
            f,
            "| operation | per second | p50 ms | p90 ms | p99 ms | max ms | errors |"
        )?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|---:|")?;
        for (operation, figures) in &self.figures {
            writeln!(f, "| {operation} {}", figures.cells_with_p90())?;
        }
        write!(f, "{}", self.audit)
    }
}

/// Runs the sale on databases of its own, prints the report, and fails unless it held.
pub async fn run(settings: &Settings, options: FlashSaleOptions) -> anyhow::Result<()> {
    super::with_own_databases(settings, |settings| async move {
        let report = sale(&settings, options).await?;
        println!("{report}");
        anyhow::ensure!(report.holds(), "the flash sale broke an invariant");
        Ok(())
    })
    .await
}

/// Starts a sandbox and a shop paying through it (on the databases of `settings`), runs the sale,
/// stops both, audits.
pub async fn sale(
    settings: &Settings,
    options: FlashSaleOptions,
) -> anyhow::Result<FlashSaleReport> {
    let mut stage = Stage::build(settings, options.shop.clone()).await?;
    let result = async {
        let item = make_item(&stage.state, options.stock).await?;
        eprintln!("making {} buyers…", options.buyers);
        let buyers =
            super::checkout::customers_with_sessions(&stage.state, "flash", options.buyers).await?;
        let tokens: Vec<String> = buyers.into_iter().map(|(_, token)| token).collect();
        stage.open().await?;
        eprintln!(
            "{} buyers arrive within {:?} for {} units…",
            options.buyers, options.arrival, options.stock
        );
        let started = Instant::now();
        let seen = drive(stage.addr, &stage.bank, item, tokens, &options).await?;
        let elapsed = started.elapsed();
        let (sold_units, left) = sold(&stage.state, item).await?;
        anyhow::Ok((elapsed, seen, sold_units, left))
    }
    .await;
    let settings = stage.close().await?;
    let (elapsed, seen, sold_units, left) = result?;
    let audit = crate::audit::run(&settings).await?;
    Ok(report(&options, elapsed, seen, sold_units, left, audit))
}

async fn make_item(state: &app::state::AppState, stock: u32) -> anyhow::Result<ItemId> {
    let category = catalog::create_category(
        state,
        &CategoryInput {
            name: "Flash sale".into(),
        },
    )
    .await?
    .id;
    let item = ItemInput {
        category_id: category,
        name: "Flash sale console".into(),
        price: Decimal::new(29900, 2),
        stock: i64::from(stock),
        location: "Flash warehouse".into(),
        ..Default::default()
    };
    Ok(catalog::create_item(state, &item).await?.id)
}

/// Units sold (placed orders' lines) and left, from the database.
async fn sold(state: &app::state::AppState, item: ItemId) -> anyhow::Result<(i64, i64)> {
    let database = state.shards.for_id(&item)?;
    let mut connection = database.acquire().await?;
    let sold: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(oi.quantity), 0) AS SIGNED) FROM order_items oi \
         JOIN orders o ON o.id = oi.order_id WHERE oi.item_id = ? AND o.status = 'placed'",
    )
    .bind(item.local())
    .fetch_one(&mut *connection)
    .await?;
    let left: i64 = sqlx::query_scalar("SELECT CAST(stock AS SIGNED) FROM items WHERE id = ?")
        .bind(item.local())
        .fetch_one(&mut *connection)
        .await?;
    Ok((sold, left))
}

/// Every buyer, open-loop.
async fn drive(
    addr: SocketAddr,
    bank: &str,
    item: ItemId,
    tokens: Vec<String>,
    options: &FlashSaleOptions,
) -> anyhow::Result<Vec<Buyer>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let gate = Arc::new(Semaphore::new(options.connections.max(1)));
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let count = tokens.len().max(1) as u32;
    let buyers = tokens.into_iter().enumerate().map(|(n, token)| {
        let due = start + options.arrival * n as u32 / count;
        let client = client.clone();
        let gate = Arc::clone(&gate);
        let bank = bank.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let Ok(_permit) = gate.acquire_owned().await else {
                return Buyer::default();
            };
            buy(&client, addr, &bank, item, &token, n, due.into_std()).await
        })
    });
    let mut seen = Vec::with_capacity(count as usize);
    for buyer in buyers.collect::<Vec<_>>() {
        seen.push(buyer.await?);
    }
    Ok(seen)
}

/// One buyer's purchase.
async fn buy(
    client: &reqwest::Client,
    addr: SocketAddr,
    bank: &str,
    item: ItemId,
    token: &str,
    n: usize,
    due: Instant,
) -> Buyer {
    let mut buyer = Buyer::default();
    let shop = |path: &str| format!("http://{addr}{path}");
    let failed = |what: &str, outcome: Result<reqwest::StatusCode, String>| match outcome {
        Ok(status) => format!("{what} {}", status.as_u16()),
        Err(kind) => format!("{what} {kind}"),
    };
    // The cart, timed from the buyer's due time.
    let response = client
        .put(shop(&format!("/api/v1/cart/items/{item}")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "quantity": 1 }))
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => buyer.cart = Some(due.elapsed()),
        // The cart already knows the item is gone: turned away before checking out.
        Ok(r) if r.status().as_u16() == 409 => {
            let body: Value = r.json().await.unwrap_or_default();
            buyer.cart = Some(due.elapsed());
            if body["field"] == "item_id" {
                buyer.sold_out = true;
            } else {
                buyer.error = Some("cart 409".into());
            }
            return buyer;
        }
        Ok(r) => {
            buyer.error = Some(failed("cart", Ok(r.status())));
            return buyer;
        }
        Err(e) => {
            buyer.error = Some(failed("cart", Err(transport(&e))));
            return buyer;
        }
    }
    let sent = Instant::now();
    let response = client
        .post(shop("/api/v1/checkouts"))
        .bearer_auth(token)
        .header("idempotency-key", format!("flash-sale-{n:08}"))
        .send()
        .await;
    let checkout: Value = match response {
        Ok(r) if r.status().as_u16() == 201 => {
            buyer.checkout = Some(sent.elapsed());
            r.json().await.unwrap_or_default()
        }
        Ok(r) if r.status().as_u16() == 409 => {
            let body: Value = r.json().await.unwrap_or_default();
            if body["error"] == "sold_out" {
                buyer.checkout = Some(sent.elapsed());
                buyer.sold_out = true;
            } else {
                buyer.error = Some("checkout 409".into());
            }
            return buyer;
        }
        Ok(r) => {
            buyer.error = Some(failed("checkout", Ok(r.status())));
            return buyer;
        }
        Err(e) => {
            buyer.error = Some(failed("checkout", Err(transport(&e))));
            return buyer;
        }
    };
    let checkout_id = checkout["checkout_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let payment_path = shop(&format!("/api/v1/checkouts/{checkout_id}/payment"));
    let sent = Instant::now();
    let payment: Value = match client.post(&payment_path).bearer_auth(token).send().await {
        Ok(r) if r.status().is_success() => {
            buyer.pay = Some(sent.elapsed());
            r.json().await.unwrap_or_default()
        }
        Ok(r) => {
            buyer.error = Some(failed("pay", Ok(r.status())));
            return buyer;
        }
        Err(e) => {
            buyer.error = Some(failed("pay", Err(transport(&e))));
            return buyer;
        }
    };
    // The customer's bank pays the QR code.
    let payload = payment["qr_payload"].as_str().unwrap_or_default();
    let amount = payment["amount"].as_str().unwrap_or_default();
    let paid = client
        .post(format!("{bank}/bank/transfers"))
        .form(&[("payload", payload), ("amount", amount)])
        .send()
        .await;
    if !paid.as_ref().is_ok_and(|r| r.status().is_success()) {
        buyer.error = Some("bank transfer".into());
        return buyer;
    }
    // The waiting page's poll, until the order is placed (bounded).
    let paid_at = Instant::now();
    for _ in 0..300 {
        let state = match client.get(&payment_path).bearer_auth(token).send().await {
            Ok(r) => r.json::<Value>().await.unwrap_or_default()["state"].clone(),
            Err(_) => Value::Null,
        };
        if state == "placed" {
            buyer.placed = Some(paid_at.elapsed());
            return buyer;
        }
        if state == "ended" || state == "partly_placed" {
            buyer.error = Some(format!("placement {}", state.as_str().unwrap_or_default()));
            return buyer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    buyer.error = Some("placement timeout".into());
    buyer
}

fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

fn report(
    options: &FlashSaleOptions,
    elapsed: Duration,
    seen: Vec<Buyer>,
    sold_units: i64,
    left: i64,
    audit: crate::audit::AuditReport,
) -> FlashSaleReport {
    let mut errors = BTreeMap::new();
    for buyer in &seen {
        if let Some(kind) = &buyer.error {
            *errors.entry(kind.clone()).or_insert(0) += 1;
        }
    }
    let count = |kind: &str| {
        errors
            .iter()
            .filter(|(k, _)| k.starts_with(kind))
            .map(|(_, n)| *n)
            .sum::<usize>()
    };
    let figures = vec![
        (
            "cart (from the due time)",
            Figures::new(
                seen.iter().filter_map(|b| b.cart).collect(),
                count("cart"),
                elapsed,
            ),
        ),
        (
            "checkout (held or sold out)",
            Figures::new(
                seen.iter().filter_map(|b| b.checkout).collect(),
                count("checkout"),
                elapsed,
            ),
        ),
        (
            "payment request (QR)",
            Figures::new(
                seen.iter().filter_map(|b| b.pay).collect(),
                count("pay"),
                elapsed,
            ),
        ),
        (
            "paid → placed (seen by the poll)",
            Figures::new(
                seen.iter().filter_map(|b| b.placed).collect(),
                count("placement") + count("bank"),
                elapsed,
            ),
        ),
    ];
    FlashSaleReport {
        buyers: options.buyers,
        stock: options.stock,
        elapsed,
        placed: seen.iter().filter(|b| b.placed.is_some()).count(),
        sold_out: seen.iter().filter(|b| b.sold_out).count(),
        errors,
        figures,
        sold_units,
        left,
        audit,
    }
}
