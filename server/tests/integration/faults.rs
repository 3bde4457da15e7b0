//! The server process killed in the middle of a burst of checkouts: after a restart the data is
//! consistent, retried checkouts make no second order, and the holds of the dead process expire.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use app::catalog::model::{CategoryInput, ItemInput};
use app::catalog::service as catalog;
use app::shard::id::ItemId;
use app::state::AppState;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use server::config::Settings;
use tokio::process::{Child, Command};

use crate::helpers::{
    customers, dead_address, drop_test_data, fill_cart, fresh_settings, migrate_fresh,
};

/// How long the processes hold stock: short, so the dead process's holds end within the test.
const HOLD_SECONDS: u64 = 15;

/// A `surge serve` process on the test's databases.
struct Process {
    child: Child,
    addr: SocketAddr,
}

async fn start(settings: &Settings, addr: SocketAddr) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args(["serve", "--no-migrate"])
        .env_remove("SURGE_CONFIG")
        .env("SURGE_DATABASE__PREFIX", &settings.database.prefix)
        .env("SURGE_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
        .env("SURGE_HTTP__ADDR", addr.to_string())
        .env("SURGE_CHECKOUT__HOLD_SECONDS", HOLD_SECONDS.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("surge starts");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("http://{addr}/healthz")).send().await
            && response.status().is_success()
        {
            return Process { child, addr };
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "surge did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn check_out(
    client: &reqwest::Client,
    addr: SocketAddr,
    token: &str,
    key: &str,
) -> Option<(u16, Value)> {
    let response = client
        .post(format!("http://{addr}/api/v1/checkouts"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

async fn make_item(state: &AppState, category: &str) -> ItemId {
    let category = catalog::create_category(
        state,
        &CategoryInput {
            name: category.into(),
        },
    )
    .await
    .unwrap();
    let input = ItemInput {
        category_id: category.id,
        name: format!("{} survivor", category.name),
        price: Decimal::new(2500, 2),
        stock: 1000,
        location: "Test warehouse".into(),
        ..Default::default()
    };
    catalog::create_item(state, &input).await.unwrap().id
}

async fn active_holds(state: &AppState) -> i64 {
    let mut total = 0;
    for (_, database) in state.shards.shards() {
        let mut connection = database.acquire().await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM holds WHERE status = 'active'")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        total += count;
    }
    total
}

#[tokio::test]
async fn killing_the_server_mid_burst_loses_nothing_and_retries_make_no_second_order() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    // This process only reads and audits: no server and no jobs of its own.
    let state = server::startup::connect(&settings, "127.0.0.1:0".parse().unwrap()).unwrap();
    let first = make_item(&state, "Crash shelf A").await;
    let second = make_item(&state, "Crash shelf B").await;
    assert_ne!(first.shard(), second.shard(), "the cart spans two shards");
    let buyers = customers(&state, "crash", 60).await;
    let lines = [
        (json!({"id": first.to_string(), "price": "25.00"}), 1),
        (json!({"id": second.to_string(), "price": "25.00"}), 2),
    ];
    for (id, _) in &buyers {
        fill_cart(
            &state,
            *id,
            &[(&lines[0].0, lines[0].1), (&lines[1].0, lines[1].1)],
        )
        .await;
    }

    let addr: SocketAddr = dead_address().parse().unwrap();
    let mut process = start(&settings, addr).await;
    let client = reqwest::Client::new();
    let committed = AtomicUsize::new(0);
    let burst = buyers.iter().enumerate().map(|(n, (_, token))| {
        let client = client.clone();
        let token = token.clone();
        let committed = &committed;
        async move {
            let answer = check_out(&client, addr, &token, &format!("crash-key-{n}")).await;
            if matches!(answer, Some((201, _))) {
                committed.fetch_add(1, Ordering::Relaxed);
            }
            answer
        }
    });
    let burst = futures_util::future::join_all(burst);
    let kill = async {
        // Let a few checkouts commit, then kill while the rest are in flight (a fixed delay
        // let a fast machine answer the whole burst first).
        let waiting_since = Instant::now();
        while committed.load(Ordering::Relaxed) < 3
            && waiting_since.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        process.child.start_kill().expect("killed");
    };
    let (answers, ()) = tokio::join!(burst, kill);
    let _ = process.child.wait().await;
    let answered = answers
        .iter()
        .filter(|a| matches!(a, Some((201, _))))
        .count();
    eprintln!(
        "{answered} of {} checkouts answered before the kill",
        buyers.len()
    );
    assert!(
        answered < buyers.len(),
        "the kill landed mid-burst ({answered} answered)"
    );

    let report = server::audit::audit(&state).await.unwrap();
    assert!(report.is_clean(), "right after the crash: {report}");

    // The restarted server: every buyer retries with the key of the first attempt.
    let process = start(&settings, addr).await;
    for (n, (_, token)) in buyers.iter().enumerate() {
        let (status, body) = check_out(&client, process.addr, token, &format!("crash-key-{n}"))
            .await
            .expect("the restarted server answers");
        assert_eq!(status, 201, "buyer {n}: {body}");
        assert_eq!(
            body["orders"].as_array().unwrap().len(),
            2,
            "buyer {n}: both shards: {body}"
        );
    }
    // One order per buyer per shard, whatever the crash cut.
    let mut per_buyer: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, database) in state.shards.shards() {
        let mut connection = database.acquire().await.unwrap();
        let rows: Vec<u64> = sqlx::query_scalar("SELECT user_id FROM orders")
            .fetch_all(&mut *connection)
            .await
            .unwrap();
        for user in rows {
            *per_buyer.entry(user).or_default() += 1;
        }
    }
    assert!(per_buyer.values().all(|&n| n == 2), "{per_buyer:?}");
    assert_eq!(per_buyer.len(), buyers.len());

    // The holds end (by the restarted process's job) and the stock comes back whole.
    let started = Instant::now();
    while active_holds(&state).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the holds did not expire"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for item in [first, second] {
        let mut connection = state.shards.for_id(&item).unwrap().acquire().await.unwrap();
        let stock: i64 = sqlx::query_scalar("SELECT CAST(stock AS SIGNED) FROM items WHERE id = ?")
            .bind(item.local())
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        assert_eq!(stock, 1000, "{item}: every held unit back");
    }
    let report = server::audit::audit(&state).await.unwrap();
    assert!(report.is_clean(), "after the restart: {report}");
    drop(process);
    state.shards.close().await;
    drop_test_data(&settings).await;
}
