use std::io::Read as _;
use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{
    check_out, customers, fill_cart, fresh_settings, get_signed_in, spawn_app, spawn_with,
};

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

/// The nonce a page's Content-Security-Policy names.
fn policy_nonce(response: &reqwest::Response) -> String {
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    let start = policy.find("'nonce-").expect("a nonce") + 7;
    let end = start + policy[start..].find('\'').unwrap();
    policy[start..end].to_owned()
}

/// The `'sha256-…'` sources of a page's Content-Security-Policy.
fn policy_hashes(response: &reqwest::Response) -> Vec<String> {
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(!policy.contains("'nonce-"), "{policy}");
    policy
        .split_whitespace()
        .filter(|source| source.starts_with("'sha256-"))
        .map(str::to_owned)
        .collect()
}

/// The SHA-256 of each inline script of `html`, found as a browser finds them.
fn script_hashes(html: &str) -> Vec<String> {
    html.split("<script")
        .skip(1)
        .filter_map(|tail| {
            let (attributes, rest) = tail.split_once('>').unwrap();
            let text = rest.split_once("</script>").unwrap().0;
            (!attributes.contains("src=")).then(|| {
                format!(
                    "'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text))
                )
            })
        })
        .collect()
}

/// A page asked for as gzip.
async fn get_gzipped(app: &crate::helpers::TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap()
}

/// A gzip body, decoded.
async fn gunzip(response: reqwest::Response) -> String {
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&response.bytes().await.unwrap()[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    unzipped
}

#[tokio::test]
async fn a_visitors_category_page_is_kept_a_moment_and_compressed_once() {
    let mut settings = fresh_settings();
    settings.http.compression_min_bytes = 1000;
    let app = spawn_with(settings, true).await;
    let category = app.create_category("Kept Kites").await;
    app.create_item(&category, "Box Kite", "24.00", 7).await;
    let slug = category["slug"].as_str().unwrap();
    let path = format!("/categories/{slug}");

    let first = app.get(&path).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("age").is_none(), "rendered");
    let first_hashes = policy_hashes(&first);
    let first_html = first.text().await.unwrap();
    assert!(first_html.contains("Box Kite") && first_html.contains("Sign in"));
    let hashes = script_hashes(&first_html);
    assert!(!hashes.is_empty(), "the hydration scripts are inline");
    assert_eq!(
        first_hashes, hashes,
        "the policy allows exactly its scripts"
    );

    let kept = app.get(&path).await;
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.headers()["age"], "0", "answered from the kept page");
    assert_eq!(policy_hashes(&kept), hashes);
    let length: usize = kept.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let html = kept.text().await.unwrap();
    assert_eq!(length, html.len());
    assert_eq!(html, first_html, "the same page, byte for byte");

    let gzipped = get_gzipped(&app, &path).await;
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let vary: Vec<_> = gzipped.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["accept-encoding"]);
    assert_eq!(gunzip(gzipped).await, first_html);

    // A page first asked for compressed is kept plain all the same.
    let other = app.create_category("Kept Kestrels").await;
    app.create_item(&other, "Kestrel Kite", "31.00", 2).await;
    let other_path = format!("/categories/{}", other["slug"].as_str().unwrap());
    let gzipped_first = get_gzipped(&app, &other_path).await;
    assert!(gzipped_first.headers().get("age").is_none(), "rendered");
    assert_eq!(gzipped_first.headers()["content-encoding"], "gzip");
    let vary: Vec<_> = gzipped_first.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["accept-encoding"]);
    let other_html = gunzip(gzipped_first).await;
    assert!(other_html.contains("Kestrel Kite"));
    let plain = app.get(&other_path).await;
    assert!(
        plain.headers().get("age").is_some(),
        "answered from the kept page"
    );
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), other_html);

    let signed_in = get_signed_in(&app, &path, "kite_flyer").await;
    assert!(
        signed_in.headers().get("age").is_none(),
        "rendered for them"
    );
    policy_nonce(&signed_in);
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
    assert_eq!(policy_hashes(&kept), policy_hashes(&first));
    let html = kept.text().await.unwrap();
    assert!(html.contains("9 in stock"));
    assert_eq!(html, first.text().await.unwrap());

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

    // So does a customer's hold, once its event has lowered the item's cached copy to the stock
    // left (within the relay's pass); no page made before is kept.
    assert!(age_of(&app.get(&path).await).is_some());
    let buyers = customers(&app.state, "kettle", 1).await;
    fill_cart(&app.state, buyers[0].0, &[(&item, 2)]).await;
    let (status, checkout) = check_out(&app, &buyers[0].1, "kept-kettle-1").await;
    assert_eq!(status, 201, "{checkout}");
    let held_at = std::time::Instant::now();
    loop {
        let html = app.get(&path).await.text().await.unwrap();
        if html.contains("7 in stock") {
            break;
        }
        assert!(
            html.contains("9 in stock"),
            "the stock before the hold, or after"
        );
        assert!(
            held_at.elapsed() < Duration::from_secs(2),
            "the hold never showed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.get(&path).await;
    let kept = app.get(&path).await;
    assert!(age_of(&kept).is_some(), "kept again");
    assert!(kept.text().await.unwrap().contains("7 in stock"));

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
