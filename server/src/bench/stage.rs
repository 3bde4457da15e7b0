//! The stage a load scenario plays on: the sandbox processor and a shop paying through it, both in
//! this process on loopback ports, webhooks on, on the databases of the given settings.

use std::net::{SocketAddr, TcpListener};

use app::state::AppState;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::psp_sandbox::SandboxServer;
use crate::startup::Application;

/// A running sandbox and a shop that is built (its index loaded) and, after [`Stage::open`],
/// serving.
pub struct Stage {
    /// The shop's settings (with the sandbox's address, key and secret).
    pub settings: Settings,
    pub addr: SocketAddr,
    /// The sandbox's base URL (its bank pages pay QR codes).
    pub bank: String,
    pub state: AppState,
    application: Option<Application>,
    shop: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    sandbox: (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>),
}

fn random_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Stage {
    /// Starts the sandbox and builds the shop (not serving yet: make its data first).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
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
        let application = Application::build(&settings, false).await?;
        let state = application.state().clone();
        Ok(Stage {
            settings,
            addr,
            bank,
            state,
            application: Some(application),
            shop: None,
            sandbox: (stop_sandbox, sandbox),
        })
    }

    /// Starts serving.
    pub fn open(&mut self) {
        if let Some(application) = self.application.take() {
            let (stop, stopped) = oneshot::channel::<()>();
            let server = tokio::spawn(application.serve(async {
                let _ = stopped.await;
            }));
            self.shop = Some((stop, server));
        }
    }

    /// Stops the shop and the sandbox, drops the sandbox's database; returns the shop's settings
    /// (for the audit, which connects anew).
    pub async fn close(self) -> anyhow::Result<Settings> {
        if let Some((stop, server)) = self.shop {
            let _ = stop.send(());
            let _ = server.await;
        }
        let (stop, sandbox) = self.sandbox;
        let _ = stop.send(());
        let _ = sandbox.await;
        crate::psp_sandbox::drop_database(&self.settings).await?;
        Ok(self.settings)
    }
}
