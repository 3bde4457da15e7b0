use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, check_out, customer_token, customers, fill_cart, spawn_app};

#[tokio::test]
async fn the_home_page_is_rendered_on_the_server_with_the_categories_from_the_directory() {
    let app = spawn_app().await;
    let mut directory = app.state.shards.directory().acquire().await.unwrap();
    sqlx::query("INSERT INTO categories (slug, name, shard) VALUES ('tv', 'Televisions', 1), ('audio', 'Headphones', 2)")
        .execute(&mut *directory)
        .await
        .unwrap();
    drop(directory);

    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Black Friday at Surge"));
    assert!(
        html.contains(r#"type="search""#),
        "the header has a search box"
    );
    assert!(
        html.contains(r#"href="/cart""#),
        "the header links to the cart"
    );
    let headphones = html.find("Headphones").expect("categories are rendered");
    let televisions = html.find("Televisions").expect("categories are rendered");
    assert!(headphones < televisions, "categories are sorted by name");
    assert!(
        html.contains("/pkg/surge.js"),
        "the hydration script is included"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_categories_server_function_answers_json() {
    let app = spawn_app().await;
    let mut directory = app.state.shards.directory().acquire().await.unwrap();
    sqlx::query("INSERT INTO categories (slug, name, shard) VALUES ('toys', 'Toys', 0)")
        .execute(&mut *directory)
        .await
        .unwrap();
    drop(directory);

    let response = app
        .client
        .post(app.url("/api/categories"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let categories: serde_json::Value = response.json().await.unwrap();
    assert_eq!(categories[0]["name"], "Toys");
    assert_eq!(categories[0]["shard"], 0);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_page_is_a_404_with_the_layout() {
    let app = spawn_app().await;
    let response = app.get("/no-such-page").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains("Search the shop"));
    app.stop().await;
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_around_a_fresh_nonce() {
    let app = spawn_app().await;
    let first = app.get("/").await;
    let policy = first.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("'wasm-unsafe-eval'") && policy.contains("object-src 'none'"));
    let nonce = policy_nonce(&first);
    let html = first.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration scripts carry it"
    );
    let second = app.get("/").await;
    assert_ne!(policy_nonce(&second), nonce, "every response has its own");
    app.stop().await;
}

/// `path` asked for by a new customer called `username`, signed in.
async fn get_signed_in(app: &TestApp, path: &str, username: &str) -> reqwest::Response {
    let token = customer_token(app, username).await;
    app.client
        .get(app.url(path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
}

/// The nonce a page's Content-Security-Policy names.
fn policy_nonce(response: &reqwest::Response) -> String {
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    let start = policy.find("'nonce-").expect("a nonce") + 7;
    let end = start + policy[start..].find('\'').unwrap();
    policy[start..end].to_owned()
}

#[tokio::test]
async fn a_visitors_category_page_is_kept_a_moment_but_every_answer_has_its_own_nonce() {
    let app = spawn_app().await;
    let category = app.create_category("Kept Kites").await;
    app.create_item(&category, "Box Kite", "24.00", 7).await;
    let slug = category["slug"].as_str().unwrap();
    let path = format!("/categories/{slug}");

    let first = app.get(&path).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("age").is_none(), "rendered");
    let first_nonce = policy_nonce(&first);

    let kept = app.get(&path).await;
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.headers()["age"], "0", "answered from the kept page");
    let nonce = policy_nonce(&kept);
    assert_ne!(nonce, first_nonce, "a nonce of its own");
    let length: usize = kept.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let html = kept.text().await.unwrap();
    assert_eq!(length, html.len());
    assert!(html.contains("Box Kite") && html.contains("Sign in"));
    assert!(html.contains(&format!("nonce=\"{nonce}\"")));
    assert!(
        !html.contains(&first_nonce),
        "the kept page's nonce is gone"
    );

    let signed_in = get_signed_in(&app, &path, "kite_flyer").await;
    assert!(
        signed_in.headers().get("age").is_none(),
        "rendered for them"
    );
    let html = signed_in.text().await.unwrap();
    assert!(html.contains("Customer kite_flyer") && !html.contains("Sign in"));
    app.stop().await;
}

#[tokio::test]
async fn a_visitors_item_page_is_kept_until_its_item_changes() {
    let app = spawn_app().await;
    let category = app.create_category("Kept Kettles").await;
    let item = app.create_item(&category, "Steel Kettle", "30.00", 9).await;
    let id = item["id"].as_str().unwrap();
    let path = format!("/items/{id}");
    let age_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("age")
            .map(|age| age.to_str().unwrap().to_owned())
    };

    let first = app.get(&path).await;
    assert_eq!(first.status(), 200);
    assert_eq!(age_of(&first), None, "rendered");
    let kept = app.get(&path).await;
    assert!(age_of(&kept).is_some(), "answered from the kept page");
    assert_ne!(
        policy_nonce(&kept),
        policy_nonce(&first),
        "a nonce of its own"
    );
    assert!(kept.text().await.unwrap().contains("9 in stock"));

    // An admin's edit drops it at once on this copy.
    let (status, patched) = app
        .admin_json(
            Method::PATCH,
            &format!("/api/v1/items/{id}"),
            json!({"name": "Copper Kettle"}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let edited = app.get(&path).await;
    assert_eq!(age_of(&edited), None, "rendered again");
    assert!(edited.text().await.unwrap().contains("Copper Kettle"));

    // So does a customer's hold: the page shows the stock left.
    assert!(age_of(&app.get(&path).await).is_some());
    let buyers = customers(&app.state, "kettle", 1).await;
    fill_cart(&app.state, buyers[0].0, &[(&item, 2)]).await;
    let (status, checkout) = check_out(&app, &buyers[0].1, "kept-kettle-1").await;
    assert_eq!(status, 201, "{checkout}");
    let held = app.get(&path).await;
    assert_eq!(age_of(&held), None, "rendered again");
    assert!(held.text().await.unwrap().contains("7 in stock"));

    // Renaming its category drops it too: the page names the category.
    assert!(age_of(&app.get(&path).await).is_some());
    let (status, renamed) = app
        .admin_json(
            Method::PATCH,
            &format!("/api/v1/categories/{}", category["id"]),
            json!({"name": "Kept Teapots"}),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    let recategorized = app.get(&path).await;
    assert_eq!(age_of(&recategorized), None, "rendered again");
    assert!(recategorized.text().await.unwrap().contains("Kept Teapots"));

    // A signed-in customer's page is theirs: never kept, never answered from the kept one.
    let signed_in = get_signed_in(&app, &path, "kettle_fan").await;
    assert_eq!(age_of(&signed_in), None);
    assert!(!signed_in.text().await.unwrap().contains("Sign in"));
    app.stop().await;
}
