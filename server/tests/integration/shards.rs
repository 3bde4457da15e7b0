use std::time::{Duration, Instant};

use app::shard::ShardId;
use app::shard::id::ItemId;
use app::shard::migrate::{self, MigrateError};
use app::shard::router::{DbError, ShardRouter};

use crate::helpers::{add_dead_server, drop_test_data, fresh_settings, migrate_fresh, spawn_app};

async fn logical_shard_of(router: &ShardRouter, shard: ShardId) -> Result<u16, DbError> {
    let database = router.shard(shard)?;
    let mut connection = database.acquire().await?;
    sqlx::query_scalar("SELECT logical_shard FROM shard_identity WHERE singleton = 1")
        .fetch_one(&mut *connection)
        .await
        .map_err(|e| database.error(e))
}

#[tokio::test]
async fn every_shard_has_the_schema_and_knows_which_shard_it_is() {
    let app = spawn_app().await;
    let router = &app.state.shards;
    assert_eq!(router.shards().count(), 3);
    for (shard, database) in router.shards() {
        assert_eq!(
            logical_shard_of(router, shard).await.unwrap(),
            shard.number()
        );
        assert_eq!(
            database.name(),
            format!("{}_shard_{}", app.settings.database.prefix, shard.number())
        );
    }
    let mut directory = router.directory().acquire().await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name",
    )
    .fetch_all(&mut *directory)
    .await
    .unwrap();
    assert!(tables.contains(&"categories".to_owned()), "{tables:?}");
    drop(directory);
    app.stop().await;
}

#[tokio::test]
async fn an_id_routes_to_the_shard_it_names() {
    let app = spawn_app().await;
    let router = &app.state.shards;
    for text in ["item-0-17", "item-1-17", "item-2-99"] {
        let id: ItemId = text.parse().unwrap();
        let database = router.for_id(&id).unwrap();
        let mut connection = database.acquire().await.unwrap();
        let shard: u16 = sqlx::query_scalar("SELECT logical_shard FROM shard_identity")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        assert_eq!(shard, id.shard().number(), "{text}");
    }
    let unknown: ItemId = "item-7-1".parse().unwrap();
    assert!(matches!(
        router.for_id(&unknown),
        Err(DbError::UnknownShard(_))
    ));
    app.stop().await;
}

#[tokio::test]
async fn a_query_on_an_unreachable_shard_fails_fast_while_the_others_work() {
    let mut settings = fresh_settings();
    migrate_fresh(&settings).await;
    let dead = add_dead_server(&mut settings);
    settings.database.shards[2].server = dead;
    settings.database.acquire_timeout_ms = 1000;
    settings.database.unavailable_cooldown_ms = 5000;
    let router = ShardRouter::connect_lazy(&settings.topology().unwrap()).unwrap();
    let shard = |n| ShardId::new(n).unwrap();

    let started = Instant::now();
    let error = logical_shard_of(&router, shard(2)).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(error.to_string(), "shard 2 is unavailable");

    // Within the cool-down, the dead shard is refused at once instead of waiting again.
    let started = Instant::now();
    assert!(matches!(
        logical_shard_of(&router, shard(2)).await,
        Err(DbError::Unavailable { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "took {:?}",
        started.elapsed()
    );

    assert_eq!(logical_shard_of(&router, shard(0)).await.unwrap(), 0);
    assert_eq!(logical_shard_of(&router, shard(1)).await.unwrap(), 1);

    // A scatter over all shards answers for the healthy ones and names the dead one.
    let results = router.scatter(|id, _| logical_shard_of(&router, id)).await;
    let healthy: Vec<u16> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().copied())
        .collect();
    assert_eq!(healthy, [0, 1]);
    assert!(matches!(results[2], (id, Err(DbError::Unavailable { .. })) if id == shard(2)));

    router.close().await;
    drop_test_data(&settings).await;
}

#[tokio::test]
async fn a_shard_map_pointing_at_another_shards_database_is_refused() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    // Simulate a botched move: shard 1's database now claims to be shard 0.
    let router = ShardRouter::connect_lazy(&settings.topology().unwrap()).unwrap();
    let database = router.shard(ShardId::new(1).unwrap()).unwrap();
    let mut connection = database.acquire().await.unwrap();
    sqlx::query("UPDATE shard_identity SET logical_shard = 0")
        .execute(&mut *connection)
        .await
        .unwrap();
    drop(connection);
    router.close().await;

    let error = migrate::migrate_all(&settings.topology().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, MigrateError::WrongShard { found: 0, .. }),
        "{error}"
    );
    drop_test_data(&settings).await;
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    migrate_fresh(&settings).await;
    drop_test_data(&settings).await;
}

async fn connection_id(connection: &mut sqlx::MySqlConnection) -> u64 {
    sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_transaction_dropped_without_commit_is_rolled_back_before_its_connection_is_used_again() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    let router = ShardRouter::connect_lazy(&settings.topology().unwrap()).unwrap();
    let database = router.shard(ShardId::new(0).unwrap()).unwrap();
    let mut tx = database.begin().await.unwrap();
    let first = connection_id(&mut tx).await;
    sqlx::query("UPDATE shard_identity SET logical_shard = 9")
        .execute(&mut *tx)
        .await
        .unwrap();
    drop(tx);

    let mut connection = database.acquire().await.unwrap();
    assert_eq!(
        connection_id(&mut connection).await,
        first,
        "the same connection, reused"
    );
    let in_transaction: u64 = sqlx::query_scalar("SELECT @@in_transaction")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(in_transaction, 0);
    let shard: u16 = sqlx::query_scalar("SELECT logical_shard FROM shard_identity")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(shard, 0, "the dropped transaction's change is gone");
    drop(connection);
    router.close().await;
    drop_test_data(&settings).await;
}

#[tokio::test]
async fn a_connection_the_server_dropped_while_idle_is_replaced_not_handed_out() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    let router = ShardRouter::connect_lazy(&settings.topology().unwrap()).unwrap();
    let database = router.shard(ShardId::new(1).unwrap()).unwrap();
    let mut doomed = database.acquire().await.unwrap();
    let mut survivor = database.acquire().await.unwrap();
    let doomed_id = connection_id(&mut doomed).await;
    let survivor_id = connection_id(&mut survivor).await;
    sqlx::query(&format!("KILL CONNECTION {doomed_id}"))
        .execute(&mut *survivor)
        .await
        .unwrap();
    // The killed connection is given back last: it is the next one handed out.
    drop(survivor);
    drop(doomed);
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let mut connection = database.acquire().await.unwrap();
    assert_eq!(connection_id(&mut connection).await, survivor_id);
    assert_eq!(database.pool_stats().0, 1, "the dead connection was closed");
    drop(connection);
    router.close().await;
    drop_test_data(&settings).await;
}
