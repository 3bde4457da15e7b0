//! Search over the real shards: typo tolerance, filters, counts, sorting, and catching up with
//! changes through the event stream.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, check_out, customers, fill_cart, fresh_settings, get_signed_in, migrate_fresh,
    spawn_app, spawn_with,
};

/// Searches until `done` accepts the answer; fails after 2 seconds (the catch-up promise).
async fn search_until(app: &TestApp, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    search_within(app, query, Duration::from_secs(2), done).await
}

/// Searches until `done` accepts the answer; fails after `within`.
async fn search_within(
    app: &TestApp,
    query: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = app.get_json(&format!("/api/v1/search?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        if done(&body) {
            return body;
        }
        assert!(
            started.elapsed() < within,
            "{query}: the index did not catch up within {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(body: &Value) -> Vec<String> {
    body["results"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_misspelled_word_finds_items_and_the_filters_narrow_them() {
    let app = spawn_app().await;
    let kitchen = app.create_category("Kitchen").await;
    let toys = app.create_category("Toys").await;
    app.create_item(&kitchen, "Brava Espresso Machine", "299.00", 5)
        .await;
    app.create_item(&kitchen, "Copperleaf Milk Frother", "49.00", 3)
        .await;
    app.create_item(&kitchen, "Mistral Espresso Grinder", "89.00", 0)
        .await;
    app.create_item(&toys, "Toy Espresso Machine", "19.99", 10)
        .await;

    let all = search_until(&app, "q=expresso", |b| b["results"]["total"] == 3).await;
    let counts: Vec<_> = all["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("Kitchen".to_owned(), 2), ("Toys".to_owned(), 1)]);

    let (_, in_toys) = app
        .get_json(&format!(
            "/api/v1/search?q=expresso&category={}",
            toys["id"]
        ))
        .await;
    assert_eq!(names(&in_toys), ["Toy Espresso Machine"]);
    assert_eq!(
        in_toys["categories"].as_array().unwrap().len(),
        2,
        "counts ignore the category filter"
    );

    let (_, in_stock) = app
        .get_json("/api/v1/search?q=expresso&in_stock=true")
        .await;
    assert_eq!(in_stock["results"]["total"], 2);

    let (_, priced) = app
        .get_json("/api/v1/search?q=expresso&min_price=50&max_price=299")
        .await;
    let mut priced = names(&priced);
    priced.sort();
    assert_eq!(
        priced,
        ["Brava Espresso Machine", "Mistral Espresso Grinder"]
    );

    let (_, cheapest) = app
        .get_json("/api/v1/search?q=espresso&sort=price_asc")
        .await;
    assert_eq!(
        names(&cheapest),
        [
            "Toy Espresso Machine",
            "Mistral Espresso Grinder",
            "Brava Espresso Machine"
        ]
    );

    let (_, both_words) = app.get_json("/api/v1/search?q=espreso+machin").await;
    let mut both = names(&both_words);
    both.sort();
    assert_eq!(
        both,
        ["Brava Espresso Machine", "Toy Espresso Machine"],
        "every word must match"
    );

    let (_, paged) = app
        .get_json("/api/v1/search?q=espresso&sort=price_asc&per_page=2&page=2")
        .await;
    assert_eq!(names(&paged), ["Brava Espresso Machine"]);
    assert_eq!(paged["results"]["total"], 3);

    let (status, bad) = app
        .get_json("/api/v1/search?min_price=cheap&sort=best")
        .await;
    assert_eq!(status, 422);
    assert!(bad["fields"]["min_price"].is_array() && bad["fields"]["sort"].is_array());
    app.stop().await;
}

#[tokio::test]
async fn an_admin_change_is_searchable_within_two_seconds_and_a_deleted_item_disappears() {
    let app = spawn_app().await;
    let category = app.create_category("Cameras").await;
    let item = app
        .create_item(&category, "Lensa Mirrorless Body", "899.00", 2)
        .await;
    search_until(&app, "q=mirrorless", |b| b["results"]["total"] == 1).await;

    let path = format!("/api/v1/items/{}", item["id"].as_str().unwrap());
    let (status, _) = app.admin_json(Method::PATCH, &path, json!({"name": "Lensa Rangefinder Body", "description": "A rangefinder, for the test."})).await;
    assert_eq!(status, 200);
    search_until(&app, "q=rangefinder", |b| b["results"]["total"] == 1).await;
    search_until(&app, "q=mirrorless", |b| b["results"]["total"] == 0).await;

    let deleted = app.admin(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    search_until(&app, "q=rangefinder", |b| b["results"]["total"] == 0).await;
    app.stop().await;
}

#[tokio::test]
async fn a_visitors_search_is_answered_from_the_kept_answer_until_the_index_changes() {
    let app = spawn_app().await;
    let category = app.create_category("Ocarinas").await;
    app.create_item(&category, "Clay Ocarina", "19.00", 4).await;
    search_until(&app, "q=ocarina", |b| names(b) == ["Clay Ocarina"]).await;
    let kept = app.get("/api/v1/search?q=ocarina").await;
    assert_eq!(kept.status(), 200);
    assert!(
        kept.headers().get("age").is_some(),
        "answered from the kept answer"
    );
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(names(&kept), ["Clay Ocarina"]);
    let page = app.get("/search?q=ocarina").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Clay Ocarina"));
    let page = app.get("/search?q=ocarina").await;
    assert!(
        page.headers().get("age").is_some(),
        "the search page is kept too"
    );

    // A change drops the kept answers once the index has it.
    app.create_item(&category, "Bone Ocarina", "29.00", 2).await;
    search_until(&app, "q=ocarina", |b| b["results"]["total"] == 2).await;
    let page = app.get("/search?q=ocarina").await;
    assert!(page.text().await.unwrap().contains("Bone Ocarina"));

    // A signed-in customer's search is answered for them.
    let mine = get_signed_in(&app, "/api/v1/search?q=ocarina", "ocarina_player").await;
    assert!(mine.headers().get("age").is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_holds_stock_reaches_search_within_seconds() {
    let app = spawn_app().await;
    let category = app.create_category("Telescopes").await;
    let item = app
        .create_item(&category, "Starfinder Refractor", "249.00", 9)
        .await;
    search_until(&app, "q=refractor", |b| b["results"]["total"] == 1).await;
    let buyers = customers(&app.state, "stargazer", 1).await;
    fill_cart(&app.state, buyers[0].0, &[(&item, 2)]).await;
    let (status, checkout) = check_out(&app, &buyers[0].1, "stars-key-1").await;
    assert_eq!(status, 201, "{checkout}");
    // A sale's holds are indexed every two seconds at most, after the relay's pass (and a busy
    // machine's delays).
    search_within(&app, "q=refractor", Duration::from_secs(4), |b| {
        b["results"]["items"][0]["stock"] == 7
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_starting_copy_builds_its_index_from_every_shard() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    let seeding = spawn_with(settings.clone(), false).await;
    app::catalog::seed::seed(&seeding.state, 360, 11, |_| {})
        .await
        .unwrap();
    // A second copy starts on the same databases: its index holds every item at once.
    let copy = spawn_with(settings, false).await;
    let (_, everything) = copy.get_json("/api/v1/search?per_page=1").await;
    assert_eq!(everything["results"]["total"], 360);
    assert_eq!(everything["categories"].as_array().unwrap().len(), 12);
    let html = copy.get("/search?q=headphones").await.text().await.unwrap();
    assert!(html.contains("Headphones"), "the search page lists matches");
    copy.stop().await;
    seeding.stop().await;
}
