//! The sandbox payment processor: payment requests with EMVCo QR payloads, idempotent; the bank
//! pages paying them (wrong amounts and twice included); its state surviving a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::config::Settings;
use server::psp_sandbox::SandboxServer;
use server::psp_sandbox::emv::PaymentPayload;

use crate::helpers::fresh_settings;

pub(crate) const KEY: &str = "sandbox-test-api-key-0001";
pub(crate) const SECRET: &str = "sandbox-test-webhook-secret";

pub(crate) struct Running {
    pub(crate) base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn start(settings: &Settings) -> Running {
    let sandbox = SandboxServer::build(settings)
        .await
        .expect("the sandbox starts (is the stack up?)");
    let base = format!("http://{}", sandbox.addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sandbox.serve(async {
        let _ = stopped.await;
    }));
    Running { base, stop, server }
}

impl Running {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

pub(crate) fn settings() -> Settings {
    let mut settings = fresh_settings();
    settings.psp_sandbox.addr = "127.0.0.1:0".parse().unwrap();
    settings.psp_sandbox.api_key = Some(KEY.into());
    settings.psp_sandbox.webhook_secret = Some(SECRET.into());
    settings
}

async fn create(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = client
        .post(format!("{base}/v1/payment-requests"))
        .bearer_auth(KEY)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn read_request(client: &reqwest::Client, base: &str, id: &str) -> Value {
    client
        .get(format!("{base}/v1/payment-requests/{id}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(crate) async fn pay(
    client: &reqwest::Client,
    base: &str,
    payload: &str,
    amount: &str,
) -> (StatusCode, String) {
    let response = client
        .post(format!("{base}/bank/transfers"))
        .form(&[("payload", payload), ("amount", amount)])
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_payment_request_carries_a_valid_emvco_payload_and_is_created_once() {
    let settings = settings();
    let running = start(&settings).await;
    let client = reqwest::Client::new();
    let body =
        json!({"amount": "42.50", "currency": "EUR", "reference": "chk-1", "expires_in_s": 120});
    let (status, first) = create(&client, &running.base, "order-key-0001", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "pending");
    let payload =
        PaymentPayload::parse(first["qr_payload"].as_str().unwrap()).expect("valid EMVCo");
    assert_eq!(payload.amount.to_string(), "42.50");
    assert_eq!(payload.currency.code(), "EUR");
    assert_eq!(payload.reference, "chk-1");
    assert_eq!(payload.account, first["account"].as_str().unwrap());
    assert!(
        first["qr_payload"]
            .as_str()
            .unwrap()
            .starts_with("000201010212"),
        "dynamic"
    );

    let (status, again) = create(&client, &running.base, "order-key-0001", body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same key answers the same request"
    );
    assert_eq!(again["id"], first["id"]);
    let (status, other) = create(
        &client,
        &running.base,
        "order-key-0001",
        json!({"amount": "1.00", "currency": "EUR", "reference": "chk-1", "expires_in_s": 120}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");

    let (status, bad) = create(
        &client,
        &running.base,
        "order-key-0002",
        json!({"amount": "-3", "currency": "EUR", "reference": "chk-2", "expires_in_s": 120}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["field"], "amount");
    let anonymous = client
        .get(format!(
            "{}/v1/payment-requests/{}",
            running.base,
            first["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    running.stop().await;
    server::psp_sandbox::drop_database(&settings).await.unwrap();
}

#[tokio::test]
async fn the_bank_pays_any_amount_any_number_of_times_and_the_state_survives_a_restart() {
    let settings = settings();
    let running = start(&settings).await;
    let client = reqwest::Client::new();
    let (_, request) = create(
        &client,
        &running.base,
        "bank-key-0001",
        json!({"amount": "19.99", "currency": "EUR", "reference": "chk-bank", "expires_in_s": 120}),
    )
    .await;
    let id = request["id"].as_str().unwrap().to_owned();
    let payload = request["qr_payload"].as_str().unwrap().to_owned();

    // Opening the link shows whom you pay and the amount.
    let page = client
        .get(request["pay_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Surge Shop") && html.contains("19.99"),
        "{html}"
    );

    // A mistyped code is refused, naming why.
    let mistyped = payload.replace("19.99", "10.99");
    let (status, html) = pay(&client, &running.base, &mistyped, "10.99").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("checksum"), "{html}");

    // Too little, then the rest: both arrive.
    let (status, html) = pay(&client, &running.base, &payload, "10.00").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let (status, _) = pay(&client, &running.base, &payload, "9.99").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = pay(&client, &running.base, &payload, "0").await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing is not a payment"
    );
    let paid = read_request(&client, &running.base, &id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amount_received"], "19.99");
    assert_eq!(paid["transfers"].as_array().unwrap().len(), 2);

    // Refunds: partial, then the rest; never more than received; once per key.
    let refund = |key: &'static str, body: Value| {
        let client = client.clone();
        let url = format!("{}/v1/payment-requests/{id}/refunds", running.base);
        async move {
            let response = client
                .post(url)
                .bearer_auth(KEY)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, part) = refund("refund-key-1", json!({"amount": "5.00"})).await;
    assert_eq!(status, StatusCode::CREATED, "{part}");
    let (status, again) = refund("refund-key-1", json!({"amount": "5.00"})).await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::OK, &part["id"]),
        "once per key"
    );
    let (status, over) = refund("refund-key-2", json!({"amount": "15.00"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{over}");
    assert!(
        over["message"].as_str().unwrap().contains("14.99"),
        "{over}"
    );
    // Racing full refunds: exactly one gets the rest.
    let race = futures_util::future::join_all(
        [
            "refund-race-1",
            "refund-race-2",
            "refund-race-3",
            "refund-race-4",
        ]
        .map(|key| refund(key, json!({}))),
    )
    .await;
    let won: Vec<_> = race
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .collect();
    assert_eq!(won.len(), 1, "{race:?}");
    assert_eq!(won[0].1["amount"], "14.99");
    let paid = read_request(&client, &running.base, &id).await;
    assert_eq!(paid["amount_refunded"], "19.99");

    // A restart on the same database: everything is still there.
    running.stop().await;
    let running = start(&settings).await;
    let after = read_request(&client, &running.base, &id).await;
    assert_eq!(after["transfers"], paid["transfers"]);
    assert_eq!(after["refunds"], paid["refunds"]);
    assert_eq!(after["qr_payload"], paid["qr_payload"]);
    running.stop().await;
    server::psp_sandbox::drop_database(&settings).await.unwrap();
}

/// A merchant's webhook endpoint: refuses the first `fail_first` posts, records the rest.
#[derive(Clone, Default)]
struct Receiver {
    posts: Arc<Mutex<Vec<(String, String)>>>,
    refused: Arc<Mutex<u32>>,
    fail_first: u32,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let mut refused = receiver.refused.lock().unwrap();
    if *refused < receiver.fail_first {
        *refused += 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let signature = headers
        .get(app::payments::signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    receiver.posts.lock().unwrap().push((signature, body));
    StatusCode::NO_CONTENT
}

async fn listen(receiver: Receiver, addr: &str) -> String {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn posts_become(receiver: &Receiver, count: usize) -> Vec<(String, String)> {
    let started = std::time::Instant::now();
    loop {
        let posts = receiver.posts.lock().unwrap().clone();
        if posts.len() >= count {
            return posts;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} webhooks, not {count}",
            posts.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_transfer_sends_a_signed_webhook_retried_until_acknowledged_even_across_a_restart() {
    let settings = settings();
    let running = start(&settings).await;
    let client = reqwest::Client::new();
    let receiver = Receiver {
        fail_first: 1,
        ..Default::default()
    };
    let url = listen(receiver.clone(), "127.0.0.1:0").await;
    let (_, request) = create(
        &client,
        &running.base,
        "hook-key-0001",
        json!({"amount": "8.00", "currency": "EUR", "reference": "chk-hook", "expires_in_s": 120, "webhook_url": url}),
    )
    .await;
    let payload = request["qr_payload"].as_str().unwrap().to_owned();
    pay(&client, &running.base, &payload, "8.00").await;
    let posts = posts_become(&receiver, 1).await;
    assert_eq!(
        *receiver.refused.lock().unwrap(),
        1,
        "the refused attempt was retried"
    );
    let (signature, body) = &posts[0];
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        app::payments::signature::verify(SECRET.as_bytes(), signature, body.as_bytes(), now),
        Ok(()),
        "signed with the shared secret"
    );
    assert!(
        app::payments::signature::verify(b"a forger's guess", signature, body.as_bytes(), now)
            .is_err()
    );
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["type"], "payment.received");
    assert_eq!(event["data"]["id"], request["id"]);
    assert_eq!(event["data"]["amount_received"], "8.00");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        receiver.posts.lock().unwrap().len(),
        1,
        "an acknowledged event is not sent again"
    );

    // The merchant is down when the money arrives, and the sandbox restarts: the event waits in
    // its database and arrives once the merchant is back.
    let later = crate::helpers::dead_address();
    let (_, second) = create(
        &client,
        &running.base,
        "hook-key-0002",
        json!({"amount": "3.00", "currency": "EUR", "reference": "chk-late", "expires_in_s": 120,
               "webhook_url": format!("http://{later}/hooks")}),
    )
    .await;
    pay(
        &client,
        &running.base,
        second["qr_payload"].as_str().unwrap(),
        "3.00",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await;
    let back = Receiver::default();
    listen(back.clone(), &later).await;
    let running = start(&settings).await;
    let posts = posts_become(&back, 1).await;
    let event: Value = serde_json::from_str(&posts[0].1).unwrap();
    assert_eq!(event["data"]["id"], second["id"]);
    running.stop().await;
    server::psp_sandbox::drop_database(&settings).await.unwrap();
}

pub(crate) async fn set_faults(client: &reqwest::Client, base: &str, faults: Value) -> StatusCode {
    client
        .put(format!("{base}/v1/sandbox/faults"))
        .bearer_auth(KEY)
        .json(&faults)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn injected_faults_slow_down_fail_lose_and_repeat() {
    let settings = settings();
    let running = start(&settings).await;
    let client = reqwest::Client::new();
    let receiver = Receiver::default();
    let url = listen(receiver.clone(), "127.0.0.1:0").await;
    let body = |reference: &str| json!({"amount": "2.00", "currency": "EUR", "reference": reference, "expires_in_s": 60, "webhook_url": url});

    assert_eq!(
        set_faults(&client, &running.base, json!({"error_rate": 2.0})).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        set_faults(&client, &running.base, json!({"error_rate": 1.0})).await,
        StatusCode::OK
    );
    let (status, _) = create(&client, &running.base, "fault-key-01", body("f1")).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the processor is down"
    );

    set_faults(&client, &running.base, json!({"latency_ms": 300})).await;
    let started = std::time::Instant::now();
    let (status, _) = create(&client, &running.base, "fault-key-01", body("f1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(started.elapsed() >= Duration::from_millis(300), "slow");

    // Lost: the money arrives, the webhook never does; the status API still tells.
    set_faults(&client, &running.base, json!({"drop_webhook_rate": 1.0})).await;
    let (_, lost) = create(&client, &running.base, "fault-key-02", body("f2")).await;
    pay(
        &client,
        &running.base,
        lost["qr_payload"].as_str().unwrap(),
        "2.00",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.posts.lock().unwrap().is_empty(), "no webhook");
    assert_eq!(
        read_request(&client, &running.base, lost["id"].as_str().unwrap()).await["status"],
        "paid"
    );

    // Duplicated: the same event twice.
    set_faults(
        &client,
        &running.base,
        json!({"duplicate_webhook_rate": 1.0}),
    )
    .await;
    let (_, twice) = create(&client, &running.base, "fault-key-03", body("f3")).await;
    pay(
        &client,
        &running.base,
        twice["qr_payload"].as_str().unwrap(),
        "2.00",
    )
    .await;
    let posts = posts_become(&receiver, 2).await;
    let ids: Vec<Value> = posts
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["id"].clone())
        .collect();
    assert_eq!(ids[0], ids[1], "the same event");
    assert_eq!(
        set_faults(&client, &running.base, json!({})).await,
        StatusCode::OK
    );
    running.stop().await;
    server::psp_sandbox::drop_database(&settings).await.unwrap();
}

#[tokio::test]
async fn surge_s_client_creates_reads_and_refunds_and_its_breaker_fails_fast_then_recovers() {
    use app::payments::breaker::CircuitBreaker;
    use app::payments::processor::{
        PaymentProcessor, PaymentRequestInput, ProcessorError, ProcessorStatus,
    };
    use server::payments::http_processor::HttpProcessor;

    let settings = settings();
    let running = start(&settings).await;
    let client = reqwest::Client::new();
    let processor = HttpProcessor::new(
        &running.base,
        KEY,
        Duration::from_millis(500),
        CircuitBreaker::new(3, Duration::from_millis(700)),
    )
    .unwrap();
    let input = PaymentRequestInput {
        idempotency_key: "client-key-0001".into(),
        amount: "12.30".parse().unwrap(),
        currency: app::money::Currency::EUR,
        reference: "chk-client".into(),
        expires_in_s: 120,
        webhook_url: None,
    };
    let created = processor.create_request(&input).await.unwrap();
    assert_eq!(created.status, ProcessorStatus::Pending);
    assert_eq!(
        processor.create_request(&input).await.unwrap().id,
        created.id,
        "idempotent"
    );
    pay(&client, &running.base, &created.qr_payload, "12.30").await;
    let paid = processor.request(&created.id).await.unwrap();
    assert_eq!(
        (paid.status, paid.amount_received),
        (ProcessorStatus::Paid, input.amount)
    );
    let refund = processor
        .refund(&created.id, "client-refund-1", None)
        .await
        .unwrap();
    assert_eq!(refund.amount, input.amount);
    assert!(
        matches!(
            processor.refund(&created.id, "client-refund-2", None).await,
            Err(ProcessorError::Rejected { status: 409, .. })
        ),
        "nothing left to refund: refused, not a failure"
    );

    // The processor fails: after three failures the breaker opens and calls fail at once.
    set_faults(&client, &running.base, json!({"error_rate": 1.0})).await;
    for _ in 0..3 {
        assert!(matches!(
            processor.request(&created.id).await,
            Err(ProcessorError::Unavailable { .. })
        ));
    }
    set_faults(&client, &running.base, json!({"latency_ms": 2000})).await;
    let started = std::time::Instant::now();
    let refused = processor.request(&created.id).await;
    assert!(matches!(refused, Err(ProcessorError::Unavailable { .. })));
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "failed fast, without calling"
    );
    // Too slow counts as failing too: the trial after the open time times out and reopens it.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(matches!(
        processor.request(&created.id).await,
        Err(ProcessorError::Unavailable { .. })
    ));
    // Healthy again: after the open time, the trial succeeds and the breaker closes.
    set_faults(&client, &running.base, json!({})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(processor.request(&created.id).await.unwrap().id, created.id);
    assert_eq!(processor.request(&created.id).await.unwrap().id, created.id);
    running.stop().await;
    server::psp_sandbox::drop_database(&settings).await.unwrap();
}

#[tokio::test]
async fn a_checkout_is_paid_through_one_request_for_its_total_asked_for_once() {
    use crate::helpers::{check_out, customers, fill_cart, spawn_with};

    let sandbox_settings = settings();
    let running = start(&sandbox_settings).await;
    let mut shop = fresh_settings();
    shop.payments.processor_url = running.base.clone();
    shop.payments.api_key = Some(KEY.into());
    let app = spawn_with(shop, true).await;
    let first = app.create_category("Pay A").await;
    let second = app.create_category("Pay B").await;
    let lamp = app.create_item(&first, "Pay Lamp", "15.00", 5).await;
    let rug = app.create_item(&second, "Pay Rug", "80.50", 5).await;
    let buyers = customers(&app.state, "payer", 2).await;
    fill_cart(&app.state, buyers[0].0, &[(&lamp, 2), (&rug, 1)]).await;
    let (status, checkout) = check_out(&app, &buyers[0].1, "pay-key-0001").await;
    assert_eq!(status, 201, "{checkout}");
    let checkout_id = checkout["checkout_id"].as_str().unwrap();
    let path = format!("/api/v1/checkouts/{checkout_id}/payment");
    let ask = |token: String| {
        let request = app.client.post(app.url(&path)).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };

    let (status, payment) = ask(buyers[0].1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{payment}");
    assert_eq!(payment["amount"], "110.50");
    let qr = PaymentPayload::parse(payment["qr_payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        qr.amount.to_string(),
        "110.50",
        "the QR asks for the whole checkout"
    );
    let (_, again) = ask(buyers[0].1.clone()).await;
    assert_eq!(
        again["payment_id"], payment["payment_id"],
        "one request, asked for twice"
    );
    // One payment row per shard order, with its share.
    let mut shares = Vec::new();
    for (_, database) in app.state.shards.shards() {
        let mut connection = database.acquire().await.unwrap();
        let rows: Vec<(String, rust_decimal::Decimal)> =
            sqlx::query_as("SELECT processor_request_id, amount FROM payments")
                .fetch_all(&mut *connection)
                .await
                .unwrap();
        shares.extend(rows);
    }
    shares.sort_by_key(|(_, amount)| *amount);
    assert_eq!(shares.len(), 2, "{shares:?}");
    assert!(
        shares
            .iter()
            .all(|(id, _)| Some(id.as_str()) == payment["payment_id"].as_str())
    );
    assert_eq!(
        shares
            .iter()
            .map(|(_, a)| a.normalize().to_string())
            .collect::<Vec<_>>(),
        ["30", "80.5"]
    );
    let (status, _) = ask(buyers[1].1.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another customer's checkout");

    // The processor is down: a clear 503, and the holds stay until they end.
    running.stop().await;
    fill_cart(&app.state, buyers[1].0, &[(&lamp, 1)]).await;
    let (_, other) = check_out(&app, &buyers[1].1, "pay-key-0002").await;
    let other_path = format!(
        "/api/v1/checkouts/{}/payment",
        other["checkout_id"].as_str().unwrap()
    );
    let response = app
        .client
        .post(app.url(&other_path))
        .bearer_auth(&buyers[1].1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("payment processor"),
        "{body}"
    );
    crate::helpers::assert_audit_clean(&app).await;
    app.stop().await;
    server::psp_sandbox::drop_database(&sandbox_settings)
        .await
        .unwrap();
}
