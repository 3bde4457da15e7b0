//! The catalog through the REST API and the storefront pages, on the real shards and Redis.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{dead_address, fresh_settings, spawn_app, spawn_with};

fn shard_of(id: &Value) -> u64 {
    id.as_str()
        .and_then(|id| id.split('-').nth(1))
        .and_then(|shard| shard.parse().ok())
        .expect("an item ID carries its shard")
}

#[tokio::test]
async fn categories_go_to_the_least_loaded_shard_and_items_live_on_their_categorys_shard() {
    let app = spawn_app().await;
    let mut shards = Vec::new();
    for name in ["Televisions", "Laptops", "Toys"] {
        shards.push(app.create_category(name).await["shard"].as_u64().unwrap());
    }
    shards.sort_unstable();
    assert_eq!(
        shards,
        [0, 1, 2],
        "three categories spread over three shards"
    );

    let toys = app.create_category("Board Games").await;
    let response = app
        .admin(Method::POST, "/api/v1/items")
        .json(&json!({
            "category_id": toys["id"], "name": "Castle Siege", "price": "39.99", "stock": 7,
            "description": "A board game.", "location": "Berlin"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(shard_of(&created["id"]), toys["shard"].as_u64().unwrap());
    assert_eq!(
        location,
        format!("/api/v1/items/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["price"], "39.99");
    assert_eq!(created["currency"], "EUR");

    let (status, fetched) = app.get_json(&location).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, created, "what was created is what is read back");
    app.stop().await;
}

#[tokio::test]
async fn catalog_writes_need_an_admin_session_and_refused_ones_change_nothing() {
    let app = spawn_app().await;
    let body = json!({ "name": "Phones" });
    let anonymous = app
        .client
        .post(app.url("/api/v1/categories"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let unknown = app
        .client
        .post(app.url("/api/v1/categories"))
        .bearer_auth("0".repeat(64))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let customer = crate::helpers::customer_token(&app, "shopper").await;
    let refused = app
        .client
        .post(app.url("/api/v1/categories"))
        .bearer_auth(customer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let (_, categories) = app.get_json("/api/v1/categories").await;
    assert_eq!(categories, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let category = app.create_category("Kitchen").await;
    let valid = json!({
        "category_id": category["id"], "name": "Kettle", "price": "19.99", "stock": 3
    });
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("price", json!("-5")), "price"),
        (with("price", json!("0")), "price"),
        (with("price", json!("99999999")), "price"),
        (with("price", json!("1.999")), "price"),
        (with("price", json!(true)), "price"),
        (with("name", json!("   ")), "name"),
        (with("name", json!("x".repeat(201))), "name"),
        (with("description", json!("x".repeat(5001))), "description"),
        (with("stock", json!(-1)), "stock"),
        (with("stock", json!(10_000_001)), "stock"),
        (with("currency", json!("DOGE")), "currency"),
        (with("category_id", json!(999_999)), "category_id"),
    ];
    for (body, field) in cases {
        let (status, error) = app
            .admin_json(Method::POST, "/api/v1/items", body.clone())
            .await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"], "validation");
        assert!(
            error["fields"].get(field).is_some(),
            "{field} is named for {body}: {error}"
        );
    }

    let raw = |bytes: Vec<u8>, content_type: &'static str| {
        app.admin(Method::POST, "/api/v1/items")
            .header("content-type", content_type)
            .body(bytes)
            .send()
    };
    let malformed = raw(b"{\"name\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let not_utf8 = raw(b"{\"name\": \"\xff\xfe\"}".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(not_utf8.status(), 400);
    let not_json = raw(b"name=Kettle".to_vec(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let huge = raw(vec![b' '; 200_000], "application/json").await.unwrap();
    assert_eq!(huge.status(), 413);
    let body: Value = huge.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");

    for (path, status) in [
        ("/api/v1/items/not-an-id", 400),
        ("/api/v1/items/order-0-1", 400),
        ("/api/v1/items/item-0-999999", 404),
        ("/api/v1/items/item-999-1", 404),
        ("/api/v1/categories/abc", 400),
        ("/api/v1/categories/424242", 404),
        ("/api/v1/categories/1/items?per_page=1000", 422),
        ("/api/v1/categories/1/items?sort=random", 422),
        ("/api/v1/nothing-here", 404),
    ] {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["message"].is_string(),
            "{path} explains itself: {body}"
        );
    }

    let (_, items) = app
        .get_json(&format!("/api/v1/categories/{}/items", category["id"]))
        .await;
    assert_eq!(items["total"], 0, "nothing was written");
    app.stop().await;
}

#[tokio::test]
async fn every_stock_change_is_in_the_ledger_and_the_ledger_sums_to_the_stock() {
    let app = spawn_app().await;
    let category = app.create_category("Cameras").await;
    let item = app
        .create_item(&category, "Lensa Compact", "249.00", 10)
        .await;
    let path = format!(
        "/api/v1/items/{}/stock-movements",
        item["id"].as_str().unwrap()
    );

    let (status, set) = app
        .admin_json(
            Method::POST,
            &path,
            json!({"kind": "set", "quantity": 25, "reason": "recount"}),
        )
        .await;
    assert_eq!(status, 201, "{set}");
    assert_eq!(set["item"]["stock"], 25);
    assert_eq!(set["movement"]["delta"], 15);

    let (status, adjusted) = app
        .admin_json(
            Method::POST,
            &path,
            json!({"kind": "adjust", "quantity": -5, "reason": "damaged"}),
        )
        .await;
    assert_eq!(status, 201, "{adjusted}");
    assert_eq!(adjusted["item"]["stock"], 20);

    let (status, refused) = app
        .admin_json(
            Method::POST,
            &path,
            json!({"kind": "adjust", "quantity": -21, "reason": "lost"}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["field"], "quantity");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("only 20 in stock")
    );

    let (status, missing_reason) = app
        .admin_json(
            Method::POST,
            &path,
            json!({"kind": "adjust", "quantity": 3, "reason": ""}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(missing_reason["fields"]["reason"].is_array());

    let ledger = app
        .admin(Method::GET, &path)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(ledger["total"], 3);
    let causes: Vec<_> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["cause"].as_str().unwrap(), m["delta"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        causes,
        [("admin_adjust", -5), ("admin_set", 15), ("admin_set", 10)]
    );

    let (_, current) = app
        .get_json(&format!("/api/v1/items/{}", item["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        current["stock"], 20,
        "the read is not stale after the change"
    );
    let report = server::audit::audit(&app.state).await.unwrap();
    assert!(report.is_clean(), "{report}");
    app.stop().await;
}

#[tokio::test]
async fn a_patch_changes_only_what_it_names_and_a_deleted_item_is_gone() {
    let app = spawn_app().await;
    let category = app.create_category("Books").await;
    let item = app
        .create_item(&category, "Atlas of Islands", "24.00", 4)
        .await;
    let path = format!("/api/v1/items/{}", item["id"].as_str().unwrap());
    let _ = app.get_json(&path).await;

    let (status, patched) = app
        .admin_json(Method::PATCH, &path, json!({"price": "19.50"}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["price"], "19.50");
    assert_eq!(patched["name"], "Atlas of Islands");
    assert_eq!(patched["stock"], 4);
    let (_, read) = app.get_json(&path).await;
    assert_eq!(read["price"], "19.50", "the cached copy was dropped");

    let (status, unknown) = app
        .admin_json(Method::PATCH, &path, json!({"stock": 100}))
        .await;
    assert_eq!(
        status, 422,
        "stock changes only through the ledger: {unknown}"
    );

    let deleted = app.admin(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get_json(&path).await.0, 404);
    let again = app.admin(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(again.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn a_category_lists_its_items_sorted_and_paged() {
    let app = spawn_app().await;
    let category = app.create_category("Gaming").await;
    for (name, price) in [
        ("Controller", "59.99"),
        ("Console", "499.00"),
        ("Headset", "89.00"),
    ] {
        app.create_item(&category, name, price, 5).await;
    }
    let base = format!("/api/v1/categories/{}/items", category["id"]);
    let (status, first) = app
        .get_json(&format!("{base}?sort=price_asc&per_page=2"))
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["total"], 3);
    let names: Vec<_> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(names, [json!("Controller"), json!("Headset")]);
    let (_, second) = app
        .get_json(&format!("{base}?sort=price_asc&per_page=2&page=2"))
        .await;
    assert_eq!(second["items"][0]["name"], "Console");
    let (_, newest) = app.get_json(&format!("{base}?sort=newest")).await;
    assert_eq!(newest["items"][0]["name"], "Headset");

    // The pages are cached, yet an admin's change shows at once: a new item, a new price.
    let added = app.create_item(&category, "Arcade Stick", "19.00", 5).await;
    let (_, cheapest) = app.get_json(&format!("{base}?sort=price_asc")).await;
    assert_eq!(cheapest["total"], 4);
    assert_eq!(cheapest["items"][0]["name"], "Arcade Stick");
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/api/v1/items/{}", added["id"].as_str().unwrap()),
            json!({"price": "999.00"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, repriced) = app.get_json(&format!("{base}?sort=price_asc")).await;
    assert_eq!(repriced["items"][0]["name"], "Controller");

    // A stock change outside the admin's item writes (a hold, here written straight to the row)
    // shows once the listing's cache time has passed.
    let (_, before) = app.get_json(&format!("{base}?sort=price_asc")).await;
    let controller = before["items"][0]["id"].as_str().unwrap();
    let id: app::shard::id::ItemId = controller.parse().unwrap();
    let database = app.state.shards.for_id(&id).unwrap();
    sqlx::query("UPDATE items SET stock = stock - 1 WHERE id = ?")
        .bind(id.local())
        .execute(&mut *database.acquire().await.unwrap())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let (_, now) = app.get_json(&format!("{base}?sort=price_asc")).await;
        if now["items"][0]["stock"] == 4 {
            break;
        }
        assert!(
            started.elapsed()
                < std::time::Duration::from_millis(app::catalog::cache::LISTING_TTL_MS + 1000),
            "the listing kept its stock past its cache time: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Put the unit back through the same side door, so the ledger still sums.
    sqlx::query("UPDATE items SET stock = stock + 1 WHERE id = ?")
        .bind(id.local())
        .execute(&mut *database.acquire().await.unwrap())
        .await
        .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_change_made_by_another_copy_reaches_this_copys_cache_through_the_event_stream() {
    let app = spawn_app().await;
    let category = app.create_category("Fashion").await;
    let item = app.create_item(&category, "Wool Scarf", "29.00", 9).await;
    let id = item["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/items/{id}");
    assert_eq!(app.get_json(&path).await.1["name"], "Wool Scarf");

    // Another copy of Surge renames it: a row change and its event, in one transaction, with no
    // cache invalidation from this copy.
    let id_parsed: app::shard::id::ItemId = id.parse().unwrap();
    let shard = app.state.shards.for_id(&id_parsed).unwrap();
    let mut tx = shard.begin().await.unwrap();
    sqlx::query("UPDATE items SET name = 'Cashmere Scarf' WHERE id = ?")
        .bind(id_parsed.local())
        .execute(&mut *tx)
        .await
        .unwrap();
    app::events::record(
        &mut tx,
        &app::events::Event::ItemChanged {
            item_id: id_parsed,
            category_id: app::catalog::model::CategoryId(category["id"].as_u64().unwrap()),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let started = Instant::now();
    loop {
        let (_, read) = app.get_json(&path).await;
        if read["name"] == "Cashmere Scarf" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the change reached the cache within 2 seconds"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn with_redis_down_the_catalog_is_read_and_written_from_the_databases() {
    let mut settings = fresh_settings();
    settings.redis.url =
        app::shard::topology::SecretUrl::new(format!("redis://{}/0", dead_address()));
    let app = spawn_with(settings, true).await;
    // No sessions without Redis: the catalog is written through its service.
    let category = app::catalog::service::create_category(
        &app.state,
        &app::catalog::model::CategoryInput {
            name: "Sports".into(),
        },
    )
    .await
    .unwrap();
    let input = app::catalog::model::ItemInput {
        category_id: category.id,
        name: "Trail Shoes".into(),
        price: "89.99".parse().unwrap(),
        stock: 12,
        ..Default::default()
    };
    let item = serde_json::to_value(
        app::catalog::service::create_item(&app.state, &input)
            .await
            .unwrap(),
    )
    .unwrap();
    let (status, read) = app
        .get_json(&format!("/api/v1/items/{}", item["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["stock"], 12);
    let page = app
        .get(&format!("/items/{}", item["id"].as_str().unwrap()))
        .await;
    assert_eq!(page.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_catalog_routes() {
    let app = spawn_app().await;
    let (status, document) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/categories",
        "/api/v1/categories/{id}",
        "/api/v1/categories/{id}/items",
        "/api/v1/items",
        "/api/v1/items/{id}",
        "/api/v1/items/{id}/stock-movements",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} is documented"
        );
    }
    assert!(document["paths"]["/api/v1/items/{id}"]["delete"].is_object());
    assert!(document["components"]["schemas"]["Item"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn category_and_item_pages_are_rendered_on_the_server() {
    let app = spawn_app().await;
    let category = app.create_category("Home & Garden").await;
    assert_eq!(category["slug"], "home-garden");
    let item = app
        .create_item(&category, "Robot Vacuum Edge", "349.99", 3)
        .await;
    let id = item["id"].as_str().unwrap();

    let html = app
        .get("/categories/home-garden")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Home &amp; Garden") || html.contains("Home & Garden"));
    assert!(html.contains("Robot Vacuum Edge"));
    assert!(html.contains(&format!("/items/{id}")));

    let page = app.get(&format!("/items/{id}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("349.99 EUR"));
    assert!(html.contains("Only 3 left"));

    let image = app.get(&format!("/images/items/{id}.svg")).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");

    assert_eq!(app.get("/items/item-0-424242").await.status(), 404);
    assert_eq!(app.get("/categories/no-such-thing").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_demo_catalog_spreads_over_every_shard_and_its_ledger_is_clean() {
    let app = spawn_app().await;
    let report = app::catalog::seed::seed(&app.state, 600, 7, |_| {})
        .await
        .unwrap();
    assert_eq!(report.categories, 12);
    assert_eq!(report.items, 600);
    let (_, categories) = app.get_json("/api/v1/categories").await;
    let categories = categories.as_array().unwrap();
    assert_eq!(categories.len(), 12);
    for shard in 0..3 {
        assert!(
            categories.iter().any(|c| c["shard"] == shard),
            "shard {shard} holds a category"
        );
    }
    let mut total = 0;
    for category in categories {
        let (_, page) = app
            .get_json(&format!("/api/v1/categories/{}/items", category["id"]))
            .await;
        total += page["total"].as_u64().unwrap();
    }
    assert_eq!(total, 600);
    // Seeding again reuses the categories.
    let again = app::catalog::seed::seed(&app.state, 12, 8, |_| {})
        .await
        .unwrap();
    assert_eq!(again.categories, 12);
    assert_eq!(
        app.get_json("/api/v1/categories")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        12
    );
    let audit = server::audit::audit(&app.state).await.unwrap();
    assert!(audit.is_clean(), "{audit}");
    app.stop().await;
}

#[tokio::test]
async fn a_state_changing_request_from_another_site_is_refused() {
    let app = spawn_app().await;
    let forged = app
        .admin(Method::POST, "/api/v1/categories")
        .header("origin", "http://evil.example")
        .json(&json!({"name": "Forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross_site_form = app
        .client
        .post(app.url("/api/admin/create-category"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "Forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site_form.status(), 403);
    let same_origin = app
        .admin(Method::POST, "/api/v1/categories")
        .header("origin", format!("http://{}", app.addr))
        .json(&json!({"name": "Genuine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 201);
    let (_, categories) = app.get_json("/api/v1/categories").await;
    assert_eq!(categories.as_array().unwrap().len(), 1);
    app.stop().await;
}
