//! Paying checkouts end to end against the sandbox processor: placement by webhook, by the
//! poller and by the customer's call; duplicate, out-of-order, forged and replayed webhooks; wrong
//! amounts; late payments; a shard whose holds ended; canceling a placed order; a restart between
//! payment and placement. Every test ends with a clean audit.

use std::time::Duration;

use app::payments::signature;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_audit_clean, check_out, customers, dead_address, fill_cart, fresh_settings,
    spawn_with,
};
use crate::psp_sandbox::{
    KEY, Running, SECRET, pay, set_faults, settings as sandbox_settings, start,
};

/// A shop paying through its own sandbox, with webhooks.
struct World {
    app: TestApp,
    sandbox: Running,
    sandbox_settings: server::config::Settings,
}

async fn world(hold_seconds: u64) -> World {
    let sandbox_settings = sandbox_settings();
    let sandbox = start(&sandbox_settings).await;
    let mut shop = fresh_settings();
    // The webhook address must be known before the server starts: a free port, bound next.
    let addr = dead_address();
    shop.http.addr = addr.parse().unwrap();
    shop.checkout.hold_seconds = hold_seconds;
    shop.payments.processor_url = sandbox.base.clone();
    shop.payments.api_key = Some(KEY.into());
    shop.payments.webhook_secret = Some(SECRET.into());
    shop.payments.webhook_url = Some(format!("http://{addr}/api/v1/payments/webhook"));
    let app = spawn_with(shop, true).await;
    World {
        app,
        sandbox,
        sandbox_settings,
    }
}

/// [`world`] whose sandbox loses every webhook: only the poller and the customer's call settle.
async fn world_losing_webhooks() -> World {
    let world = world(120).await;
    let status = set_faults(
        &world.app.client,
        &world.sandbox.base,
        json!({ "drop_webhook_rate": 1.0 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    world
}

impl World {
    async fn end(self) {
        assert_audit_clean(&self.app).await;
        self.app.stop().await;
        self.sandbox.stop().await;
        server::psp_sandbox::drop_database(&self.sandbox_settings)
            .await
            .unwrap();
    }

    /// Two items on two shards; a customer with both in the cart, checked out and asked to pay.
    /// Returns (token, checkout id, payment, [lamp, rug]).
    async fn checkout(&self, tag: &str) -> (String, String, Value, Vec<Value>) {
        let first = self.app.create_category(&format!("{tag} A")).await;
        let second = self.app.create_category(&format!("{tag} B")).await;
        let lamp = self
            .app
            .create_item(&first, &format!("{tag} Lamp"), "15.00", 5)
            .await;
        let rug = self
            .app
            .create_item(&second, &format!("{tag} Rug"), "80.50", 5)
            .await;
        let buyer = customers(&self.app.state, tag, 1).await.remove(0);
        fill_cart(&self.app.state, buyer.0, &[(&lamp, 2), (&rug, 1)]).await;
        let (status, checkout) = check_out(&self.app, &buyer.1, &format!("{tag}-key-1")).await;
        assert_eq!(status, 201, "{checkout}");
        let checkout_id = checkout["checkout_id"].as_str().unwrap().to_owned();
        let (status, payment) = self.call("POST", &buyer.1, &checkout_id, "payment").await;
        assert_eq!(status, StatusCode::OK, "{payment}");
        assert_eq!(payment["amount"], "110.50");
        assert!(payment["qr_svg"].as_str().unwrap().contains("<svg"));
        (buyer.1, checkout_id, payment, vec![lamp, rug])
    }

    async fn call(
        &self,
        method: &str,
        token: &str,
        checkout: &str,
        what: &str,
    ) -> (StatusCode, Value) {
        let url = self
            .app
            .url(&format!("/api/v1/checkouts/{checkout}/{what}"));
        let request = match method {
            "POST" => self.app.client.post(url),
            _ => self.app.client.get(url),
        };
        let response = request.bearer_auth(token).send().await.unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// Waits (at most `seconds`) until the checkout's state is `state`; returns its progress.
    async fn until(&self, token: &str, checkout: &str, state: &str, seconds: u64) -> Value {
        let mut progress = Value::Null;
        for _ in 0..seconds * 10 {
            progress = self.call("GET", token, checkout, "payment").await.1;
            if progress["state"] == state {
                return progress;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the checkout never became {state}: {progress:#}");
    }

    /// What the processor says about a request.
    async fn processor_view(&self, request: &str) -> Value {
        self.app
            .client
            .get(format!(
                "{}/v1/payment-requests/{request}",
                self.sandbox.base
            ))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the processor has refunded `amount` of a request in all.
    async fn until_refunded(&self, request: &str, amount: &str) {
        let mut seen = Value::Null;
        for _ in 0..250 {
            seen = self.processor_view(request).await;
            if seen["amount_refunded"] == amount {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never refunded {amount}: {seen:#}");
    }

    async fn stock(&self, item: &Value) -> i64 {
        let id = item["id"].as_str().unwrap();
        let response = self
            .app
            .client
            .get(self.app.url(&format!("/api/v1/items/{id}")));
        let body: Value = response.send().await.unwrap().json().await.unwrap();
        body["stock"].as_i64().unwrap()
    }

    async fn post_webhook(&self, body: &str, header: Option<String>) -> StatusCode {
        let mut request = self
            .app
            .client
            .post(self.app.url("/api/v1/payments/webhook"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(header) = header {
            request = request.header(signature::HEADER, header);
        }
        request.send().await.unwrap().status()
    }
}

/// The ID of the checkout's order that holds `item` (each shard's order has one item here).
fn order_of(progress: &Value, item: &Value) -> String {
    let orders = progress["orders"].as_array().unwrap();
    let order = orders
        .iter()
        .find(|o| o["lines"][0]["item_id"] == item["id"])
        .unwrap();
    order["id"].as_str().unwrap().to_owned()
}

/// Cancels an order through the API.
async fn cancel(world: &World, token: &str, order: &str) -> (StatusCode, Value) {
    let url = world.app.url(&format!("/api/v1/orders/{order}/cancel"));
    let response = world.app.client.post(url).bearer_auth(token);
    let response = response.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Sale rows in the ledgers of every shard.
async fn sales(app: &TestApp) -> i64 {
    let mut count = 0;
    for (_, database) in app.state.shards.shards() {
        let mut connection = database.acquire().await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS SIGNED) FROM stock_movements WHERE cause = 'sale'",
        )
        .fetch_one(&mut *connection)
        .await
        .unwrap();
        count += n;
    }
    count
}

#[tokio::test]
async fn a_paid_checkout_is_placed_by_the_webhook_and_placing_again_changes_nothing() {
    let world = world(120).await;
    let (token, checkout, payment, items) = world.checkout("paid").await;
    let (status, body) = pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let progress = world.until(&token, &checkout, "placed", 5).await;
    assert!(
        progress["payments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "completed" && p["received"] == "110.5000"),
        "{progress:#}"
    );
    // The held units are sold: the stock stays down.
    assert_eq!(world.stock(&items[0]).await, 3);
    assert_eq!(world.stock(&items[1]).await, 4);
    for _ in 0..2 {
        let (status, again) = world.call("POST", &token, &checkout, "place").await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["state"], "placed");
    }
    assert_eq!(sales(&world.app).await, 2, "each order's hold sold once");
    // The checkout no longer waits for payment.
    let (status, _) = world.call("POST", &token, &checkout, "payment").await;
    assert_eq!(status, StatusCode::CONFLICT);
    world.end().await;
}

#[tokio::test]
async fn an_overpaid_or_twice_paid_checkout_is_placed_and_the_excess_refunded_once() {
    let world = world(120).await;
    let (token, checkout, payment, _) = world.checkout("overpaid").await;
    let payload = payment["qr_payload"].as_str().unwrap();
    let request = payment["payment_id"].as_str().unwrap();
    pay(&world.app.client, &world.sandbox.base, payload, "120.00").await;
    world.until(&token, &checkout, "placed", 5).await;
    world.until_refunded(request, "9.50").await;
    // The customer's bank pays a second time: all of it goes back.
    pay(&world.app.client, &world.sandbox.base, payload, "110.50").await;
    world.until_refunded(request, "120.00").await;
    // Settling again (the place call, the poller) owes nothing more.
    world.call("POST", &token, &checkout, "place").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = world.processor_view(request).await;
    assert_eq!(seen["amount_refunded"], "120.00", "{seen:#}");
    assert_eq!(seen["refunds"].as_array().unwrap().len(), 2, "{seen:#}");
    world.end().await;
}

#[tokio::test]
async fn with_every_webhook_lost_the_poller_places_the_order() {
    let world = world_losing_webhooks().await;
    let (token, checkout, payment, _) = world.checkout("lost").await;
    pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    // The poller asks every 5 seconds.
    world.until(&token, &checkout, "placed", 12).await;
    world.end().await;
}

#[tokio::test]
async fn duplicate_and_out_of_order_webhooks_place_once_and_forged_or_replayed_ones_are_refused() {
    let world = world_losing_webhooks().await;
    let (token, checkout, payment, _) = world.checkout("dup").await;
    let request = payment["payment_id"].as_str().unwrap();
    let before = world.processor_view(request).await;
    pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    let after = world.processor_view(request).await;
    let event = |data: &Value| {
        json!({ "id": "evt_test", "type": "payment.received", "data": data }).to_string()
    };
    let paid = event(&after);
    let unpaid = event(&before);

    // Forged: another secret, a changed body, no signature, a replay of an old signature.
    let forged = signature::sign(b"not the shared secret", now(), paid.as_bytes());
    assert_eq!(
        world.post_webhook(&paid, Some(forged)).await,
        StatusCode::UNAUTHORIZED
    );
    let signed_unpaid = signature::sign(SECRET.as_bytes(), now(), unpaid.as_bytes());
    assert_eq!(
        world.post_webhook(&paid, Some(signed_unpaid)).await,
        StatusCode::UNAUTHORIZED,
        "a signature of another body"
    );
    assert_eq!(
        world.post_webhook(&paid, None).await,
        StatusCode::UNAUTHORIZED
    );
    let replayed = signature::sign(SECRET.as_bytes(), now() - 600, paid.as_bytes());
    assert_eq!(
        world.post_webhook(&paid, Some(replayed)).await,
        StatusCode::UNAUTHORIZED
    );
    let (_, progress) = world.call("GET", &token, &checkout, "payment").await;
    assert_eq!(progress["state"], "waiting", "nothing forged was applied");

    // The real event, twice, then an older one arriving late.
    for body in [&paid, &paid, &unpaid] {
        let header = signature::sign(SECRET.as_bytes(), now(), body.as_bytes());
        assert_eq!(world.post_webhook(body, Some(header)).await, StatusCode::OK);
    }
    let progress = world.until(&token, &checkout, "placed", 2).await;
    assert!(
        progress["payments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["received"] == "110.5000" && p["refunds"].as_array().unwrap().is_empty()),
        "the late event took nothing back: {progress:#}"
    );
    assert_eq!(sales(&world.app).await, 2, "placed once");
    world.end().await;
}

#[tokio::test]
async fn an_underpaid_checkout_is_not_placed_and_a_late_payment_is_refunded() {
    let world = world(3).await;
    let (token, checkout, payment, items) = world.checkout("under").await;
    let payload = payment["qr_payload"].as_str().unwrap();
    let request = payment["payment_id"].as_str().unwrap();
    pay(&world.app.client, &world.sandbox.base, payload, "50.00").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (_, progress) = world.call("GET", &token, &checkout, "payment").await;
    assert_eq!(progress["state"], "waiting", "underpaid: not placed");
    // The window ends: the orders fail, the stock is back, and what was paid goes back.
    world.until(&token, &checkout, "ended", 10).await;
    assert_eq!(world.stock(&items[0]).await, 5);
    assert_eq!(world.stock(&items[1]).await, 5);
    world.until_refunded(request, "50.00").await;
    // The rest arrives late: nothing can be sold any more, so all of it goes back.
    pay(&world.app.client, &world.sandbox.base, payload, "110.50").await;
    world.until_refunded(request, "160.50").await;
    let (_, progress) = world.call("GET", &token, &checkout, "payment").await;
    assert_eq!(progress["state"], "ended", "{progress:#}");
    assert_eq!(sales(&world.app).await, 0);
    world.end().await;
}

#[tokio::test]
async fn a_two_shard_checkout_with_one_shard_s_holds_ended_places_the_other_and_refunds_that_share()
{
    let world = world(120).await;
    let (token, checkout, payment, items) = world.checkout("split").await;
    // The lamp's shard lost its holds (its order failed: say an admin canceled it).
    let (_, progress) = world.call("GET", &token, &checkout, "payment").await;
    let lamp_order = order_of(&progress, &items[0]);
    let (status, _) = cancel(&world, &token, &lamp_order).await;
    assert_eq!(status, StatusCode::OK);
    pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    let progress = world.until(&token, &checkout, "partly_placed", 5).await;
    let lamp_payment = progress["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["order_id"] == lamp_order.as_str())
        .unwrap()
        .clone();
    assert_eq!(lamp_payment["status"], "refunded", "{progress:#}");
    assert_eq!(lamp_payment["refunds"][0]["reason"], "not_placed");
    world
        .until_refunded(payment["payment_id"].as_str().unwrap(), "30.00")
        .await;
    assert_eq!(world.stock(&items[0]).await, 5, "the lamps are back");
    assert_eq!(world.stock(&items[1]).await, 4, "the rug is sold");
    world.end().await;
}

#[tokio::test]
async fn canceling_a_placed_order_restocks_it_and_refunds_its_share() {
    let world = world(120).await;
    let (token, checkout, payment, items) = world.checkout("cancelplaced").await;
    pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    let progress = world.until(&token, &checkout, "placed", 5).await;
    let rug_order = order_of(&progress, &items[1]);
    for _ in 0..2 {
        let (status, order) = cancel(&world, &token, &rug_order).await;
        assert_eq!(status, StatusCode::OK, "canceling twice is fine");
        assert_eq!(order["status"], "canceled");
    }
    assert_eq!(world.stock(&items[1]).await, 5, "restocked");
    assert_eq!(
        world.stock(&items[0]).await,
        3,
        "the other order stays placed"
    );
    world
        .until_refunded(payment["payment_id"].as_str().unwrap(), "80.50")
        .await;
    world.end().await;
}

/// The snapshot of a checkout's progress in Redis, and its time to live (ms).
async fn snapshot(world: &World, checkout: &str) -> (Option<Value>, i64) {
    let key = world.app.state.redis.key(&format!("progress:{checkout}"));
    let mut redis = world.app.state.redis.connection();
    let json: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    (json.map(|json| serde_json::from_str(&json).unwrap()), ttl)
}

#[tokio::test]
async fn the_payment_page_is_answered_from_redis_and_sees_each_change_at_once() {
    let world = world(120).await;
    let (token, checkout, payment, items) = world.checkout("polled").await;
    let (status, first) = world.call("GET", &token, &checkout, "payment").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["state"], "waiting");
    let (kept, ttl) = snapshot(&world, &checkout).await;
    assert_eq!(
        kept.as_ref(),
        Some(&first),
        "the first poll keeps what it read"
    );
    assert!((1..=60_000).contains(&ttl), "a minute at most: {ttl}");

    // The next polls are answered from the snapshot: one planted there is what they see.
    let key = world.app.state.redis.key(&format!("progress:{checkout}"));
    let mut redis = world.app.state.redis.connection();
    let mut planted = first.clone();
    planted["payments"] = json!([]);
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(planted.to_string())
        .arg("KEEPTTL")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        world.call("GET", &token, &checkout, "payment").await.1,
        planted
    );
    // Another customer is told it does not exist, snapshot or not.
    let other = customers(&world.app.state, "polled-other", 1)
        .await
        .remove(0);
    let (status, _) = world.call("GET", &other.1, &checkout, "payment").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A poll that read the databases before a change does not keep what it read.
    let () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    let seen = app::payments::progress::cached(&world.app.state.redis, &checkout).await;
    app::payments::progress::changed(&world.app.state.redis, &checkout).await;
    let stale: app::payments::model::CheckoutProgress =
        serde_json::from_value(first.clone()).unwrap();
    app::payments::progress::store(&world.app.state.redis, seen, &stale).await;
    assert_eq!(snapshot(&world, &checkout).await.0, None);

    // The money landing (the webhook) is seen at once, though a snapshot was kept.
    world.call("GET", &token, &checkout, "payment").await;
    assert!(snapshot(&world, &checkout).await.0.is_some());
    pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    let placed = world.until(&token, &checkout, "placed", 5).await;

    // So is a cancel: the next poll shows the canceled order.
    assert!(snapshot(&world, &checkout).await.0.is_some());
    let lamp_order = order_of(&placed, &items[0]);
    let (status, _) = cancel(&world, &token, &lamp_order).await;
    assert_eq!(status, StatusCode::OK);
    let (_, after_cancel) = world.call("GET", &token, &checkout, "payment").await;
    let lamp = after_cancel["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|order| order["id"] == lamp_order.as_str())
        .unwrap();
    assert_eq!(lamp["status"], "canceled", "{after_cancel:#}");
    world.end().await;
}

#[tokio::test]
async fn a_payment_confirmed_while_the_server_is_down_is_placed_after_its_restart() {
    let world = world(120).await;
    let (token, checkout, payment, _) = world.checkout("restart").await;
    let World {
        app,
        sandbox,
        sandbox_settings,
    } = world;
    let settings = app.halt().await;
    // The money lands while no server runs: the webhook is not acknowledged.
    pay(
        &reqwest::Client::new(),
        &sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let app = spawn_with(settings, false).await;
    let world = World {
        app,
        sandbox,
        sandbox_settings,
    };
    // The poller's schedule is in the database (and the webhook is retried): placed.
    world.until(&token, &checkout, "placed", 12).await;
    let (_, progress) = world.call("GET", &token, &checkout, "payment").await;
    for payment in progress["payments"].as_array().unwrap() {
        let received: Decimal = payment["received"].as_str().unwrap().parse().unwrap();
        assert_eq!(received, Decimal::new(1105, 1), "{progress:#}");
    }
    world.end().await;
}

#[tokio::test]
async fn payments_are_listed_for_their_customer_and_for_admins_with_filters_and_pages() {
    let world = world(120).await;
    let (token, checkout, payment, _) = world.checkout("listed").await;
    pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "110.50",
    )
    .await;
    world.until(&token, &checkout, "placed", 5).await;
    let list = |token: String, query: &str| {
        let request = world
            .app
            .client
            .get(world.app.url(&format!("/api/v1/payments{query}")))
            .bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    // The customer's history: both shares, newest first, a page at a time.
    let (status, first) = list(token.clone(), "?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["payments"].as_array().unwrap().len(), 1);
    let next = first["next"].as_str().unwrap().to_owned();
    let (_, second) = list(token.clone(), &format!("?limit=1&after={next}")).await;
    assert_eq!(second["payments"].as_array().unwrap().len(), 1);
    assert!(second["next"].is_null(), "{second}");
    assert_ne!(
        first["payments"][0]["order_id"],
        second["payments"][0]["order_id"]
    );
    let (status, _) = list(token.clone(), "?customer=someone").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = list(token.clone(), "?status=paid&limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["fields"]["status"].is_array() && body["fields"]["limit"].is_array(),
        "{body}"
    );

    // Another customer sees none of them; the admin sees them, by status and by customer.
    let other = customers(&world.app.state, "listedother", 1)
        .await
        .remove(0);
    let (_, theirs) = list(other.1.clone(), "").await;
    assert_eq!(theirs["payments"].as_array().unwrap().len(), 0);
    let admin = world.app.admin_token.clone().unwrap();
    let (_, completed) = list(admin.clone(), "?status=completed").await;
    assert_eq!(
        completed["payments"].as_array().unwrap().len(),
        2,
        "{completed}"
    );
    let (_, refunded) = list(admin.clone(), "?status=refunded").await;
    assert_eq!(refunded["payments"].as_array().unwrap().len(), 0);
    let (_, by_customer) = list(admin.clone(), "?customer=listed0&status=completed").await;
    assert_eq!(
        by_customer["payments"].as_array().unwrap().len(),
        2,
        "{by_customer}"
    );
    let (_, nobody) = list(admin.clone(), "?customer=nobody-by-this-name").await;
    assert_eq!(nobody["payments"].as_array().unwrap().len(), 0);
    world.end().await;
}

#[tokio::test]
async fn a_slow_processor_trips_the_breaker_and_the_unpaid_holds_end_on_time() {
    let sandbox_settings = sandbox_settings();
    let sandbox = start(&sandbox_settings).await;
    let mut shop = fresh_settings();
    shop.checkout.hold_seconds = 3;
    shop.payments.processor_url = sandbox.base.clone();
    shop.payments.api_key = Some(KEY.into());
    shop.payments.timeout_ms = 300;
    shop.payments.breaker_failures = 2;
    shop.payments.breaker_open_ms = 1500;
    let app = spawn_with(shop, true).await;
    let world = World {
        app,
        sandbox,
        sandbox_settings,
    };
    let category = world.app.create_category("Slow A").await;
    let kite = world
        .app
        .create_item(&category, "Slow Kite", "9.00", 4)
        .await;
    let buyer = customers(&world.app.state, "slow", 1).await.remove(0);
    fill_cart(&world.app.state, buyer.0, &[(&kite, 2)]).await;
    let (_, checkout) = check_out(&world.app, &buyer.1, "slow-key-1").await;
    let checkout = checkout["checkout_id"].as_str().unwrap().to_owned();
    set_faults(
        &world.app.client,
        &world.sandbox.base,
        json!({ "latency_ms": 2000 }),
    )
    .await;
    // Two calls time out; then the breaker answers at once, with a clear message.
    for _ in 0..2 {
        let (status, body) = world.call("POST", &buyer.1, &checkout, "payment").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("no answer in time"),
            "{body}"
        );
    }
    let started = std::time::Instant::now();
    let (status, body) = world.call("POST", &buyer.1, &checkout, "payment").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(250), "fails fast");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("payment processor"),
        "{body}"
    );
    // Nothing was paid: the holds end on time and the stock is back.
    world.until(&buyer.1, &checkout, "ended", 10).await;
    assert_eq!(world.stock(&kite).await, 4);
    // The processor recovers, and so does the breaker: a new checkout pays.
    set_faults(&world.app.client, &world.sandbox.base, json!({})).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    fill_cart(&world.app.state, buyer.0, &[(&kite, 1)]).await;
    let (_, again) = check_out(&world.app, &buyer.1, "slow-key-2").await;
    let again = again["checkout_id"].as_str().unwrap();
    let (status, body) = world.call("POST", &buyer.1, again, "payment").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    world.end().await;
}

/// The checkout's shares, on every shard: (received, updated_at, due for a poll) each.
async fn shares(app: &TestApp, checkout: &str) -> Vec<(Decimal, String, bool)> {
    let mut shares = Vec::new();
    for (_, database) in app.state.shards.shards() {
        let mut connection = database.acquire().await.unwrap();
        let rows: Vec<(Decimal, String, i64)> = sqlx::query_as(
            "SELECT received, CAST(updated_at AS CHAR), \
             CAST(next_poll_at <= NOW(6) AS SIGNED) FROM payments WHERE checkout_id = ?",
        )
        .bind(checkout)
        .fetch_all(&mut *connection)
        .await
        .unwrap();
        shares.extend(
            rows.into_iter()
                .map(|(received, updated, due)| (received, updated, due == 1)),
        );
    }
    shares
}

/// What the shares' rows show, without whether they are due: (received, updated_at) each.
fn seen(shares: Vec<(Decimal, String, bool)>) -> Vec<(Decimal, String)> {
    shares
        .into_iter()
        .map(|(received, updated, _)| (received, updated))
        .collect()
}

/// Makes every pending share of the checkout due for a poll, and answers what their rows show.
async fn due_now(app: &TestApp, checkout: &str) -> Vec<(Decimal, String)> {
    for (_, database) in app.state.shards.shards() {
        let mut connection = database.acquire().await.unwrap();
        sqlx::query(
            "UPDATE payments SET next_poll_at = NOW(6) - INTERVAL 1 SECOND \
             WHERE checkout_id = ? AND status = 'pending'",
        )
        .bind(checkout)
        .execute(&mut *connection)
        .await
        .unwrap();
    }
    seen(shares(app, checkout).await)
}

/// Until no share of the checkout is due any more (the poller, this test's or the job's, took
/// them), then what their rows show.
async fn polled(app: &TestApp, checkout: &str) -> Vec<(Decimal, String)> {
    for _ in 0..50 {
        app::payments::service::poll_due(&app.state).await.unwrap();
        let shares = shares(app, checkout).await;
        if shares.iter().all(|(_, _, due)| !due) {
            return seen(shares);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the shares of {checkout} were never polled");
}

#[tokio::test]
async fn a_poll_that_finds_nothing_new_writes_nothing_and_a_partial_payment_is_seen_by_the_next() {
    let world = world_losing_webhooks().await;
    let (token, checkout, payment, _) = world.checkout("quiet").await;
    let (_, waiting) = world.call("GET", &token, &checkout, "payment").await;
    assert_eq!(waiting["state"], "waiting", "{waiting:#}");
    assert!(snapshot(&world, &checkout).await.0.is_some());

    // Nothing paid yet: the poll asks the processor and leaves the rows and the snapshot as they
    // were.
    let before = due_now(&world.app, &checkout).await;
    assert_eq!(before.len(), 2, "one share per shard: {before:?}");
    assert_eq!(polled(&world.app, &checkout).await, before);
    assert!(
        snapshot(&world, &checkout).await.0.is_some(),
        "a poll that found nothing new keeps the waiting customer's snapshot"
    );

    // Part of the money lands and its webhook is lost: the next poll records it.
    pay(
        &world.app.client,
        &world.sandbox.base,
        payment["qr_payload"].as_str().unwrap(),
        "50.00",
    )
    .await;
    due_now(&world.app, &checkout).await;
    let after = polled(&world.app, &checkout).await;
    assert!(
        after
            .iter()
            .all(|(received, _)| *received == Decimal::new(50, 0)),
        "{after:?}"
    );
    let (_, progress) = world.call("GET", &token, &checkout, "payment").await;
    assert_eq!(progress["state"], "waiting", "{progress:#}");
    assert!(
        progress["payments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["received"] == "50.0000"),
        "{progress:#}"
    );
    world.end().await;
}
