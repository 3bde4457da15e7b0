//! Accounts and sessions through the REST API, the server functions and the pages; and who may
//! do what.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, customer_token, send_json, spawn_app};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    send_json(request).await
}

async fn user_id(app: &TestApp, token: &str, username: &str) -> u64 {
    let (_, users) = call(
        app,
        Method::GET,
        &format!("/api/v1/users?q={username}"),
        Some(token),
        None,
    )
    .await;
    users["items"][0]["id"]
        .as_u64()
        .expect("the user is listed")
}

#[tokio::test]
async fn a_customer_registers_logs_in_and_out_through_the_api() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .json(&json!({
            "username": "Grace", "email": "grace@example.com", "phone": "+1 202 555 0100",
            "display_name": "Grace Hopper", "timezone": "America/New_York", "password": "cobol rocks"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["username"], "grace");
    assert_eq!(created["role"], "customer");
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());

    let login = app
        .client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "grace", "password": "cobol rocks"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("surge_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let answer: Value = login.json().await.unwrap();
    let token = answer["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64, "a 256-bit token");
    assert!(cookie.contains(&token));

    let (status, me) = call(&app, Method::GET, &location, Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(me["timezone"], "America/New_York");

    let (status, _) = call(
        &app,
        Method::DELETE,
        "/api/v1/sessions/current",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(&app, Method::GET, &location, Some(&token), None).await;
    assert_eq!(status, 401, "the session ended");

    let again = app
        .client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "grace", "password": "cobol rocks"}))
        .send()
        .await
        .unwrap();
    let second: Value = again.json().await.unwrap();
    assert_ne!(
        second["token"], answer["token"],
        "every log-in gets a new token"
    );
    app.stop().await;
}

#[tokio::test]
async fn registration_names_every_bad_field_and_refuses_taken_names() {
    let app = spawn_app().await;
    let (status, error) = app
        .post_json(
            "/api/v1/users",
            json!({"username": "x", "email": "nope", "phone": "12", "display_name": "",
                   "timezone": "Mars/Base", "password": "short"}),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<_> = error["fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        fields,
        [
            "display_name",
            "email",
            "password",
            "phone",
            "timezone",
            "username"
        ]
    );

    customer_token(&app, "linus").await;
    let (status, error) = app
        .post_json(
            "/api/v1/users",
            json!({"username": "LINUS", "email": "other@example.com", "phone": "+4930123456",
                   "display_name": "Another", "password": "long enough"}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error["field"], "username");
    let (status, error) = app
        .post_json(
            "/api/v1/users",
            json!({"username": "linus2", "email": "linus@surge.test", "phone": "+4930123456",
                   "display_name": "Another", "password": "long enough"}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error["field"], "email");
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer_and_logins_are_rate_limited() {
    let app = spawn_app().await;
    customer_token(&app, "ada").await;
    let (wrong_status, wrong) = app
        .post_json(
            "/api/v1/sessions",
            json!({"username": "ada", "password": "not it at all"}),
        )
        .await;
    let (unknown_status, unknown) = app
        .post_json(
            "/api/v1/sessions",
            json!({"username": "nobody", "password": "not it at all"}),
        )
        .await;
    assert_eq!((wrong_status, unknown_status), (401, 401));
    assert_eq!(wrong["message"], unknown["message"]);

    // One success (in customer_token) cleared the count; the limit is 10 attempts per account.
    for _ in 0..9 {
        let (status, _) = app
            .post_json(
                "/api/v1/sessions",
                json!({"username": "ada", "password": "guess guess"}),
            )
            .await;
        assert_eq!(status, 401);
    }
    let limited = app
        .client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "ada", "password": "customer password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429, "even the right password waits");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry));
    app.stop().await;
}

#[tokio::test]
async fn changing_the_password_ends_every_session_of_the_account() {
    let app = spawn_app().await;
    let first = customer_token(&app, "alan").await;
    let (_, second) = app
        .post_json(
            "/api/v1/sessions",
            json!({"username": "alan", "password": "customer password"}),
        )
        .await;
    let second = second["token"].as_str().unwrap().to_owned();
    let admin = app.admin_token.clone().unwrap();
    let id = user_id(&app, &admin, "alan").await;
    let path = format!("/api/v1/users/{id}");

    let (status, error) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&first),
        Some(json!({"password": "enigma machine", "current_password": "wrong one"})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(error["fields"]["current_password"].is_array());

    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&first),
        Some(json!({"password": "enigma machine", "current_password": "customer password"})),
    )
    .await;
    assert_eq!(status, 200);
    for token in [&first, &second] {
        assert_eq!(
            call(&app, Method::GET, &path, Some(token), None).await.0,
            401
        );
    }
    let (old, _) = app
        .post_json(
            "/api/v1/sessions",
            json!({"username": "alan", "password": "customer password"}),
        )
        .await;
    assert_eq!(old, 401);
    let (new, _) = app
        .post_json(
            "/api/v1/sessions",
            json!({"username": "alan", "password": "enigma machine"}),
        )
        .await;
    assert_eq!(new, 201);
    app.stop().await;
}

#[tokio::test]
async fn who_may_do_what() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone().unwrap();
    let customer = customer_token(&app, "carol").await;
    let other = customer_token(&app, "dave").await;
    let carol = user_id(&app, &admin, "carol").await;
    let category = app.create_category("Matrix").await;
    let item = app.create_item(&category, "Matrix Item", "10.00", 5).await;
    let item_id = item["id"].as_str().unwrap();

    let carol_path = format!("/api/v1/users/{carol}");
    let ledger = format!("/api/v1/items/{item_id}/stock-movements");
    let item_path = format!("/api/v1/items/{item_id}");
    // (method, path, body, [anonymous, carol herself, another customer, admin])
    let cases: Vec<(Method, &str, Option<Value>, [u16; 4])> = vec![
        (Method::GET, "/api/v1/users", None, [401, 403, 403, 200]),
        (Method::GET, &carol_path, None, [401, 200, 404, 200]),
        (
            Method::PATCH,
            &carol_path,
            Some(json!({"display_name": "Carol C."})),
            [401, 200, 404, 200],
        ),
        (
            Method::PATCH,
            &carol_path,
            Some(json!({"role": "customer"})),
            [401, 403, 404, 200],
        ),
        (
            Method::POST,
            "/api/v1/categories",
            Some(json!({"name": "Nope"})),
            [401, 403, 403, 409],
        ),
        (
            Method::PATCH,
            &item_path,
            Some(json!({"name": "Renamed"})),
            [401, 403, 403, 200],
        ),
        (Method::GET, &ledger, None, [401, 403, 403, 200]),
        (
            Method::POST,
            &ledger,
            Some(json!({"kind": "adjust", "quantity": 1, "reason": "x"})),
            [401, 403, 403, 201],
        ),
        (Method::GET, &item_path, None, [200, 200, 200, 200]),
        (
            Method::GET,
            "/api/v1/search?q=matrix",
            None,
            [200, 200, 200, 200],
        ),
    ];
    // The admin's attempt conflicts with an existing name: nothing new is created by the matrix.
    app.create_category("Nope").await;
    for (method, path, body, expected) in cases {
        for (who, token) in [None, Some(&customer), Some(&other), Some(&admin)]
            .into_iter()
            .enumerate()
        {
            let (status, answer) = call(
                &app,
                method.clone(),
                path,
                token.map(String::as_str),
                body.clone(),
            )
            .await;
            assert_eq!(
                status, expected[who],
                "{method} {path} as caller {who}: {answer}"
            );
        }
    }

    // The admin console and its server functions.
    for (token, expected) in [(None, 401), (Some(&customer), 403), (Some(&admin), 200)] {
        let mut page = app.client.get(app.url("/admin/items"));
        let mut server_fn = app.client.post(app.url("/api/admin/categories"));
        if let Some(token) = token {
            page = page.bearer_auth(token);
            server_fn = server_fn.bearer_auth(token);
        }
        assert_eq!(
            page.send().await.unwrap().status(),
            expected,
            "the console page"
        );
        assert_eq!(
            server_fn.send().await.unwrap().status(),
            expected,
            "an admin server function"
        );
    }

    // Deleting: another customer sees nothing to delete; the owner may.
    assert_eq!(
        call(&app, Method::DELETE, &carol_path, Some(&other), None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&app, Method::DELETE, &carol_path, Some(&customer), None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&app, Method::GET, &carol_path, Some(&customer), None)
            .await
            .0,
        401,
        "her sessions ended"
    );
    assert_eq!(
        call(&app, Method::GET, &carol_path, Some(&admin), None)
            .await
            .0,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn the_pages_follow_the_session_cookie() {
    let app = spawn_app().await;
    customer_token(&app, "edsger").await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = browser
        .post(app.url("/api/log-in"))
        .header("accept", "text/html")
        .form(&[
            ("username", "edsger"),
            ("password", "customer password"),
            ("next", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 302, "a plain form is redirected");
    assert_eq!(signed_in.headers()["location"], "/account");
    let account = browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(account.contains("Hello, Customer edsger"));
    let console = browser.get(app.url("/admin/items")).send().await.unwrap();
    assert_eq!(
        console.status(),
        403,
        "a customer cannot open the admin console"
    );

    let elsewhere = browser
        .post(app.url("/api/log-in"))
        .header("accept", "text/html")
        .form(&[
            ("username", "edsger"),
            ("password", "customer password"),
            ("next", "//evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        elsewhere.headers()["location"],
        "/account",
        "never redirected off the shop"
    );

    browser
        .post(app.url("/api/log-out"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let after = browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains("to see your account"));
    app.stop().await;
}

#[tokio::test]
async fn a_session_ends_when_idle_and_at_the_end_of_its_lifetime() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone().unwrap();
    let token = customer_token(&app, "kim").await;
    let kim = user_id(&app, &admin, "kim").await;
    let path = format!("/api/v1/users/{kim}");
    assert_eq!(
        call(&app, Method::GET, &path, Some(&token), None).await.0,
        200
    );

    // The session is stored under its digest, never the token, and lives for the idle timeout.
    let mut redis = app.state.redis.connection();
    let pattern = app.state.redis.key("session:*");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "the admin's and kim's");
    assert!(keys.iter().all(|key| !key.contains(&token)));
    let mut kims = None;
    for key in keys {
        let record: String = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(
            (1..=app::accounts::session::IDLE_TTL_S as i64).contains(&ttl),
            "idle timeout {ttl}"
        );
        let record: Value = serde_json::from_str(&record).unwrap();
        if record["user"]["id"] == kim {
            kims = Some((key, record));
        }
    }
    let (key, mut record) = kims.expect("kim's session is stored");

    // Past the absolute lifetime the session is refused, however recently it was used.
    record["created_s"] = json!(1_000_000u64);
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(record.to_string())
        .arg("EX")
        .arg(600)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        call(&app, Method::GET, &path, Some(&token), None).await.0,
        401
    );

    // An idle session (its record expired) is refused too.
    let fresh = customer_token(&app, "lee").await;
    let lee = user_id(&app, &admin, "lee").await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut redis)
        .await
        .unwrap();
    for key in keys {
        let record: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        let record: Option<Value> = record.and_then(|r| serde_json::from_str(&r).ok());
        if record.is_some_and(|r| r["user"]["id"] == lee) {
            let () = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut redis)
                .await
                .unwrap();
        }
    }
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/users/{lee}"),
            Some(&fresh),
            None
        )
        .await
        .0,
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn an_admin_promotes_and_demotes_in_the_console_but_a_customer_cannot() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone().unwrap();
    let customer = customer_token(&app, "mia").await;
    let mia = user_id(&app, &admin, "mia").await.to_string();
    let promote = |token: &str| {
        app.client
            .post(app.url("/api/admin/set-role"))
            .bearer_auth(token.to_owned())
            .form(&[("id", mia.as_str()), ("role", "admin")])
            .send()
    };
    assert_eq!(promote(&customer).await.unwrap().status(), 403);
    assert_eq!(promote(&admin).await.unwrap().status(), 200);
    let (_, user) = call(
        &app,
        Method::GET,
        &format!("/api/v1/users/{mia}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(user["role"], "admin");
    // Her own session now opens the console.
    let console = app
        .client
        .get(app.url("/admin/items"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(console.status(), 200);

    // Demoted, her very next request is a customer's, on the same session; a new display name
    // shows on her pages at once too.
    let demote = app
        .client
        .post(app.url("/api/admin/set-role"))
        .bearer_auth(&admin)
        .form(&[("id", mia.as_str()), ("role", "customer")])
        .send()
        .await
        .unwrap();
    assert_eq!(demote.status(), 200);
    let console = app
        .client
        .get(app.url("/admin/items"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(console.status(), 403);
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{mia}"),
        Some(&customer),
        Some(json!({"display_name": "Mia Renamed"})),
    )
    .await;
    assert_eq!(status, 200);
    let account = app
        .client
        .get(app.url("/account"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert!(account.text().await.unwrap().contains("Hello, Mia Renamed"));
    app.stop().await;
}

#[tokio::test]
async fn every_admin_server_function_refuses_visitors_and_customers() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone().unwrap();
    let customer = customer_token(&app, "nina").await;
    let endpoints: [(&str, &[(&str, &str)]); 12] = [
        ("admin/categories", &[]),
        ("admin/create-category", &[("name", "Matrix")]),
        ("admin/rename-category", &[("id", "1"), ("name", "Matrix")]),
        ("admin/items", &[]),
        ("admin/item", &[("id", "item-0-1")]),
        (
            "admin/create-item",
            &[
                ("category_id", "1"),
                ("name", "x"),
                ("description", ""),
                ("price", "1"),
                ("currency", "EUR"),
                ("stock", "1"),
                ("location", ""),
            ],
        ),
        (
            "admin/update-item",
            &[
                ("id", "item-0-1"),
                ("name", "x"),
                ("description", ""),
                ("price", "1"),
                ("currency", "EUR"),
                ("location", ""),
            ],
        ),
        (
            "admin/change-stock",
            &[
                ("id", "item-0-1"),
                ("kind", "set"),
                ("quantity", "1"),
                ("reason", "x"),
            ],
        ),
        (
            "admin/delete-item",
            &[("id", "item-0-1"), ("confirm", "yes")],
        ),
        ("admin/users", &[]),
        ("admin/set-role", &[("id", "1"), ("role", "customer")]),
        ("admin/delete-user", &[("id", "1"), ("confirm", "yes")]),
    ];
    for (endpoint, form) in endpoints {
        let send = |token: Option<&str>| {
            let mut request = app
                .client
                .post(app.url(&format!("/api/{endpoint}")))
                .form(form);
            if let Some(token) = token {
                request = request.bearer_auth(token.to_owned());
            }
            request.send()
        };
        assert_eq!(
            send(None).await.unwrap().status(),
            401,
            "{endpoint} anonymous"
        );
        assert_eq!(
            send(Some(&customer)).await.unwrap().status(),
            403,
            "{endpoint} as a customer"
        );
        let as_admin = send(Some(&admin)).await.unwrap().status().as_u16();
        assert!(
            ![401, 403].contains(&as_admin),
            "{endpoint} as the admin: {as_admin}"
        );
    }
    for (endpoint, form) in [
        (
            "update-account",
            &[
                ("display_name", "x"),
                ("timezone", "UTC"),
                ("email", "a@b.co"),
                ("phone", "+4930123456"),
            ][..],
        ),
        (
            "change-password",
            &[("current_password", "x"), ("password", "yyyyyyyy")][..],
        ),
    ] {
        let anonymous = app
            .client
            .post(app.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{endpoint} anonymous");
    }
    app.stop().await;
}
