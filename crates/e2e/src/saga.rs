//! The fulfilment saga in a test stack: in-process like the other services, or as a
//! real child process ([`ServiceProcess`]) that a test can kill with SIGKILL and start
//! again, to show that a saga (or the payment service) dying mid-step loses nothing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{servers, TestStack};

/// How long the saga waits for the provider in tests, and for a reply before resending.
/// The payment deadline runs from the authorize command's dispatch, so it also covers
/// the command's trip through the broker and the payment service: on a loaded 2-core
/// machine that trip alone took over 2 s, and a flaky card's retry then lost the race
/// against a 3 s deadline. Only the few `tok_timeout` orders wait it out.
pub const PAYMENT_TIMEOUT: Duration = Duration::from_secs(8);
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);

impl TestStack {
    /// The saga's settings for this stack: its own database, port 0, short deadlines.
    fn saga_settings(&self, database_url: &str) -> saga::Settings {
        saga::Settings {
            access: platform::access::AccessSettings::default(),
            database_url: database_url.to_string(),
            pool_size: 5,
            http_addr: "127.0.0.1:0".into(),
            broker: self.broker(),
            timing: saga::domain::Timing {
                step_timeout: STEP_TIMEOUT,
                payment_timeout: PAYMENT_TIMEOUT,
            },
            tick: Duration::from_millis(100),
            dispatch_poll: self.outbox_poll,
        }
    }

    /// Creates the saga's database (once) and returns its URL.
    pub async fn saga_database(&mut self) -> anyhow::Result<String> {
        let name = format!("e2e_saga_{}", self.id);
        if self.saga_database.is_none() {
            servers::create_database(&name).await?;
            self.saga_database = Some(name.clone());
        }
        Ok(format!("postgres://postgres@127.0.0.1:5432/{name}"))
    }

    /// Starts the payment side and the saga in-process; `GET /sagas/..` then answers
    /// through [`Self::saga`].
    pub async fn start_saga(&mut self) -> anyhow::Result<()> {
        self.start_payments().await?;
        self.start_saga_service().await
    }

    /// The saga alone, in-process (the payment side is the caller's to start).
    pub async fn start_saga_service(&mut self) -> anyhow::Result<()> {
        let url = self.saga_database().await?;
        let saga = saga::build(self.saga_settings(&url)).await?;
        let port = saga.port();
        self.saga_url = format!("http://127.0.0.1:{port}");
        self.spawn(saga.run_until(self.shutdown.clone().cancelled_owned()));
        self.healthy(port).await
    }

    /// `GET /sagas/{order_id}` on the saga: status and JSON body.
    pub async fn saga(&self, order_id: &str) -> anyhow::Result<(u16, Value)> {
        self.get_url(&format!("{}/sagas/{order_id}", self.saga_url))
            .await
    }

    /// Waits until the saga of `order_id` has finished; returns its view.
    pub async fn saga_finished(&self, order_id: &str) -> anyhow::Result<Value> {
        self.eventually_within(
            &format!("saga of {order_id} finished"),
            Duration::from_secs(60),
            || async {
                let (status, body) = self.saga(order_id).await?;
                let finished = matches!(body["status"].as_str(), Some("completed" | "cancelled"));
                anyhow::ensure!(status == 200 && finished, "status {status}, body {body}");
                Ok(body)
            },
        )
        .await
    }

    /// The environment of a service process of this stack (database, broker, port).
    pub fn process_env(
        &self,
        database_var: &str,
        database_url: &str,
        port: u16,
    ) -> Vec<(String, String)> {
        vec![
            (database_var.into(), database_url.into()),
            ("AMQP_URL".into(), self.amqp_url.clone()),
            ("HTTP_ADDR".into(), format!("127.0.0.1:{port}")),
            ("RELAY_IDLE_POLL_MS".into(), "20".into()),
            (
                "SAGA_PAYMENT_TIMEOUT_MS".into(),
                PAYMENT_TIMEOUT.as_millis().to_string(),
            ),
            (
                "SAGA_STEP_TIMEOUT_MS".into(),
                STEP_TIMEOUT.as_millis().to_string(),
            ),
            ("SAGA_TICK_MS".into(), "100".into()),
            ("RUST_LOG".into(), "warn".into()),
        ]
    }
}

/// A service run as a child process of the test, from the workspace's own binary.
pub struct ServiceProcess {
    binary: PathBuf,
    env: Vec<(String, String)>,
    pub port: u16,
    child: Option<Child>,
}

impl ServiceProcess {
    /// Builds `binary` of `package` (a no-op when it is up to date) and starts it.
    pub async fn start(
        package: &str,
        binary: &str,
        env: Vec<(String, String)>,
        port: u16,
    ) -> anyhow::Result<Self> {
        let binary = build_binary(package, binary).await?;
        let mut process = Self {
            binary,
            env,
            port,
            child: None,
        };
        process.restart().await?;
        Ok(process)
    }

    /// Starts the process (again) with the same environment.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no shutdown, no flush; whatever was in flight is cut off.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}

/// A free loopback port for a child process to bind.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Builds a binary of the workspace with the test's profile and returns its path.
async fn build_binary(package: &str, binary: &str) -> anyhow::Result<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // A clean environment: the test runner's variables (CARGO_*, NEXTEST_*, ...) would
    // look like a changed build environment to some build scripts and force a rebuild.
    let keep = [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "CARGO_TARGET_DIR",
        "RUSTUP_TOOLCHAIN",
    ];
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .env_clear()
        .envs(
            keep.iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
        )
        .args(["build", "--quiet", "-p", package, "--bin", binary])
        .status()
        .await?;
    anyhow::ensure!(status.success(), "cargo build of {binary} failed");
    // The test binary runs from <target>/debug/deps; the service binary is in <target>/debug.
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("no target dir above {exe:?}"))?;
    Ok(dir.join(binary))
}
