//! The stage a load scenario plays on: the sandbox processor (in this process) and a shop paying
//! through it, on loopback ports, webhooks on, on the databases of the given settings. The shop
//! runs in this process or, so that the load generator's work is not counted as the shop's, as a
//! `surge serve` process of its own.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use app::state::AppState;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::psp_sandbox::SandboxServer;
use crate::startup::{self, Application};

/// How long a shop process may take to answer `/livez` (it builds its search index first).
const READY_WITHIN: Duration = Duration::from_secs(120);
/// How long a stopping shop process may take to finish its requests before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// Where a stage's shop runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopProcess {
    /// On this process's runtime, beside the load generator.
    Here,
    /// `serve` of this `surge` binary, as a process of its own.
    Own(PathBuf),
}

/// The shop in each stage of its life.
enum Shop {
    /// Built in this process, not serving yet.
    Built(Box<Application>),
    /// To be started from this binary.
    Binary(PathBuf),
    Serving(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>),
    Process(Child),
}

/// A running sandbox and a shop that is built and, after [`Stage::open`], serving.
pub struct Stage {
    /// The shop's settings (with the sandbox's address, key and secret).
    pub settings: Settings,
    pub addr: SocketAddr,
    /// The sandbox's base URL (its bank pages pay QR codes).
    pub bank: String,
    /// The shop's databases and Redis, for making a scenario's data (its own connections when the
    /// shop is a process of its own).
    pub state: AppState,
    shop: Option<Shop>,
    sandbox: (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>),
}

fn random_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Stage {
    /// Starts the sandbox and builds the shop (not serving yet: make its data first).
    pub async fn build(settings: &Settings, process: ShopProcess) -> anyhow::Result<Self> {
        let mut settings = settings.clone();
        let key = random_secret();
        let secret = random_secret();
        settings.psp_sandbox.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.psp_sandbox.api_key = Some(key.clone());
        settings.psp_sandbox.webhook_secret = Some(secret.clone());
        let sandbox = SandboxServer::build(&settings).await?;
        let bank = format!("http://{}", sandbox.addr()?);
        let (stop_sandbox, sandbox_stopped) = oneshot::channel::<()>();
        let sandbox = tokio::spawn(sandbox.serve(async {
            let _ = sandbox_stopped.await;
        }));
        // The webhook address must be known before the shop starts: a free port, bound next.
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        settings.http.addr = addr;
        settings.payments.processor_url = bank.clone();
        settings.payments.api_key = Some(key);
        settings.payments.webhook_secret = Some(secret);
        settings.payments.webhook_url = Some(format!("http://{addr}/api/v1/payments/webhook"));
        let (state, shop) = match process {
            ShopProcess::Here => {
                let application = Application::build(&settings, false).await?;
                (
                    application.state().clone(),
                    Shop::Built(Box::new(application)),
                )
            }
            ShopProcess::Own(binary) => (startup::connect(&settings, addr)?, Shop::Binary(binary)),
        };
        Ok(Stage {
            settings,
            addr,
            bank,
            state,
            shop: Some(shop),
            sandbox: (stop_sandbox, sandbox),
        })
    }

    /// Starts serving; a shop process has answered `/livez` when this returns.
    pub async fn open(&mut self) -> anyhow::Result<()> {
        self.shop = match self.shop.take() {
            Some(Shop::Built(application)) => {
                let (stop, stopped) = oneshot::channel::<()>();
                let server = tokio::spawn(application.serve(async {
                    let _ = stopped.await;
                }));
                Some(Shop::Serving(stop, server))
            }
            Some(Shop::Binary(binary)) => Some(Shop::Process(self.start_process(&binary).await?)),
            serving => serving,
        };
        Ok(())
    }

    /// The shop process's ID, when it runs as one.
    pub fn shop_pid(&self) -> Option<u32> {
        match &self.shop {
            Some(Shop::Process(child)) => child.id(),
            _ => None,
        }
    }

    /// Starts `binary serve` on this stage's settings (a configuration file of their own, readable
    /// by this user only, removed once the shop has read it: no `SURGE_*` variable of this process
    /// reaches it) and waits until it answers.
    async fn start_process(&self, binary: &Path) -> anyhow::Result<Child> {
        let config = std::env::temp_dir().join(format!(
            "surge-stage-{}-{}.toml",
            std::process::id(),
            self.addr.port()
        ));
        let text = toml::to_string(&self.settings)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&config)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .with_context(|| format!("writing {}", config.display()))?;
        let started = serve_until_ready(binary, &config, self.addr).await;
        let _ = std::fs::remove_file(&config);
        started
    }

    /// Stops the shop and the sandbox, drops the sandbox's database; returns the shop's settings
    /// (for the audit, which connects anew).
    pub async fn close(self) -> anyhow::Result<Settings> {
        match self.shop {
            Some(Shop::Serving(stop, server)) => {
                let _ = stop.send(());
                let _ = server.await;
            }
            Some(Shop::Process(child)) => stop_process(child).await?,
            _ => {}
        }
        let (stop, sandbox) = self.sandbox;
        let _ = stop.send(());
        let _ = sandbox.await;
        crate::psp_sandbox::drop_database(&self.settings).await?;
        Ok(self.settings)
    }
}

/// Starts `binary serve --config config` and waits until it answers on `addr` (else kills it).
async fn serve_until_ready(
    binary: &Path,
    config: &Path,
    addr: SocketAddr,
) -> anyhow::Result<Child> {
    let mut command = Command::new(binary);
    command
        .args(["serve", "--no-migrate", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SURGE_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    if let Err(error) = wait_until_ready(&mut child, addr).await {
        let _ = child.kill().await;
        return Err(error);
    }
    Ok(child)
}

/// Polls the shop process's `/livez` until it answers 200; fails if the process ends first or
/// [`READY_WITHIN`] passes.
async fn wait_until_ready(child: &mut Child, addr: SocketAddr) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()?;
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the shop process ended before it answered: {status}");
        }
        let answered = client.get(format!("http://{addr}/livez")).send().await;
        if answered.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the shop process did not answer within {READY_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks the shop process to stop (SIGTERM: it finishes its requests and background work), and
/// kills it if it has not within [`STOP_WITHIN`].
async fn stop_process(mut child: Child) -> anyhow::Result<()> {
    let Some(pid) = child.id() else {
        return Ok(());
    };
    kill(Pid::from_raw(i32::try_from(pid)?), Signal::SIGTERM)?;
    if let Ok(status) = tokio::time::timeout(STOP_WITHIN, child.wait()).await {
        status?;
        return Ok(());
    }
    tracing::warn!("the shop process did not stop within {STOP_WITHIN:?}; killing it");
    child.kill().await?;
    Ok(())
}
