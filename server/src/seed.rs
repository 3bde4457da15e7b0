//! `surge seed`: the demo catalog, with a progress bar.

use std::net::SocketAddr;

use app::catalog::seed;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::startup;

/// Seeds `items` items over the demo categories; with `if_empty`, only a shop with no categories.
pub async fn run(
    settings: &Settings,
    items: u64,
    if_empty: bool,
    seed_value: u64,
) -> anyhow::Result<()> {
    let state = startup::connect(settings, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    if if_empty && !seed::is_empty(&state).await? {
        println!("the catalog is not empty: not seeding");
        return Ok(());
    }
    let bar = ProgressBar::new(items);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} items ({per_sec}, {eta} left)")?
            .progress_chars("=> "),
    );
    bar.set_message("seeding");
    let report = seed::seed(&state, items, seed_value, |written| {
        bar.set_position(written)
    })
    .await?;
    bar.finish_with_message("seeded");
    println!("{} categories, {} items", report.categories, report.items);
    state.shards.close().await;
    Ok(())
}
