//! The load scenarios, small: the flash sale end to end (cart, checkout, QR payment through the
//! sandbox's bank, placement), with buyers arriving faster than they are served; the black-friday
//! mix; the ramp.
//!
//! They load the machine on purpose, so they are `#[ignore]`d in the parallel run and `make test`
//! runs them afterwards, one at a time (`--ignored --test-threads=1`): side by side with the other
//! tests, each would slow the others past their timeouts.

use std::time::Duration;

use server::bench::flash_sale::{FlashSaleOptions, sale};
use server::bench::stage::ShopProcess;

use crate::helpers::{drop_test_data, fresh_settings, migrate_fresh};

#[tokio::test]
#[ignore = "a load test: make test runs it alone, after the others"]
async fn a_flash_sale_sells_exactly_its_stock_and_tells_everyone_else() {
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    let options = FlashSaleOptions {
        buyers: 300,
        stock: 20,
        arrival: Duration::from_secs(2),
        connections: 100,
        shop: ShopProcess::Here,
    };
    let report = sale(&settings, options).await.expect("the sale runs");
    drop_test_data(&settings).await;
    assert!(report.holds(), "{report}");
    assert_eq!(report.placed, 20, "{report}");
    assert_eq!(report.sold_out, 280, "{report}");
}

#[tokio::test]
#[ignore = "a load test: make test runs it alone, after the others"]
async fn a_small_black_friday_mix_is_served_without_errors_and_audits_clean() {
    use server::bench::black_friday::{BlackFridayOptions, scenario};

    let mut settings = fresh_settings();
    // The shop runs as a process of its own here: its log goes to this test's output.
    settings.log.filter = "warn,tantivy=off".into();
    migrate_fresh(&settings).await;
    let plot = std::env::temp_dir().join(format!("{}.svg", settings.database.prefix));
    let options = BlackFridayOptions {
        duration: Duration::from_secs(4),
        multiplier: 0.04,
        connections: 50,
        items: 200,
        customers: 40,
        plot: plot.clone(),
        baseline: Duration::from_secs(1),
        baseline_clients: 8,
        shop: ShopProcess::Own(env!("CARGO_BIN_EXE_surge").into()),
    };
    let outcome = scenario(&settings, &options).await.expect("the run");
    drop_test_data(&settings).await;
    let svg = std::fs::read_to_string(&plot).expect("the plot is written");
    let _ = std::fs::remove_file(&plot);
    assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{svg}");
    // 100 reads/s and 20 writes/s (about 6.7 purchases of up to 3 writes) for 4 s.
    assert!(outcome.requests >= 400 + 26, "{}", outcome.report);
    assert_eq!(outcome.errors, 0, "{}", outcome.report);
    assert!(outcome.audit_clean, "{}", outcome.report);
    // The shop's CPU is told apart from the load generator's.
    assert!(
        outcome.report.contains("the shop (surge serve)"),
        "{}",
        outcome.report
    );
    // The baselines ran before the mix, each answering requests without an error.
    for row in [
        "trivial route",
        "the read mix",
        "straight on MariaDB",
        "holds (cart line",
    ] {
        let line = outcome
            .report
            .lines()
            .find(|line| line.contains(row))
            .unwrap_or_else(|| panic!("no {row} row in {}", outcome.report));
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let per_second: f64 = cells[2].parse().expect("a rate");
        assert!(per_second > 0.0, "{line}");
        assert_eq!(cells[6], "0", "errors: {line}");
    }
    // Both holds baselines were swept over at least two numbers of clients, one marked the best.
    for side in ["straight on MariaDB", "holds (cart line"] {
        let levels: Vec<&str> = outcome
            .report
            .lines()
            .filter(|line| line.starts_with('|') && line.contains(side))
            .collect();
        assert!(levels.len() >= 2, "{}", outcome.report);
        assert_eq!(
            levels
                .iter()
                .filter(|line| line.contains(" clients *"))
                .count(),
            1,
            "{}",
            outcome.report
        );
    }
}

#[tokio::test]
#[ignore = "a load test: make test runs it alone, after the others"]
async fn a_steady_ramp_climbs_step_by_step_and_stops_past_its_bound() {
    use server::bench::black_friday::{RampOptions, ramp};

    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    let options = RampOptions {
        step: Duration::from_secs(2),
        first: 0.02,
        increment: 0.02,
        last: 0.06,
        // A bound no request can meet: the ramp must stop after its first step.
        read_p99: Duration::ZERO,
        write_p99: Duration::ZERO,
        connections: 40,
        items: 150,
        customers: 30,
        shop: ShopProcess::Here,
    };
    let (steps, clean) = ramp(&settings, &options).await.expect("the ramp runs");
    drop_test_data(&settings).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].errors, 0, "{steps:?}");
    assert!(
        steps[0].read_p99_ms > 0.0 && steps[0].write_p99_ms > 0.0,
        "{steps:?}"
    );
    assert!(clean);

    // Within generous bounds it climbs to the last step.
    let settings = fresh_settings();
    migrate_fresh(&settings).await;
    let generous = RampOptions {
        read_p99: Duration::from_secs(10),
        write_p99: Duration::from_secs(10),
        ..options
    };
    let (steps, clean) = ramp(&settings, &generous).await.expect("the ramp runs");
    drop_test_data(&settings).await;
    let multipliers: Vec<f64> = steps
        .iter()
        .map(|s| (s.multiplier * 100.0).round())
        .collect();
    assert_eq!(multipliers, [2.0, 4.0, 6.0], "{steps:?}");
    assert!(clean);
}

/// Started with the usual low soft limit of open files, `surge` raises its own (to 65,536, or the
/// hard limit when that is lower), and a load scenario asking for more connections than even
/// that allows is refused at once, naming the option, before it touches any database.
#[tokio::test]
async fn surge_raises_its_open_files_limit_and_refuses_connections_beyond_it() {
    use nix::sys::resource::{Resource, getrlimit};

    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("the limit is readable");
    let low = hard.min(256);
    let output = tokio::process::Command::new("sh")
        .args([
            "-c",
            &format!("ulimit -Sn {low} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_surge"),
            "load",
            "black-friday",
            "--connections",
            "1000000000",
        ])
        .env_remove("SURGE_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("surge runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let raised = hard.min(server::open_files::WANTED);
    assert!(
        stderr.contains(&format!(
            "--connections 1000000000 needs about 1000001024 open files, and this process may \
             open only {raised}:"
        )),
        "{stderr}"
    );
}
