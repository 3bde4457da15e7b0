//! What every answer passes through on its way out: the security headers, compression, and the
//! site bundle's caching.

use std::io::Read;
use std::path::PathBuf;

use http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, IF_MODIFIED_SINCE,
    LAST_MODIFIED, VARY,
};

use crate::helpers::{TestApp, fresh_settings, spawn_app, spawn_with};

/// A GET offering `encodings`, as a browser's `Accept-Encoding` does.
async fn get_accepting(app: &TestApp, path: &str, encodings: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(ACCEPT_ENCODING, encodings)
        .send()
        .await
        .expect("request sent")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .expect("a gzip body");
    plain
}

#[tokio::test]
async fn a_page_is_compressed_for_a_browser_that_accepts_it() {
    let mut settings = fresh_settings();
    settings.http.compression_min_bytes = 1000;
    let app = spawn_with(settings, true).await;
    let category = app.create_category("Compressed Goods").await;
    let item = app
        .create_item(&category, "Squeezed Lemon Press", "19.99", 5)
        .await;
    let path = format!("/items/{}", item["id"].as_str().expect("an item id"));

    let page = get_accepting(&app, &path, "gzip").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[CONTENT_ENCODING], "gzip");
    let compressed = page.bytes().await.unwrap();
    let html = String::from_utf8(gunzip(&compressed)).expect("UTF-8 HTML");
    assert!(html.contains("Squeezed Lemon Press") && html.contains("</html>"));
    assert!(compressed.len() < html.len(), "the page shrank");

    let plain = app.get(&path).await;
    assert!(
        plain.headers().get(CONTENT_ENCODING).is_none(),
        "a client that offers no encoding gets the page as it is"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_page_smaller_than_the_first_window_goes_as_it_is_with_its_length() {
    let app = spawn_app().await;
    let category = app.create_category("Small Goods").await;
    let item = app.create_item(&category, "Tiny Thimble", "1.99", 5).await;
    let path = format!("/items/{}", item["id"].as_str().expect("an item id"));

    let page = get_accepting(&app, &path, "gzip, deflate, br, zstd").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers().get(CONTENT_ENCODING).is_none(),
        "below http.compression_min_bytes"
    );
    let length: usize = page.headers()[CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .expect("a length");
    let html = page.text().await.unwrap();
    assert_eq!(length, html.len(), "rendered in full, sent with its length");
    assert!(html.contains("Tiny Thimble") && html.contains("</html>"));
    app.stop().await;
}

#[tokio::test]
async fn compression_level_zero_sends_answers_as_they_are() {
    let mut settings = fresh_settings();
    settings.http.compression_level = 0;
    let app = spawn_with(settings, true).await;
    let category = app.create_category("Loose Goods").await;
    app.create_item(&category, "Uncompressed Sponge", "2.50", 5)
        .await;

    let page = get_accepting(&app, "/categories/loose-goods", "gzip, deflate, br, zstd").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers().get(CONTENT_ENCODING).is_none());
    let html = page.text().await.unwrap();
    assert!(html.contains("Uncompressed Sponge"), "a plain page");
    app.stop().await;
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_even_an_unknown_route() {
    let app = spawn_app().await;
    let category = app.create_category("Guarded Goods").await;
    let item = app.create_item(&category, "Locked Box", "9.99", 5).await;
    let page = format!("/items/{}", item["id"].as_str().expect("an item id"));
    for (path, status) in [
        ("/api/v1/categories", 200),
        (page.as_str(), 200),
        ("/livez", 200),
        ("/api/v1/no-such-route", 404),
        ("/no-such-page", 404),
    ] {
        let answer = app.get(path).await;
        assert_eq!(answer.status(), status, "{path}");
        let headers = answer.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            headers["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
    }
    app.stop().await;
}

/// A site folder of its own: `pkg/surge.wasm` with a precompressed `.br` beside it, and
/// `pkg/surge.js` without one (larger than `http.compression_min_bytes`).
struct Site {
    root: PathBuf,
    wasm: Vec<u8>,
    wasm_br: Vec<u8>,
    js: Vec<u8>,
}

impl Site {
    fn new() -> Site {
        let root = std::env::temp_dir().join(format!("surge-site-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(root.join("pkg")).expect("a site folder");
        let wasm: Vec<u8> = (0..64 * 1024u32).map(|n| (n % 251) as u8).collect();
        let wasm_br = b"the bundle, compressed at build time".to_vec();
        let js = "export function hydrate() { return 'surge'; }\n"
            .repeat(400)
            .into_bytes();
        std::fs::write(root.join("pkg/surge.wasm"), &wasm).expect("write");
        std::fs::write(root.join("pkg/surge.wasm.br"), &wasm_br).expect("write");
        std::fs::write(root.join("pkg/surge.js"), &js).expect("write");
        Site {
            root,
            wasm,
            wasm_br,
            js,
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[tokio::test]
async fn the_bundle_is_served_as_compressed_at_build_time_and_revalidated_on_every_page() {
    let site = Site::new();
    let mut settings = fresh_settings();
    settings.site.root = site.root.to_string_lossy().into_owned();
    let app = spawn_with(settings, true).await;

    let wasm = get_accepting(&app, "/pkg/surge.wasm", "gzip, deflate, br, zstd").await;
    assert_eq!(wasm.status(), 200);
    assert_eq!(wasm.headers()[CONTENT_ENCODING], "br");
    assert_eq!(wasm.headers()[CACHE_CONTROL], "no-cache");
    assert_eq!(
        wasm.headers().get_all(VARY).iter().collect::<Vec<_>>(),
        ["accept-encoding"],
        "a shared cache keeps a copy per encoding"
    );
    let modified = wasm.headers()[LAST_MODIFIED].clone();
    assert_eq!(
        wasm.bytes().await.unwrap(),
        site.wasm_br,
        "the file compressed at build time, not compressed again"
    );

    let plain = app.get("/pkg/surge.wasm").await;
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(plain.bytes().await.unwrap(), site.wasm);

    let again = app
        .client
        .get(app.url("/pkg/surge.wasm"))
        .header(ACCEPT_ENCODING, "br")
        .header(IF_MODIFIED_SINCE, modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "an unchanged bundle is not sent again");

    let js = get_accepting(&app, "/pkg/surge.js", "gzip").await;
    assert_eq!(js.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(js.headers()[CACHE_CONTROL], "no-cache");
    assert_eq!(js.headers().get_all(VARY).iter().count(), 1, "said once");
    assert_eq!(
        gunzip(&js.bytes().await.unwrap()),
        site.js,
        "a file without a compressed copy is compressed as it is sent"
    );

    let missing = app.get("/pkg/no-such-file.js").await;
    assert_eq!(missing.status(), 404);
    app.stop().await;
}
