//! Order lists: keyset pages over every shard, the filters, who sees what, and the admin pages.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{
    TestApp, assert_audit_clean, check_out, customers, fill_cart, send_json, spawn_app,
};

/// Three categories (the directory spreads them over the three shards), an item in each.
async fn items_on_every_shard(app: &TestApp, prefix: &str) -> Vec<Value> {
    let mut items = Vec::new();
    for n in 0..3 {
        let category = app.create_category(&format!("{prefix} shelf {n}")).await;
        items.push(
            app.create_item(&category, &format!("{prefix} thing {n}"), "10.00", 100)
                .await,
        );
    }
    let shards: BTreeSet<String> = items
        .iter()
        .map(|item| {
            item["id"]
                .as_str()
                .unwrap()
                .split('-')
                .nth(1)
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(shards.len(), 3, "one item per shard");
    items
}

async fn list(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    send_json(
        app.client
            .get(app.url(&format!("/api/v1/orders?{query}")))
            .bearer_auth(token),
    )
    .await
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Pages through a list `limit` at a time; returns every ID in the order seen.
async fn walk(app: &TestApp, token: &str, query: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = String::new();
    for _ in 0..50 {
        let (status, page) = list(app, token, &format!("{query}&limit={limit}{after}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return seen,
        }
    }
    panic!("the list never ended");
}

#[tokio::test]
async fn keyset_pages_cover_every_shard_once_even_when_orders_share_a_moment() {
    let app = spawn_app().await;
    let items = items_on_every_shard(&app, "Paging").await;
    let buyer = customers(&app.state, "pager", 1).await.remove(0);
    // Nine checkouts: carts of one, two or three shards.
    for n in 0..9 {
        let lines: Vec<(&Value, u32)> = items.iter().take(1 + n % 3).map(|i| (i, 1)).collect();
        fill_cart(&app.state, buyer.0, &lines).await;
        let (status, body) = check_out(&app, &buyer.1, &format!("paging-key-{n}")).await;
        assert_eq!(status, 201, "{body}");
    }
    let everything = walk(&app, &buyer.1, "", 100).await;
    assert_eq!(everything.len(), 18, "1+2+3 orders, three times");
    for limit in [1, 2, 5] {
        assert_eq!(
            walk(&app, &buyer.1, "", limit).await,
            everything,
            "limit {limit}"
        );
    }
    // The same moment for every order on every shard: the ID breaks the tie, across shards too.
    for (_, database) in app.state.shards.shards() {
        let mut connection = database.acquire().await.unwrap();
        sqlx::query("UPDATE orders SET created_at = '2026-11-27 09:00:00.000000'")
            .execute(&mut *connection)
            .await
            .unwrap();
    }
    let tied = walk(&app, &buyer.1, "", 100).await;
    let mut sorted = tied.clone();
    sorted.sort_by_key(|id| {
        let id: app::shard::id::OrderId = id.parse().unwrap();
        std::cmp::Reverse(id)
    });
    assert_eq!(tied, sorted, "ties run by ID, newest first");
    for limit in [1, 4, 7] {
        assert_eq!(walk(&app, &buyer.1, "", limit).await, tied, "limit {limit}");
    }
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn filters_narrow_the_list_and_customers_see_only_their_own() {
    let app = spawn_app().await;
    let items = items_on_every_shard(&app, "Filter").await;
    let buyers = customers(&app.state, "filterer", 2).await;
    let (alice, bob) = (&buyers[0], &buyers[1]);
    let mut alice_orders = Vec::new();
    for (n, item) in items.iter().enumerate() {
        fill_cart(&app.state, alice.0, &[(item, 1)]).await;
        let (_, body) = check_out(&app, &alice.1, &format!("alice-key-{n}")).await;
        alice_orders.push(body["orders"][0]["id"].as_str().unwrap().to_owned());
    }
    fill_cart(&app.state, bob.0, &[(&items[0], 2)]).await;
    let (_, body) = check_out(&app, &bob.1, "bob-key-0").await;
    let bob_order = body["orders"][0]["id"].as_str().unwrap().to_owned();

    // Alice sees her three, never Bob's.
    let (_, page) = list(&app, &alice.1, "").await;
    let mut seen = ids(&page);
    seen.sort();
    let mut expected = alice_orders.clone();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(page["next"].is_null(), "one page");

    // Status: cancel one.
    let (status, _) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/orders/{}/cancel", alice_orders[1])))
            .bearer_auth(&alice.1),
    )
    .await;
    assert_eq!(status, 200);
    let (_, page) = list(&app, &alice.1, "status=canceled").await;
    assert_eq!(ids(&page), [alice_orders[1].clone()]);
    let (_, page) = list(&app, &alice.1, "status=pending").await;
    assert_eq!(ids(&page).len(), 2);

    // Days: move one order to the first of November.
    let first: app::shard::id::OrderId = alice_orders[2].parse().unwrap();
    let mut connection = app
        .state
        .shards
        .for_id(&first)
        .unwrap()
        .acquire()
        .await
        .unwrap();
    sqlx::query("UPDATE orders SET created_at = '2026-11-01 23:59:59.999999' WHERE id = ?")
        .bind(first.local())
        .execute(&mut *connection)
        .await
        .unwrap();
    drop(connection);
    let (_, page) = list(&app, &alice.1, "from=2026-11-01&to=2026-11-01").await;
    assert_eq!(
        ids(&page),
        [alice_orders[2].clone()],
        "`to` includes its whole day"
    );
    let (_, page) = list(&app, &alice.1, "from=2026-11-02").await;
    assert_eq!(ids(&page).len(), 2);
    let (_, page) = list(&app, &alice.1, "to=2026-10-31").await;
    assert!(ids(&page).is_empty());

    // Bad filters: each one named, 422.
    let (status, body) = list(&app, &alice.1, "status=lost&from=tomorrow&limit=0&after=x").await;
    assert_eq!(status, 422, "{body}");
    for field in ["status", "from", "limit", "after"] {
        assert!(body["fields"][field].is_array(), "{field} named: {body}");
    }
    // A customer cannot look at another customer's list.
    let (status, _) = list(&app, &alice.1, "customer=filterer1").await;
    assert_eq!(status, 403);

    // The admin sees everyone's, and can narrow to one customer.
    let token = app.admin_token.clone().unwrap();
    let (_, page) = list(&app, &token, "").await;
    assert_eq!(ids(&page).len(), 4);
    let (_, page) = list(&app, &token, "customer=filterer1").await;
    assert_eq!(ids(&page), [bob_order]);
    assert_eq!(page["orders"][0]["customer_id"], bob.0.0);
    let (_, page) = list(&app, &token, "customer=nobody-here").await;
    assert!(ids(&page).is_empty(), "an unknown customer has no orders");
    let (_, page) = list(
        &app,
        &token,
        "customer=filterer0&status=pending&from=2026-11-02",
    )
    .await;
    assert_eq!(ids(&page), [alice_orders[0].clone()]);
    assert_audit_clean(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn the_admin_console_lists_orders_and_shows_one_with_its_holds() {
    let app = spawn_app().await;
    let items = items_on_every_shard(&app, "Console").await;
    let buyer = customers(&app.state, "consoler", 1).await.remove(0);
    fill_cart(&app.state, buyer.0, &[(&items[0], 2), (&items[1], 1)]).await;
    let (_, body) = check_out(&app, &buyer.1, "console-key-0").await;
    let order = body["orders"][0]["id"].as_str().unwrap().to_owned();

    let page = |path: String, token: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(app.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let admin = app.admin_token.clone().unwrap();
    let (status, html) = page("/admin/orders?status=pending".into(), admin.clone()).await;
    assert_eq!(status, 200);
    assert!(html.contains(&order), "the list names the order");
    assert!(html.contains("consoler0"), "and its customer");
    let (status, html) = page("/admin/orders?from=someday".into(), admin.clone()).await;
    assert_eq!(status, 422, "the form stays, with the error");
    assert!(html.contains("must be a date"), "{html}");
    let (status, html) = page(format!("/admin/orders/{order}"), admin.clone()).await;
    assert_eq!(status, 200);
    assert!(html.contains("Console thing 0"), "its lines");
    assert!(html.contains("active"), "its holds");
    assert!(html.contains("Buyer 0"), "its customer");
    let (status, html) = page("/admin/orders".into(), buyer.1.clone()).await;
    assert_eq!(status, 403, "{html}");
    app.stop().await;
}
