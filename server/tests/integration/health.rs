use serde_json::Value;

use crate::helpers::{
    add_dead_server, dead_address, fresh_settings, migrate_fresh, spawn_app, spawn_with,
};

fn component<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["databases"]
        .as_array()
        .expect("databases")
        .iter()
        .chain(std::iter::once(&health["redis"]))
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} is reported"))
}

#[tokio::test]
async fn healthz_reports_the_directory_three_shards_and_redis_up() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["databases"].as_array().unwrap().len(), 4);
    for name in ["directory", "shard 0", "shard 1", "shard 2", "redis"] {
        assert_eq!(component(&health, name)["up"], true, "{name}: {health}");
    }
    assert_eq!(component(&health, "shard 2")["server"], "db2");
    app.stop().await;
}

#[tokio::test]
async fn healthz_answers_503_and_names_a_shard_that_is_down_while_livez_answers() {
    let mut settings = fresh_settings();
    migrate_fresh(&settings).await;
    let dead = add_dead_server(&mut settings);
    settings.database.shards[1].server = dead;
    let app = spawn_with(settings, false).await;

    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 503);
    let health: Value = response.json().await.unwrap();
    let shard = component(&health, "shard 1");
    assert_eq!(shard["up"], false);
    assert_eq!(shard["server"], "dead");
    assert_eq!(shard["error"], "shard 1 is unavailable");
    for name in ["directory", "shard 0", "shard 2", "redis"] {
        assert_eq!(component(&health, name)["up"], true, "{name}: {health}");
    }
    // Not healthy, yet alive: a supervisor must not restart a copy for a shard's outage.
    let live = app.get("/livez").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.text().await.unwrap(), "ok");
    app.stop().await;
}

#[tokio::test]
async fn healthz_answers_503_when_redis_is_down_and_pages_still_render() {
    let mut settings = fresh_settings();
    settings.redis.url =
        app::shard::topology::SecretUrl::new(format!("redis://{}/0", dead_address()));
    let app = spawn_with(settings, true).await;

    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 503);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["redis"]["up"], false);
    assert_eq!(component(&health, "directory")["up"], true);

    assert_eq!(app.get("/").await.status(), 200);
    app.stop().await;
}
