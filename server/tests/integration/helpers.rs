//! Spawning a server with fresh databases for one test.

use std::net::{SocketAddr, TcpListener};
use std::sync::Once;

use app::accounts::model::{LoginInput, RegisterInput, Role, UserId};
use app::accounts::service as accounts;
use app::cart::store::{self, Owner, Stored};
use app::error::AppError;
use app::shard::id::ItemId;
use app::shard::migrate;
use app::shard::topology::{SecretUrl, ServerSettings};
use app::state::AppState;
use serde_json::Value;
use server::config::Settings;
use server::startup::Application;
use tokio::sync::oneshot;

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    /// A session token of the admin account (`None` when Redis is down: no sessions then).
    pub admin_token: Option<String>,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Settings of the local stack with a prefix no other test uses, on a free port.
pub fn fresh_settings() -> Settings {
    static LOGS: Once = Once::new();
    LOGS.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            server::telemetry::init(&Settings::default().log);
        }
    });
    let mut settings = Settings::default();
    let unique: u64 = rand::random();
    settings.database.prefix = format!("t{unique:016x}");
    settings.redis.key_prefix = settings.database.prefix.clone();
    settings.http.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    // Tests run side by side (and some start a second server): each one takes a share of the
    // servers' 250 connections, as copies of a deployment do.
    settings.database.server_copies = 4;
    settings
}

/// The admin account every test server has.
pub const ADMIN_USERNAME: &str = "admin";
/// Its password.
pub const ADMIN_PASSWORD: &str = "test admin password";

/// An address on loopback where nothing listens (a server that is down).
pub fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("127.0.0.1:{}", addr.port())
}

/// Adds a server that does not answer, and returns its name.
pub fn add_dead_server(settings: &mut Settings) -> String {
    let name = "dead".to_owned();
    settings.database.servers.push(ServerSettings {
        name: name.clone(),
        url: SecretUrl::new(format!("mysql://root@{}", dead_address())),
        max_connections: 250,
    });
    name
}

/// Creates and migrates the databases of `settings` on the real servers.
pub async fn migrate_fresh(settings: &Settings) {
    let topology = settings.topology().expect("valid shard map");
    migrate::migrate_all(&topology)
        .await
        .expect("migrated (is the stack up? scripts/stack.sh start)");
}

/// Migrates fresh databases and starts the server.
pub async fn spawn_app() -> TestApp {
    spawn_with(fresh_settings(), true).await
}

/// Starts a server on `settings`, migrating first when asked.
pub async fn spawn_with(settings: Settings, migrate: bool) -> TestApp {
    let application = Application::build(&settings, migrate)
        .await
        .expect("the server starts (is the stack up? scripts/stack.sh start)");
    let addr = application.addr().expect("bound address");
    let state = application.state().clone();
    let (shutdown, signal) = oneshot::channel::<()>();
    let server = tokio::spawn(application.serve(async {
        let _ = signal.await;
    }));
    let admin_token = admin_session(&state).await;
    TestApp {
        addr,
        admin_token,
        client: reqwest::Client::new(),
        settings,
        state,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

/// Creates the admin account (unless another server on the same databases did) and signs it in.
async fn admin_session(state: &AppState) -> Option<String> {
    let input = RegisterInput {
        username: ADMIN_USERNAME.into(),
        email: "admin@surge.test".into(),
        phone: "+10000000000".into(),
        display_name: "Test Admin".into(),
        timezone: "UTC".into(),
        password: ADMIN_PASSWORD.into(),
    };
    match accounts::register(state, input, Role::Admin).await {
        Ok(_) | Err(AppError::Conflict { .. }) => {}
        Err(error) => panic!("the admin account: {error}"),
    }
    let login = LoginInput {
        username: ADMIN_USERNAME.into(),
        password: ADMIN_PASSWORD.into(),
    };
    accounts::log_in(state, login, None)
        .await
        .ok()
        .map(|(token, _)| token)
}

/// Sends a request; returns the status and the JSON body (`null` when there is none).
pub async fn send_json(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// `path` asked for by a new customer called `username`, signed in.
pub async fn get_signed_in(app: &TestApp, path: &str, username: &str) -> reqwest::Response {
    let token = customer_token(app, username).await;
    app.client
        .get(app.url(path))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request sent")
}

/// Registers a customer through the API and returns a session token.
pub async fn customer_token(app: &TestApp, username: &str) -> String {
    let (status, body) = app
        .post_json(
            "/api/v1/users",
            serde_json::json!({
                "username": username,
                "email": format!("{username}@surge.test"),
                "phone": "+4930123456",
                "display_name": format!("Customer {username}"),
                "timezone": "Europe/Berlin",
                "password": "customer password",
            }),
        )
        .await;
    assert_eq!(status, 201, "registered: {body}");
    let (status, body) = app
        .post_json(
            "/api/v1/sessions",
            serde_json::json!({"username": username, "password": "customer password"}),
        )
        .await;
    assert_eq!(status, 201, "logged in: {body}");
    body["token"].as_str().expect("a token").to_owned()
}

impl TestApp {
    /// An anonymous POST with a JSON body; returns the status and the body.
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        send_json(self.client.post(self.url(path)).json(&body)).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// A request with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(
            self.admin_token
                .as_deref()
                .expect("an admin session (is Redis up?)"),
        )
    }

    /// An admin request with a JSON body; returns the status and the body.
    pub async fn admin_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        send_json(self.admin(method, path).json(&body)).await
    }

    /// A GET; returns the status and the JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        send_json(self.client.get(self.url(path))).await
    }

    /// Creates a category through the API and returns it.
    pub async fn create_category(&self, name: &str) -> serde_json::Value {
        let (status, body) = self
            .admin_json(
                reqwest::Method::POST,
                "/api/v1/categories",
                serde_json::json!({ "name": name }),
            )
            .await;
        assert_eq!(status, 201, "category created: {body}");
        body
    }

    /// Creates an item through the API and returns it.
    pub async fn create_item(
        &self,
        category: &serde_json::Value,
        name: &str,
        price: &str,
        stock: i64,
    ) -> serde_json::Value {
        let (status, body) = self
            .admin_json(
                reqwest::Method::POST,
                "/api/v1/items",
                serde_json::json!({
                    "category_id": category["id"],
                    "name": name,
                    "description": format!("{name}, for the test."),
                    "price": price,
                    "stock": stock,
                    "location": "Test warehouse",
                }),
            )
            .await;
        assert_eq!(status, 201, "item created: {body}");
        body
    }

    /// Stops the server and drops the test's databases and Redis keys.
    pub async fn stop(self) {
        let settings = self.halt().await;
        drop_test_data(&settings).await;
    }

    /// Stops the server (and its jobs), keeping its data; returns its settings to start it again.
    pub async fn halt(mut self) -> Settings {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.settings.clone()
    }
}

/// Drops the databases of `settings`' prefix that are reachable, and its Redis keys.
pub async fn drop_test_data(settings: &Settings) {
    let mut reachable = settings.clone();
    reachable
        .database
        .servers
        .retain(|server| server.name != "dead");
    reachable.database.shards.retain(|shard| {
        reachable
            .database
            .servers
            .iter()
            .any(|s| s.name == shard.server)
    });
    if let Ok(topology) = reachable.topology() {
        migrate::drop_all(&topology)
            .await
            .expect("test databases dropped");
    }
    if let Ok(redis) = app::redis_store::Redis::connect_lazy(&settings.redis) {
        let _ = redis.delete_all_keys().await;
    }
}

/// Customers made straight in the directory (no password hashing: hundreds are needed), each with
/// a session token.
pub async fn customers(state: &AppState, prefix: &str, count: usize) -> Vec<(UserId, String)> {
    server::bench::checkout::customers_with_sessions(state, prefix, count)
        .await
        .expect("customers made")
}

/// Puts lines into a customer's cart, straight into the store.
pub async fn fill_cart(state: &AppState, user: UserId, lines: &[(&Value, u32)]) {
    for (item, quantity) in lines {
        let id: ItemId = item["id"].as_str().unwrap().parse().unwrap();
        let price = item["price"].as_str().unwrap().parse().unwrap();
        store::set(
            &state.redis,
            &Owner::User(user),
            id,
            Stored {
                quantity: *quantity,
                price,
            },
        )
        .await
        .unwrap();
    }
}

/// Checks the customer's cart out through the API.
pub async fn check_out(app: &TestApp, token: &str, key: &str) -> (u16, Value) {
    send_json(
        app.client
            .post(app.url("/api/v1/checkouts"))
            .bearer_auth(token)
            .header("idempotency-key", key),
    )
    .await
}

/// Fails the test when an invariant is broken.
pub async fn assert_audit_clean(app: &TestApp) {
    let report = server::audit::audit(&app.state).await.unwrap();
    assert!(report.is_clean(), "{report}");
}
