//! `surge`: the shop's one binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::bench::stage::ShopProcess;
use server::config::Settings;
use server::startup::{Application, shutdown_signal};
use server::telemetry;

/// mimalloc instead of glibc's malloc: under the Black Friday load, glibc's allocator (arena
/// locks, `malloc_consolidate`) took about a quarter of the process's CPU (`bench/README.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "surge",
    version,
    about = "A storefront and payment system built for flash sales"
)]
struct Cli {
    /// A TOML configuration file (see deploy/surge.example.toml); SURGE_* variables override it.
    #[arg(long, global = true, env = "SURGE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate every database, then serve the shop.
    Serve {
        /// Skip the migrations (another copy or a deploy step runs them).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Create and migrate the directory and every shard database, then exit.
    Migrate,
    /// Run the sandbox payment processor (its merchant API and its bank pages) on its own port.
    PspSandbox,
    /// Create the demo catalog: categories over every shard and their items.
    Seed {
        /// How many items.
        #[arg(long, default_value_t = 10_000)]
        items: u64,
        /// Only when the shop has no categories yet (`make run` does this).
        #[arg(long)]
        if_empty: bool,
        /// The random seed: the same seed gives the same catalog.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Check the invariants on the live data; exit status 1 when one is broken.
    Audit,
    /// Administer accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Measure search and item pages on a fresh catalog of its own (databases created and dropped).
    BenchCatalog {
        /// Catalog size.
        #[arg(long, default_value_t = 10_000)]
        items: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        duration_s: u64,
    },
    /// Measure checkouts (hold, then cancel) on one hot item and on many, on databases of its own.
    BenchCheckout {
        /// Items of the "many items" phase.
        #[arg(long, default_value_t = 300)]
        items: u32,
        /// Concurrent customers.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        duration_s: u64,
    },
    /// Load scenarios against a shop of their own (own databases, own sandbox processor), each
    /// bounded in time and count, on loopback; each ends with the audit.
    Load {
        #[command(subcommand)]
        scenario: LoadScenario,
        /// Serve the shop on this process's runtime, beside the load generator, instead of as a
        /// `surge serve` process of its own.
        #[arg(long, global = true)]
        shop_in_process: bool,
    },
    /// Drop every database of the configured prefix (ALL ITS DATA) and create them empty.
    Reset {
        /// Required: this deletes data.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum LoadScenario {
    /// The black-friday mix in steps of rising rate until p99 passes a bound: the knee.
    SteadyRamp {
        /// Seconds per step.
        #[arg(long, default_value_t = 15)]
        step_s: u64,
        #[arg(long, default_value_t = 0.25)]
        first: f64,
        #[arg(long, default_value_t = 0.25)]
        increment: f64,
        #[arg(long, default_value_t = 3.0)]
        last: f64,
        #[arg(long, default_value_t = 50)]
        read_p99_ms: u64,
        #[arg(long, default_value_t = 150)]
        write_p99_ms: u64,
        #[arg(long, default_value_t = 3000)]
        connections: usize,
        #[arg(long, default_value_t = 10_000)]
        items: u64,
        #[arg(long, default_value_t = 2000)]
        customers: usize,
    },
    /// The capacity plan's mix, open-loop: 2,500 reads/s and 500 writes/s (times the
    /// multiplier) over up to 3,000 connections held open; a table per operation, the audit, and
    /// an SVG plot of p99 latency per second.
    BlackFriday {
        #[arg(long, default_value_t = 60)]
        duration_s: u64,
        #[arg(long, default_value_t = 1.0)]
        multiplier: f64,
        #[arg(long, default_value_t = 3000)]
        connections: usize,
        /// Items seeded.
        #[arg(long, default_value_t = 10_000)]
        items: u64,
        /// Customers with sessions.
        #[arg(long, default_value_t = 2000)]
        customers: usize,
        /// Where the latency plot is written.
        #[arg(long, default_value = "bench/black-friday.svg")]
        plot: std::path::PathBuf,
        /// Seconds each baseline (trivial route, direct hold transaction, Surge's reads and holds
        /// closed-loop) runs before the mix; 0 skips them.
        #[arg(long, default_value_t = 5)]
        baseline_s: u64,
        /// Clients of each closed-loop baseline.
        #[arg(long, default_value_t = 64)]
        baseline_clients: usize,
    },
    /// Buyers arrive within seconds for one item with a small stock; each adds it to the cart,
    /// checks out and pays. Fails unless exactly the stock is sold and the audit is clean.
    FlashSale {
        #[arg(long, default_value_t = 10_000)]
        buyers: usize,
        #[arg(long, default_value_t = 100)]
        stock: u32,
        /// Seconds within which every buyer arrives.
        #[arg(long, default_value_t = 5)]
        arrival_s: u64,
        /// Connections to the shop at most.
        #[arg(long, default_value_t = 1000)]
        connections: usize,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account (the first one; later ones can be promoted in the console). The
    /// password is read from SURGE_ADMIN_PASSWORD, or else from the first line of standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        display_name: String,
        /// Succeed without doing anything when the username already exists.
        #[arg(long)]
        if_missing: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("surge: {error}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&settings.log);
    match server::open_files::raise() {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(error) => tracing::warn!(%error, "open files limit not raised"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("surge: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("surge: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_migrate } => {
            let application = Application::build(&settings, !no_migrate).await?;
            tracing::info!(addr = %application.addr()?, "serving the shop");
            application.serve(shutdown_signal()).await?;
        }
        Command::PspSandbox => {
            let sandbox = server::psp_sandbox::SandboxServer::build(&settings).await?;
            sandbox.serve(shutdown_signal()).await?;
        }
        Command::Migrate => {
            let topology = settings.topology()?;
            app::shard::migrate::migrate_all(&topology).await?;
            println!("migrated {} databases", topology.databases.len());
        }
        Command::Seed {
            items,
            if_empty,
            seed,
        } => server::seed::run(&settings, items, if_empty, seed).await?,
        Command::Admin(AdminCommand::Create {
            username,
            email,
            phone,
            display_name,
            if_missing,
        }) => {
            let password = match std::env::var("SURGE_ADMIN_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let input = app::accounts::model::RegisterInput {
                username,
                email,
                phone,
                display_name,
                timezone: String::new(),
                password,
            };
            server::admin::create(&settings, input, if_missing).await?;
        }
        Command::Audit => {
            let report = server::audit::run(&settings).await?;
            println!("{report}");
            anyhow::ensure!(report.is_clean(), "the audit found broken invariants");
        }
        Command::BenchCatalog {
            items,
            concurrency,
            duration_s,
        } => {
            let options = server::bench::catalog::BenchOptions {
                items,
                concurrency: concurrency.max(1),
                duration: std::time::Duration::from_secs(duration_s.max(1)),
            };
            server::bench::catalog::run(&settings, options).await?;
        }
        Command::BenchCheckout {
            items,
            concurrency,
            duration_s,
        } => {
            let options = server::bench::checkout::CheckoutBenchOptions {
                items,
                concurrency: concurrency.max(1),
                duration: std::time::Duration::from_secs(duration_s.max(1)),
            };
            server::bench::checkout::run(&settings, options).await?;
        }
        Command::Load {
            scenario:
                LoadScenario::SteadyRamp {
                    step_s,
                    first,
                    increment,
                    last,
                    read_p99_ms,
                    write_p99_ms,
                    connections,
                    items,
                    customers,
                },
            shop_in_process,
        } => {
            anyhow::ensure!(
                first > 0.0 && increment > 0.0 && last >= first && last <= 20.0,
                "the ramp needs 0 < --first <= --last <= 20 and --increment > 0"
            );
            ensure_room_for_connections(connections, shop_in_process)?;
            let options = server::bench::black_friday::RampOptions {
                step: std::time::Duration::from_secs(step_s.clamp(1, 600)),
                first,
                increment,
                last,
                read_p99: std::time::Duration::from_millis(read_p99_ms),
                write_p99: std::time::Duration::from_millis(write_p99_ms),
                connections: connections.max(1),
                items: items.max(1),
                customers: customers.max(1),
                shop: shop_process(shop_in_process)?,
            };
            server::bench::black_friday::run_ramp(&settings, options).await?;
        }
        Command::Load {
            scenario:
                LoadScenario::BlackFriday {
                    duration_s,
                    multiplier,
                    connections,
                    items,
                    customers,
                    plot,
                    baseline_s,
                    baseline_clients,
                },
            shop_in_process,
        } => {
            anyhow::ensure!(
                multiplier > 0.0 && multiplier <= 20.0,
                "--multiplier must be more than 0 and at most 20"
            );
            ensure_room_for_connections(connections, shop_in_process)?;
            let options = server::bench::black_friday::BlackFridayOptions {
                duration: std::time::Duration::from_secs(duration_s.clamp(1, 3600)),
                multiplier,
                connections: connections.max(1),
                items: items.max(1),
                customers: customers.max(1),
                plot,
                baseline: std::time::Duration::from_secs(baseline_s.min(600)),
                baseline_clients: baseline_clients.clamp(1, 1000),
                shop: shop_process(shop_in_process)?,
            };
            server::bench::black_friday::run(&settings, options).await?;
        }
        Command::Load {
            scenario:
                LoadScenario::FlashSale {
                    buyers,
                    stock,
                    arrival_s,
                    connections,
                },
            shop_in_process,
        } => {
            ensure_room_for_connections(connections, shop_in_process)?;
            let options = server::bench::flash_sale::FlashSaleOptions {
                buyers: buyers.max(1),
                stock: stock.max(1),
                arrival: std::time::Duration::from_secs(arrival_s),
                connections: connections.max(1),
                shop: shop_process(shop_in_process)?,
            };
            server::bench::flash_sale::run(&settings, options).await?;
        }
        Command::Reset { yes } => {
            anyhow::ensure!(yes, "reset deletes every database of the prefix: add --yes");
            let topology = settings.topology()?;
            app::shard::migrate::drop_all(&topology).await?;
            app::shard::migrate::migrate_all(&topology).await?;
            let redis = app::redis_store::Redis::connect_lazy(&settings.redis)?;
            let deleted = redis.delete_all_keys().await?;
            println!(
                "reset {} databases and {deleted} redis keys of prefix {:?}",
                topology.databases.len(),
                settings.database.prefix
            );
        }
    }
    Ok(())
}

/// Fails at once when this process may not open enough files for a load scenario's
/// `connections` (both their ends when the shop runs here too).
fn ensure_room_for_connections(connections: usize, shop_in_process: bool) -> anyhow::Result<()> {
    let (sockets, asked) = if shop_in_process {
        (
            connections.saturating_mul(2),
            format!("--connections {connections} with --shop-in-process"),
        )
    } else {
        (connections, format!("--connections {connections}"))
    };
    server::open_files::ensure_room_for(sockets, &asked)
}

/// Where a load scenario's shop runs: a `serve` process of this binary, unless asked otherwise.
fn shop_process(in_process: bool) -> anyhow::Result<ShopProcess> {
    Ok(if in_process {
        ShopProcess::Here
    } else {
        ShopProcess::Own(std::env::current_exe()?)
    })
}
