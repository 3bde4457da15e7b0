use crate::helpers::spawn_app;

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
    let nonce_of = |response: &reqwest::Response| {
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains("'wasm-unsafe-eval'") && policy.contains("object-src 'none'"));
        let start = policy.find("'nonce-").expect("a nonce") + 7;
        let end = start + policy[start..].find('\'').unwrap();
        policy[start..end].to_owned()
    };
    let first = app.get("/").await;
    let nonce = nonce_of(&first);
    let html = first.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration scripts carry it"
    );
    let second = app.get("/").await;
    assert_ne!(nonce_of(&second), nonce, "every response has its own");
    app.stop().await;
}
