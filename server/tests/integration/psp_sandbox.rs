//! The sandbox payment processor: payment requests with EMVCo QR payloads, idempotent; the bank
//! pages paying them (wrong amounts and twice included); its state surviving a restart.

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::config::Settings;
use server::psp_sandbox::SandboxServer;
use server::psp_sandbox::emv::PaymentPayload;

use crate::helpers::fresh_settings;

const KEY: &str = "sandbox-test-api-key-0001";

struct Running {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(settings: &Settings) -> Running {
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
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

fn settings() -> Settings {
    let mut settings = fresh_settings();
    settings.psp_sandbox.addr = "127.0.0.1:0".parse().unwrap();
    settings.psp_sandbox.api_key = Some(KEY.into());
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

async fn pay(
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

    // A restart on the same database: everything is still there.
    running.stop().await;
    let running = start(&settings).await;
    let after = read_request(&client, &running.base, &id).await;
    assert_eq!(after["transfers"], paid["transfers"]);
    assert_eq!(after["qr_payload"], paid["qr_payload"]);
    running.stop().await;
    server::psp_sandbox::drop_database(&settings).await.unwrap();
}
