//! The cart: a visitor's by cookie, a customer's by account, merged at sign-in, always re-read
//! against the catalog.

use app::cart::model::{MAX_LINES, MAX_QUANTITY};
use app::cart::store::{self, Change, Owner, Put};
use app::catalog::cache;
use app::shard::id::ItemId;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{send_json, spawn_app};

#[tokio::test]
async fn a_visitor_fills_a_cart_that_follows_the_catalog_and_joins_the_account_at_sign_in() {
    let app = spawn_app().await;
    let category = app.create_category("Cart Things").await;
    let kettle = app.create_item(&category, "Kettle", "10.00", 3).await;
    let mug = app.create_item(&category, "Mug", "5.50", 10).await;
    let gone = app.create_item(&category, "Teapot", "30.00", 0).await;
    let id = |item: &Value| item["id"].as_str().unwrap().to_owned();

    let visitor = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let put = |item: String, quantity: i64| {
        visitor
            .put(app.url(&format!("/api/v1/cart/items/{item}")))
            .json(&json!({ "quantity": quantity }))
    };
    let first = put(id(&kettle), 2).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("surge_cart=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let (status, cart) = send_json(put(id(&mug), 3)).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["lines"].as_array().unwrap().len(), 2);
    assert_eq!(
        cart["totals"],
        json!([{"currency": "EUR", "amount": "36.50"}])
    );

    let (status, sold_out) = send_json(put(id(&gone), 1)).await;
    assert_eq!(status, 409, "{sold_out}");
    assert_eq!(send_json(put(id(&mug), 11)).await.0, 422);
    assert_eq!(send_json(put("not-an-item".into(), 1)).await.0, 400);
    assert_eq!(send_json(put("item-0-999999".into(), 1)).await.0, 404);

    // The shop changes under the cart: less stock, a new price.
    let kettle_path = format!("/api/v1/items/{}", id(&kettle));
    app.admin_json(Method::PATCH, &kettle_path, json!({"price": "12.00"}))
        .await;
    app.admin_json(
        Method::POST,
        &format!("{kettle_path}/stock-movements"),
        json!({"kind": "set", "quantity": 1, "reason": "breakage"}),
    )
    .await;
    let (_, cart) = send_json(visitor.get(app.url("/api/v1/cart"))).await;
    let line = cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item"]["name"] == "Kettle")
        .unwrap()
        .clone();
    assert_eq!(line["only_left"], 1);
    assert_eq!(line["price_changed"], true);
    assert_eq!(line["price_when_added"], "10.00");
    assert_eq!(line["line_total"], "24.00");

    // Signing in brings the visitor's cart into the account; the account already has a mug.
    crate::helpers::customer_token(&app, "cartwright").await;
    let (_, session) = app
        .post_json(
            "/api/v1/sessions",
            json!({"username": "cartwright", "password": "customer password"}),
        )
        .await;
    let token = session["token"].as_str().unwrap().to_owned();
    let account_put = app
        .client
        .put(app.url(&format!("/api/v1/cart/items/{}", id(&mug))))
        .bearer_auth(&token)
        .json(&json!({"quantity": 9}));
    assert_eq!(send_json(account_put).await.0, 200);
    let signed_in = visitor
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "cartwright", "password": "customer password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 201);
    let (_, merged) = send_json(app.client.get(app.url("/api/v1/cart")).bearer_auth(&token)).await;
    let quantities: Vec<_> = merged["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["item"]["name"].as_str().unwrap().to_owned(),
                l["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        quantities.contains(&("Kettle".to_owned(), 2)),
        "{quantities:?}"
    );
    assert!(
        quantities.contains(&("Mug".to_owned(), 10)),
        "9 + 3, bounded at 10: {quantities:?}"
    );

    // A deleted item leaves the cart; clearing empties it.
    app.admin(Method::DELETE, &format!("/api/v1/items/{}", id(&mug)))
        .send()
        .await
        .unwrap();
    let (_, cart) = send_json(app.client.get(app.url("/api/v1/cart")).bearer_auth(&token)).await;
    assert_eq!(cart["removed"], 1);
    assert_eq!(cart["lines"].as_array().unwrap().len(), 1);
    let cleared = app
        .client
        .delete(app.url("/api/v1/cart"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    let (_, cart) = send_json(app.client.get(app.url("/api/v1/cart")).bearer_auth(&token)).await;
    assert_eq!(cart["lines"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn an_item_read_from_its_shard_for_a_cart_line_is_cached_whether_added_or_refused() {
    let app = spawn_app().await;
    let category = app.create_category("Cart Cache").await;
    let lamp = app.create_item(&category, "Desk Lamp", "25.00", 4).await;
    let sold_out = app.create_item(&category, "Floor Lamp", "90.00", 0).await;
    let ids: Vec<ItemId> = [&lamp, &sold_out]
        .iter()
        .map(|item| item["id"].as_str().unwrap().parse().unwrap())
        .collect();
    app::catalog::service::forget_cached_items(&app.state, &ids).await;
    for id in &ids {
        assert!(cache::item(&app.state.redis, id).await.is_none());
    }
    let visitor = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let put = |id: ItemId| {
        visitor
            .put(app.url(&format!("/api/v1/cart/items/{id}")))
            .json(&json!({ "quantity": 1 }))
    };
    let (status, cart) = send_json(put(ids[0])).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["lines"][0]["item"]["name"], "Desk Lamp");
    let cached = cache::item(&app.state.redis, &ids[0]).await;
    assert_eq!(cached.map(|item| item.stock), Some(4));
    let (status, refused) = send_json(put(ids[1])).await;
    assert_eq!(status, 409, "{refused}");
    let cached = cache::item(&app.state.redis, &ids[1]).await;
    assert_eq!(cached.map(|item| item.stock), Some(0));
    app.stop().await;
}

#[tokio::test]
async fn lines_added_at_once_to_an_almost_full_cart_stop_at_its_bound() {
    let app = spawn_app().await;
    let category = app.create_category("Cart Bound").await;
    let token = crate::helpers::customer_token(&app, "bounded").await;
    let mut ids = Vec::new();
    for n in 0..MAX_LINES + 2 {
        let item = app
            .create_item(&category, &format!("Bead {n}"), "1.00", 5)
            .await;
        ids.push(item["id"].as_str().unwrap().to_owned());
    }
    let put = |id: &str| {
        app.client
            .put(app.url(&format!("/api/v1/cart/items/{id}")))
            .bearer_auth(&token)
            .json(&json!({ "quantity": 1 }))
    };
    for id in &ids[..MAX_LINES - 2] {
        assert_eq!(send_json(put(id)).await.0, 200);
    }
    // Four new lines at once where two fit: each write checks the bound as the cart is then.
    let racing =
        futures_util::future::join_all(ids[MAX_LINES - 2..].iter().map(|id| send_json(put(id))));
    let statuses: Vec<u16> = racing.await.into_iter().map(|(status, _)| status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        2,
        "{statuses:?}"
    );
    let (_, cart) = send_json(app.client.get(app.url("/api/v1/cart")).bearer_auth(&token)).await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), MAX_LINES);
    // A line already there still changes, and keeps the price of when it was added.
    let first = format!("/api/v1/items/{}", ids[0]);
    app.admin_json(Method::PATCH, &first, json!({"price": "2.00"}))
        .await;
    let (status, cart) = send_json(
        app.client
            .put(app.url(&format!("/api/v1/cart/items/{}", ids[0])))
            .bearer_auth(&token)
            .json(&json!({ "quantity": 3 })),
    )
    .await;
    assert_eq!(status, 200, "{cart}");
    let line = cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["item"]["id"] == ids[0].as_str())
        .unwrap()
        .clone();
    assert_eq!(line["quantity"], 3);
    assert_eq!(line["price_when_added"], "1.00");
    assert_eq!(line["price_changed"], true);
    app.stop().await;
}

#[tokio::test]
async fn adding_units_counts_what_the_line_holds_and_refuses_past_the_most_of_one_item() {
    let app = spawn_app().await;
    let category = app.create_category("Cart Adds").await;
    let item = app.create_item(&category, "Spoon", "3.00", 40).await;
    let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
    let owner = Owner::Visitor(format!("{:032x}", rand::random::<u128>()));
    let redis = &app.state.redis;
    let price: Decimal = "3.00".parse().unwrap();
    let add = |quantity| store::put(redis, &owner, id, Change::Add(quantity), price, false);
    let Put::Written(lines) = add(4).await.unwrap() else {
        panic!("the first add is refused");
    };
    assert_eq!(lines[&id].quantity, 4);
    let Put::Written(lines) = add(MAX_QUANTITY - 4).await.unwrap() else {
        panic!("an add up to the most of one item is refused");
    };
    assert_eq!(lines[&id].quantity, MAX_QUANTITY);
    assert_eq!(
        add(1).await.unwrap(),
        Put::TooMany {
            already: MAX_QUANTITY
        }
    );
    // Sold out refuses a new line only: the line already there still changes.
    let other: ItemId = app.create_item(&category, "Fork", "3.00", 0).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let new_line = store::put(redis, &owner, other, Change::Set(1), price, true).await;
    assert_eq!(new_line.unwrap(), Put::SoldOut);
    let changed = store::put(redis, &owner, id, Change::Set(2), price, true).await;
    assert!(matches!(changed, Ok(Put::Written(lines)) if lines[&id].quantity == 2));
    app.stop().await;
}
