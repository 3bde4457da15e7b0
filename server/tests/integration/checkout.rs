//! Checkout under contention, across shards, retried, cancelled and expired; every test ends with
//! the audit.

use app::events::Event;
use app::events::stream::Cursor;
use app::shard::id::ItemId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_audit_clean, check_out, customers, fill_cart, fresh_settings, send_json,
    spawn_app, spawn_with,
};

async fn stock_of(app: &TestApp, item: &Value) -> u64 {
    let (_, read) = app
        .get_json(&format!("/api/v1/items/{}", item["id"].as_str().unwrap()))
        .await;
    read["stock"].as_u64().unwrap()
}

/// Cancels the first order of a checkout's answer, as its customer.
async fn cancel_first_order(app: &TestApp, checkout: &Value, token: &str) {
    let order = checkout["orders"][0]["id"].as_str().unwrap();
    let (status, answer) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/orders/{order}/cancel")))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

/// The item's stock as reads see it, once the change's event has reached the cache (2 s at most),
/// and still the same a moment later.
async fn stock_becomes(app: &TestApp, item: &Value, expected: u64) {
    let started = std::time::Instant::now();
    while stock_of(app, item).await != expected {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the stock did not become {expected}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stock_of(app, item).await, expected, "and stays");
}

#[tokio::test]
async fn three_hundred_buyers_for_ten_units_hold_exactly_ten() {
    let app = spawn_app().await;
    let category = app.create_category("Flash").await;
    let item = app
        .create_item(&category, "Flash Console", "299.00", 10)
        .await;
    let buyers = customers(&app.state, "flash", 300).await;
    for (user, _) in &buyers {
        fill_cart(&app.state, *user, &[(&item, 1)]).await;
    }
    let attempts = buyers.iter().enumerate().map(|(n, (_, token))| {
        let app = &app;
        async move { check_out(app, token, &format!("flash-key-{n}")).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let held = answers.iter().filter(|(status, _)| *status == 201).count();
    let sold_out: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == 409)
        .collect();
    assert_eq!(held, 10, "exactly the stock is held");
    assert_eq!(sold_out.len(), 290, "everyone else is told");
    for (_, answer) in &sold_out {
        assert_eq!(answer["error"], "sold_out");
        assert_eq!(answer["left"], 0);
        assert_eq!(answer["name"], "Flash Console");
    }
    stock_becomes(&app, &item, 0).await;
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_customer_past_the_checkouts_a_minute_waits_and_loses_nothing() {
    let mut settings = fresh_settings();
    settings.checkout.per_customer_per_minute = 3;
    let app = spawn_with(settings, true).await;
    let category = app.create_category("Limited").await;
    let item = app.create_item(&category, "Lamp", "20.00", 50).await;
    let buyers = customers(&app.state, "hurried", 2).await;
    let (hurried, token) = &buyers[0];
    for attempt in 0..3 {
        fill_cart(&app.state, *hurried, &[(&item, 1)]).await;
        let (status, answer) = check_out(&app, token, &format!("hurried-{attempt}")).await;
        assert_eq!(status, 201, "{answer}");
    }
    fill_cart(&app.state, *hurried, &[(&item, 2)]).await;
    let limited = app
        .client
        .post(app.url("/api/v1/checkouts"))
        .bearer_auth(token)
        .header("idempotency-key", "hurried-3")
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "retry after {retry} s");
    let answer: Value = limited.json().await.unwrap();
    assert_eq!(answer["error"], "rate_limited", "{answer}");
    let (_, cart) = send_json(app.client.get(app.url("/api/v1/cart")).bearer_auth(token)).await;
    assert_eq!(cart["lines"][0]["quantity"], 2, "the cart is kept: {cart}");
    stock_becomes(&app, &item, 47).await;
    let (other, other_token) = &buyers[1];
    fill_cart(&app.state, *other, &[(&item, 1)]).await;
    let (status, answer) = check_out(&app, other_token, "other-key-0").await;
    assert_eq!(status, 201, "another customer is not limited: {answer}");
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn three_hundred_buyers_of_a_two_shard_cart_hold_exactly_ten_and_give_the_rest_back() {
    let app = spawn_app().await;
    let scarce_shelf = app.create_category("Flash scarce").await;
    let plenty_shelf = app.create_category("Flash plenty").await;
    assert_ne!(scarce_shelf["shard"], plenty_shelf["shard"]);
    let scarce = app
        .create_item(&scarce_shelf, "Flash Drone", "499.00", 10)
        .await;
    let plenty = app
        .create_item(&plenty_shelf, "Flash Battery", "19.00", 500)
        .await;
    let buyers = customers(&app.state, "flashpair", 300).await;
    for (user, _) in &buyers {
        fill_cart(&app.state, *user, &[(&scarce, 1), (&plenty, 1)]).await;
    }
    let answers =
        futures_util::future::join_all(buyers.iter().enumerate().map(|(n, (_, token))| {
            let app = &app;
            async move { check_out(app, token, &format!("flashpair-key-{n}")).await }
        }))
        .await;
    let held: Vec<_> = answers.iter().filter(|(s, _)| *s == 201).collect();
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
    let others: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s != 201 && *s != 409)
        .collect();
    assert!(others.is_empty(), "no 5xx: {others:?}");
    assert_eq!(held.len(), 10, "exactly the scarce stock");
    assert_eq!(refused.len(), 290, "everyone else told");
    assert!(
        held.iter()
            .all(|(_, body)| body["orders"].as_array().unwrap().len() == 2)
    );
    assert!(
        refused
            .iter()
            .all(|(_, body)| body["name"] == "Flash Drone")
    );
    // Every refused checkout's battery hold (when its shard went first) was given back.
    stock_becomes(&app, &scarce, 0).await;
    stock_becomes(&app, &plenty, 490).await;
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn buyers_of_two_items_in_any_order_never_deadlock_or_oversell() {
    let app = spawn_app().await;
    let category = app.create_category("Pairs").await;
    let left = app.create_item(&category, "Left Shoe", "20.00", 30).await;
    let right = app.create_item(&category, "Right Shoe", "20.00", 30).await;
    let buyers = customers(&app.state, "pair", 80).await;
    for (n, (user, _)) in buyers.iter().enumerate() {
        // Half fill their carts in the opposite order: deadlock bait, were locks taken that way.
        if n % 2 == 0 {
            fill_cart(&app.state, *user, &[(&left, 1), (&right, 1)]).await;
        } else {
            fill_cart(&app.state, *user, &[(&right, 1), (&left, 1)]).await;
        }
    }
    let answers =
        futures_util::future::join_all(buyers.iter().enumerate().map(|(n, (_, token))| {
            let app = &app;
            async move { check_out(app, token, &format!("pair-key-{n}")).await }
        }))
        .await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "no 5xx: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 30);
    stock_becomes(&app, &left, 0).await;
    stock_becomes(&app, &right, 0).await;
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_cart_over_two_shards_is_one_checkout_that_holds_everything_or_nothing() {
    let app = spawn_app().await;
    let first = app.create_category("Shard A").await;
    let second = app.create_category("Shard B").await;
    assert_ne!(first["shard"], second["shard"]);
    let lamp = app.create_item(&first, "Lamp", "15.00", 5).await;
    let rug = app.create_item(&second, "Rug", "80.00", 1).await;
    let buyers = customers(&app.state, "two", 3).await;

    // Too many rugs: the rug's shard goes first (its item is the scarcer) and refuses; the lamp's
    // is never asked.
    fill_cart(&app.state, buyers[0].0, &[(&lamp, 2), (&rug, 2)]).await;
    let (status, refused) = check_out(&app, &buyers[0].1, "two-shards-1").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["name"], "Rug");
    assert_eq!(refused["left"], 1);
    assert_eq!(stock_of(&app, &lamp).await, 5, "nothing held");

    // The lamp's shard goes first (ropes are plentiful) and holds its line; the rope's shard then
    // refuses (over the per-customer limit), and the lamp's order is released.
    let rope = app.create_item(&second, "Rope", "5.00", 100).await;
    fill_cart(&app.state, buyers[2].0, &[(&rope, 9)]).await;
    assert_eq!(check_out(&app, &buyers[2].1, "two-shards-3").await.0, 201);
    fill_cart(&app.state, buyers[2].0, &[(&lamp, 2), (&rope, 2)]).await;
    let (status, refused) = check_out(&app, &buyers[2].1, "two-shards-4").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["field"], "quantity");
    stock_becomes(&app, &lamp, 5).await;
    let (status, again) = check_out(&app, &buyers[2].1, "two-shards-4").await;
    assert_eq!(status, 409, "a refused checkout stays refused: {again}");
    assert_eq!(again["field"], "idempotency_key");

    fill_cart(&app.state, buyers[1].0, &[(&lamp, 2), (&rug, 1)]).await;
    let (status, checkout) = check_out(&app, &buyers[1].1, "two-shards-2").await;
    assert_eq!(status, 201, "{checkout}");
    let orders = checkout["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "one order per shard");
    assert!(orders.iter().all(|o| o["status"] == "pending"));
    let totals: Vec<_> = orders
        .iter()
        .map(|o| o["total"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        totals.contains(&"30.0000".to_owned()) || totals.contains(&"30.00".to_owned()),
        "{totals:?}"
    );
    stock_becomes(&app, &lamp, 3).await;
    stock_becomes(&app, &rug, 0).await;
    let (_, cart) = send_json(
        app.client
            .get(app.url("/api/v1/cart"))
            .bearer_auth(&buyers[1].1),
    )
    .await;
    assert_eq!(cart["lines"], json!([]), "the cart is emptied");
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_retried_checkout_answers_the_same_orders_and_holds_once() {
    let app = spawn_app().await;
    let category = app.create_category("Retry").await;
    let item = app.create_item(&category, "Retry Radio", "49.00", 4).await;
    let buyers = customers(&app.state, "retry", 1).await;
    let (user, token) = &buyers[0];
    fill_cart(&app.state, *user, &[(&item, 2)]).await;
    let (status, first) = check_out(&app, token, "same-key-123").await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = check_out(&app, token, "same-key-123").await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(first["orders"][0]["id"], again["orders"][0]["id"]);
    stock_becomes(&app, &item, 2).await;
    let (status, missing) = send_json(
        app.client
            .post(app.url("/api/v1/checkouts"))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, 422, "{missing}");
    let (status, empty) = check_out(&app, token, "another-key-1").await;
    assert_eq!(status, 422, "the cart is empty now: {empty}");
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_key_whose_mark_redis_lost_still_holds_once() {
    let app = spawn_app().await;
    let category = app.create_category("Lost mark").await;
    let item = app.create_item(&category, "Lost Lantern", "12.00", 6).await;
    let buyers = customers(&app.state, "lost", 1).await;
    let (user, token) = &buyers[0];
    fill_cart(&app.state, *user, &[(&item, 2)]).await;
    let (status, first) = check_out(&app, token, "lost-mark-1").await;
    assert_eq!(status, 201, "{first}");

    // Redis forgets that the key was used, and the same cart is sent again under it: the key
    // looks new, so no shard is searched first, and the shard's unique checkout ID refuses it.
    let checkout_id = first["checkout_id"].as_str().unwrap();
    let mark = app::checkout::keys::key(&app.state.redis, checkout_id);
    let _: () = redis::AsyncCommands::del(&mut app.state.redis.connection(), &mark)
        .await
        .unwrap();
    fill_cart(&app.state, *user, &[(&item, 2)]).await;
    let (status, refused) = check_out(&app, token, "lost-mark-1").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["field"], "idempotency_key");
    stock_becomes(&app, &item, 4).await;

    // That attempt marked the key again: the retry finds the first checkout's order.
    let (status, again) = check_out(&app, token, "lost-mark-1").await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["orders"].as_array().unwrap().len(), 1);
    assert_eq!(again["orders"][0]["id"], first["orders"][0]["id"]);
    stock_becomes(&app, &item, 4).await;
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_retry_completes_a_checkout_that_died_between_shards() {
    let app = spawn_app().await;
    let first = app.create_category("Half A").await;
    let second = app.create_category("Half B").await;
    let kettle = app.create_item(&first, "Half Kettle", "30.00", 5).await;
    let toaster = app.create_item(&second, "Half Toaster", "40.00", 5).await;
    let buyers = customers(&app.state, "half", 1).await;
    let (user, token) = &buyers[0];
    // What a crash between the shards leaves: the kettle's order made under the key, and the
    // cart (never emptied) still holding both lines.
    fill_cart(&app.state, *user, &[(&kettle, 1)]).await;
    let (status, half) = check_out(&app, token, "half-key-1").await;
    assert_eq!(status, 201, "{half}");
    fill_cart(&app.state, *user, &[(&kettle, 1), (&toaster, 2)]).await;
    let (status, whole) = check_out(&app, token, "half-key-1").await;
    assert_eq!(status, 201, "{whole}");
    let orders = whole["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "the missing shard was held: {whole}");
    assert!(orders.iter().any(|o| o["id"] == half["orders"][0]["id"]));
    assert_eq!(whole["checkout_id"], half["checkout_id"]);
    stock_becomes(&app, &kettle, 4).await;
    stock_becomes(&app, &toaster, 3).await;
    let (_, cart) = send_json(app.client.get(app.url("/api/v1/cart")).bearer_auth(token)).await;
    assert_eq!(cart["lines"], json!([]), "the cart is emptied");
    // Once complete, the same key only answers the orders.
    let (status, again) = check_out(&app, token, "half-key-1").await;
    assert_eq!(status, 201);
    let ids = |checkout: &Value| {
        checkout["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&again), ids(&whole));
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_holds_event_lowers_its_items_cached_copy_and_units_given_back_drop_it() {
    use app::catalog::cache;

    let app = spawn_app().await;
    let category = app.create_category("Kept Copies").await;
    let mut cursor = Cursor::at_latest(&app.state).await;
    let item = app.create_item(&category, "Kept Lamp", "45.00", 5).await;
    let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
    // The item's creation has passed through the shop (its event drops the copy).
    next_event_of(&app, &mut cursor, id).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let buyers = customers(&app.state, "kept", 1).await;
    fill_cart(&app.state, buyers[0].0, &[(&item, 2)]).await;
    let (status, held) = check_out(&app, &buyers[0].1, "kept-key-01").await;
    assert_eq!(status, 201, "{held}");
    // The copy checkout read stays, showing the stock before the hold until the hold's event
    // lowers it to the stock left: never dropped, so readers never go to the shard for it.
    let started = std::time::Instant::now();
    loop {
        let cached = cache::item(&app.state.redis, &id)
            .await
            .map(|item| item.stock);
        match cached {
            Some(3) => break,
            Some(5) => {}
            other => panic!("the copy shows {other:?}: kept, and only lowered"),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the hold's event never lowered the copy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Lowering never raises it: a late event cannot bring back units a newer hold took.
    let mut pipe = redis::pipe();
    cache::lower_stock_in(&mut pipe, &app.state.redis, &[(id, 5)]);
    let () = pipe
        .query_async(&mut app.state.redis.connection())
        .await
        .unwrap();
    assert_eq!(stock_of(&app, &item).await, 3);
    // Units given back drop it at once: the stock went up.
    cancel_first_order(&app, &held, &buyers[0].1).await;
    assert!(cache::item(&app.state.redis, &id).await.is_none());
    assert_eq!(stock_of(&app, &item).await, 5);
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_held_items_copy_is_dropped_when_its_shard_does_not_answer_and_nothing_waits_for_it() {
    use app::catalog::cache;
    use app::catalog::model::{CategoryId, Item};
    use app::shard::ShardId;

    // Shard 2 on a server that takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = fresh_settings();
    settings
        .database
        .servers
        .push(app::shard::topology::ServerSettings {
            name: "silent".into(),
            url: app::shard::topology::SecretUrl::new(format!(
                "mysql://root@{}",
                silent.local_addr().unwrap()
            )),
            max_connections: 250,
        });
    settings.database.shards[2].server = "silent".into();
    settings.database.acquire_timeout_ms = 5000;
    let state = server::startup::connect(&settings, settings.http.addr).unwrap();
    let id = ItemId::new(ShardId::new(2).unwrap(), 7).unwrap();
    let item = Item {
        id,
        category_id: CategoryId(1),
        name: "Unreadable Lamp".into(),
        description: String::new(),
        price: "10.00".parse().unwrap(),
        currency: app::money::Currency::EUR,
        stock: 4,
        location: "A1".into(),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    cache::put_item(&state.redis, &item).await;
    assert!(cache::item(&state.redis, &id).await.is_some());
    let started = std::time::Instant::now();
    app::catalog::service::apply_events(
        &state,
        &[Event::StockHeld {
            item_id: id,
            category_id: CategoryId(1),
        }],
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the follower waited {:?} for the shard",
        started.elapsed()
    );
    assert!(
        cache::item(&state.redis, &id).await.is_none(),
        "its stock unknown, the copy goes"
    );
}

#[tokio::test]
async fn a_canceled_order_gives_its_stock_back_once_and_is_private() {
    let app = spawn_app().await;
    let category = app.create_category("Cancel").await;
    let item = app
        .create_item(&category, "Cancel Camera", "500.00", 3)
        .await;
    let buyers = customers(&app.state, "cancel", 2).await;
    fill_cart(&app.state, buyers[0].0, &[(&item, 2)]).await;
    let (_, checkout) = check_out(&app, &buyers[0].1, "cancel-key-1").await;
    let order = checkout["orders"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/orders/{order}");

    let (status, _) = send_json(app.client.get(app.url(&path)).bearer_auth(&buyers[1].1)).await;
    assert_eq!(
        status, 404,
        "another customer's order does not exist for them"
    );
    let cancel = |token: &str| {
        app.client
            .post(app.url(&format!("{path}/cancel")))
            .bearer_auth(token.to_owned())
    };
    assert_eq!(send_json(cancel(&buyers[1].1)).await.0, 404);
    let (status, canceled) = send_json(cancel(&buyers[0].1)).await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    let (_, read) = send_json(app.client.get(app.url(&path)).bearer_auth(&buyers[0].1)).await;
    assert_eq!(canceled, read, "the answer is the order as it now is");
    assert_eq!(
        send_json(cancel(&buyers[0].1)).await,
        (200, read),
        "canceling twice is fine, and answers the same"
    );
    assert_eq!(stock_of(&app, &item).await, 3, "given back once");
    let (_, list) = send_json(
        app.client
            .get(app.url("/api/v1/orders"))
            .bearer_auth(&buyers[0].1),
    )
    .await;
    assert_eq!(list["orders"][0]["id"], order.as_str());
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn expired_holds_give_their_stock_back_once_even_with_two_runners() {
    let app = spawn_app().await;
    let category = app.create_category("Expiry").await;
    let item = app
        .create_item(&category, "Expiry Earrings", "25.00", 6)
        .await;
    let buyers = customers(&app.state, "expiry", 3).await;
    for (n, (user, token)) in buyers.iter().enumerate() {
        fill_cart(&app.state, *user, &[(&item, 2)]).await;
        assert_eq!(
            check_out(&app, token, &format!("expiry-key-{n}")).await.0,
            201
        );
    }
    stock_becomes(&app, &item, 0).await;
    let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
    let shard = app.state.shards.for_id(&id).unwrap();
    let mut connection = shard.acquire().await.unwrap();
    sqlx::query("UPDATE holds SET expires_at = NOW(6) - INTERVAL 1 MINUTE")
        .execute(&mut *connection)
        .await
        .unwrap();
    drop(connection);
    let (a, b) = tokio::join!(
        app::checkout::service::expire_due_holds(&app.state),
        app::checkout::service::expire_due_holds(&app.state)
    );
    a.unwrap();
    b.unwrap();
    stock_becomes(&app, &item, 6).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        stock_of(&app, &item).await,
        6,
        "every unit back, none twice"
    );
    let (_, orders) = send_json(
        app.client
            .get(app.url("/api/v1/orders"))
            .bearer_auth(&buyers[0].1),
    )
    .await;
    assert_eq!(orders["orders"][0]["status"], "failed");
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_checkout_short_of_stock_reclaims_expired_holds_itself() {
    let app = spawn_app().await;
    let category = app.create_category("Reclaim").await;
    let item = app.create_item(&category, "Last Guitar", "900.00", 1).await;
    let buyers = customers(&app.state, "reclaim", 2).await;
    fill_cart(&app.state, buyers[0].0, &[(&item, 1)]).await;
    assert_eq!(check_out(&app, &buyers[0].1, "reclaim-key-0").await.0, 201);
    let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
    // The stock gate's count (none left after the first buyer) lives two seconds: a hold cannot
    // expire within that in real use (the window is longer), so let it end before the hold is
    // made to expire at once.
    let started = std::time::Instant::now();
    while app::checkout::gate::known_left(&app.state.redis, id)
        .await
        .is_some()
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let shard = app.state.shards.for_id(&id).unwrap();
    let mut connection = shard.acquire().await.unwrap();
    sqlx::query("UPDATE holds SET expires_at = NOW(6) - INTERVAL 1 SECOND")
        .execute(&mut *connection)
        .await
        .unwrap();
    drop(connection);
    fill_cart(&app.state, buyers[1].0, &[(&item, 1)]).await;
    let (status, answer) = check_out(&app, &buyers[1].1, "reclaim-key-1").await;
    assert_eq!(status, 201, "the expired hold was reclaimed: {answer}");
    assert_audit_clean(&app).await;
    let (_, first) = send_json(
        app.client
            .request(Method::GET, app.url("/api/v1/orders"))
            .bearer_auth(&buyers[0].1),
    )
    .await;
    assert_eq!(first["orders"][0]["status"], "failed");
    app.stop().await;
}

#[tokio::test]
async fn a_customer_cannot_hold_more_than_the_per_buyer_limit_over_several_checkouts() {
    let app = spawn_app().await;
    let category = app.create_category("Limits").await;
    let item = app
        .create_item(&category, "Limited Sneaker", "120.00", 50)
        .await;
    let buyers = customers(&app.state, "limit", 2).await;
    let (user, token) = &buyers[0];
    fill_cart(&app.state, *user, &[(&item, 6)]).await;
    assert_eq!(check_out(&app, token, "limit-key-1").await.0, 201);
    fill_cart(&app.state, *user, &[(&item, 5)]).await;
    let (status, refused) = check_out(&app, token, "limit-key-2").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["field"], "quantity");
    assert!(
        refused["message"].as_str().unwrap().contains("6 already"),
        "{refused}"
    );
    fill_cart(&app.state, *user, &[(&item, 4)]).await;
    assert_eq!(
        check_out(&app, token, "limit-key-3").await.0,
        201,
        "up to the limit is fine"
    );
    // Another customer is not affected.
    fill_cart(&app.state, buyers[1].0, &[(&item, 10)]).await;
    assert_eq!(check_out(&app, &buyers[1].1, "limit-key-4").await.0, 201);
    stock_becomes(&app, &item, 30).await;
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn lines_written_before_they_named_their_buyer_still_count_toward_the_limit() {
    let app = spawn_app().await;
    let category = app.create_category("Old lines").await;
    let item = app
        .create_item(&category, "Rolling Boot", "80.00", 50)
        .await;
    let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
    let buyers = customers(&app.state, "old-lines", 2).await;
    let (user, token) = &buyers[0];
    fill_cart(&app.state, *user, &[(&item, 7)]).await;
    assert_eq!(check_out(&app, token, "old-lines-1").await.0, 201);
    // As a copy from before the lines named their buyer would have written it (a rolling deploy).
    let database = app.state.shards.for_id(&id).unwrap();
    let mut connection = database.acquire().await.unwrap();
    let unnamed = sqlx::query("UPDATE order_items SET user_id = NULL WHERE item_id = ?")
        .bind(id.local())
        .execute(&mut *connection)
        .await
        .unwrap();
    assert_eq!(unnamed.rows_affected(), 1);
    drop(connection);
    fill_cart(&app.state, *user, &[(&item, 4)]).await;
    let (status, refused) = check_out(&app, token, "old-lines-2").await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("7 already"),
        "{refused}"
    );
    // Another customer's count is not touched by the unnamed line.
    fill_cart(&app.state, buyers[1].0, &[(&item, 10)]).await;
    assert_eq!(check_out(&app, &buyers[1].1, "old-lines-3").await.0, 201);
    assert_audit_clean(&app).await;
    app.stop().await;
}

/// Drops an item's gate count, as the item's event does.
async fn drop_gate_count(redis: &app::redis_store::Redis, item: ItemId) {
    let mut pipe = redis::pipe();
    app::checkout::gate::forget_in(&mut pipe, redis, &[item]);
    let () = pipe.query_async(&mut redis.connection()).await.unwrap();
}

#[tokio::test]
async fn a_sold_out_item_is_refused_by_the_gate_until_its_stock_comes_back() {
    use app::checkout::gate;

    let app = spawn_app().await;
    let category = app.create_category("Gate Shelf").await;
    let item = app
        .create_item(&category, "Gate Console", "299.00", 1)
        .await;
    let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
    let buyers = customers(&app.state, "gated", 3).await;
    for (user, _) in &buyers {
        fill_cart(&app.state, *user, &[(&item, 1)]).await;
    }
    let (status, first) = check_out(&app, &buyers[0].1, "gate-key-0001").await;
    assert_eq!(status, 201, "{first}");
    // The gate's count took the unit; when it ends (after two seconds), the database decides,
    // finds the item short, and the gate notes that none is left.
    drop_gate_count(&app.state.redis, id).await;
    let (status, refused) = check_out(&app, &buyers[1].1, "gate-key-0002").await;
    assert_eq!(status, 409);
    assert_eq!(refused["error"], "sold_out");
    assert_eq!(gate::known_left(&app.state.redis, id).await, Some(0));

    // While the note lives, checkouts are refused before the database: even with a unit slipped
    // into the row behind the ledger's back, the gate says no.
    let database = app.state.shards.for_id(&id).unwrap();
    let mut connection = database.acquire().await.unwrap();
    let bump = |delta: i64| {
        sqlx::query("UPDATE items SET stock = stock + ? WHERE id = ?")
            .bind(delta)
            .bind(id.local())
    };
    bump(1).execute(&mut *connection).await.unwrap();
    let (status, gated) = check_out(&app, &buyers[2].1, "gate-key-0003").await;
    bump(-1).execute(&mut *connection).await.unwrap();
    assert_eq!(status, 409, "{gated}");
    assert_eq!(gated["left"], 0);

    // The first buyer cancels: the item's event drops the note, and the next buyer gets the unit.
    cancel_first_order(&app, &first, &buyers[0].1).await;
    let started = std::time::Instant::now();
    while gate::known_left(&app.state.redis, id).await.is_some() {
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, bought) = check_out(&app, &buyers[2].1, "gate-key-0004").await;
    assert_eq!(status, 201, "{bought}");
    assert_audit_clean(&app).await;
    app.stop().await;
}

/// The next event about `item` on the stream after `cursor` (waiting up to five seconds).
async fn next_event_of(app: &TestApp, cursor: &mut Cursor, item: ItemId) -> Event {
    let started = std::time::Instant::now();
    loop {
        let batch = cursor
            .next_batch(&app.state)
            .await
            .expect("the stream reads");
        let found = batch.into_iter().find(|event| match event {
            Event::ItemChanged { item_id, .. } | Event::StockHeld { item_id, .. } => {
                *item_id == item
            }
            _ => false,
        });
        if let Some(event) = found {
            return event;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}

#[tokio::test]
async fn a_hold_says_stock_held_and_only_that_event_leaves_the_gates_count() {
    use app::checkout::gate;

    let app = spawn_app().await;
    let category = app.create_category("Gate Counts").await;
    let mut cursor = Cursor::at_latest(&app.state).await;
    let item = app.create_item(&category, "Counted Lamp", "45.00", 5).await;
    let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
    let created = next_event_of(&app, &mut cursor, id).await;
    assert!(matches!(created, Event::ItemChanged { .. }), "{created:?}");
    let buyers = customers(&app.state, "counted", 1).await;
    fill_cart(&app.state, buyers[0].0, &[(&item, 1)]).await;
    let (status, held) = check_out(&app, &buyers[0].1, "counted-key-01").await;
    assert_eq!(status, 201, "{held}");
    let event = next_event_of(&app, &mut cursor, id).await;
    assert!(matches!(event, Event::StockHeld { .. }), "{event:?}");
    cancel_first_order(&app, &held, &buyers[0].1).await;
    let event = next_event_of(&app, &mut cursor, id).await;
    assert!(matches!(event, Event::ItemChanged { .. }), "{event:?}");
    assert_eq!(stock_of(&app, &item).await, 5);

    // Applied (on an item of its own, which no server copy hears of): a hold's event leaves the
    // gate's count, which took the units when it admitted the checkout; units given back drop it,
    // to be set again from the stock.
    let elsewhere = ItemId::new(id.shard(), id.local() + 1_000_000).unwrap();
    let category_id = app::catalog::model::CategoryId(0);
    gate::note_short(&app.state.redis, elsewhere, 4).await;
    let held = Event::StockHeld {
        item_id: elsewhere,
        category_id,
    };
    app::catalog::service::apply_events(&app.state, &[held]).await;
    assert_eq!(gate::known_left(&app.state.redis, elsewhere).await, Some(4));
    let given_back = Event::ItemChanged {
        item_id: elsewhere,
        category_id,
    };
    app::catalog::service::apply_events(&app.state, &[given_back]).await;
    assert_eq!(gate::known_left(&app.state.redis, elsewhere).await, None);
    // A change that names no item (a sale's placement) sends Redis nothing, and fails nothing.
    app::catalog::service::forget_cached_items_with(&app.state, &[], redis::pipe())
        .await
        .unwrap();
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn the_stock_gate_admits_as_many_units_as_the_stock_and_takes_back_what_fails() {
    use app::checkout::gate::{self, Admission};

    let app = spawn_app().await;
    let redis = &app.state.redis;
    let shard = app::shard::ShardId::try_from(1_u16).unwrap();
    let item = ItemId::new(shard, 4242).unwrap();

    // Missing: set from the stock the catalog showed, then taken unit by unit.
    assert_eq!(gate::admit(redis, item, 2, 3).await, Admission::Admitted);
    assert_eq!(gate::admit(redis, item, 1, 3).await, Admission::Admitted);
    assert_eq!(gate::known_left(redis, item).await, Some(0));
    // The crowd behind them is told at once, whatever the catalog still shows.
    assert_eq!(
        gate::admit(redis, item, 1, 3).await,
        Admission::Refused { left: 0 }
    );
    // A checkout that failed gives its units back, and the next buyer gets them.
    gate::give_back(redis, item, 2).await;
    assert_eq!(
        gate::admit(redis, item, 3, 3).await,
        Admission::Refused { left: 2 }
    );
    assert_eq!(gate::admit(redis, item, 2, 3).await, Admission::Admitted);

    // The item's event drops the count; when the catalog shows too few, the database decides (it
    // reclaims expired holds first) and the gate neither refuses nor counts.
    drop_gate_count(redis, item).await;
    assert_eq!(gate::admit(redis, item, 1, 0).await, Admission::Unknown);
    assert_eq!(gate::known_left(redis, item).await, None);
    // Giving back to a count that is gone adds nothing: a new one is set from the catalog.
    gate::give_back(redis, item, 5).await;
    assert_eq!(gate::known_left(redis, item).await, None);
    // What the database found left replaces the count.
    gate::note_short(redis, item, 1).await;
    assert_eq!(
        gate::admit(redis, item, 2, 50).await,
        Admission::Refused { left: 1 }
    );
    app.stop().await;
}
