//! Private servers for the fault tests: a RabbitMQ node, a NATS server and a Redis of
//! one test's own, on free loopback ports, that the test may stop, kill, restart or
//! flush without disturbing the shared servers the other tests run against. Each is
//! stopped when dropped, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::saga::free_port;
use crate::servers::Servers;

/// A fresh, empty directory under the temp dir; world-writable, because
/// `rabbitmq-server` started as root drops to the `rabbitmq` user.
fn scratch_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    set_open(&dir)?;
    Ok(dir)
}

fn set_open(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))?;
    Ok(())
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// Waits until `check` passes, polling every 250 ms, for at most `limit`.
async fn wait_until<F, Fut>(what: &str, limit: Duration, check: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        anyhow::ensure!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

async fn port_open(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// A RabbitMQ node of its own (`faults_<id>@localhost`), with its own Mnesia and logs.
pub struct PrivateRabbit {
    pub node: String,
    pub port: u16,
    dir: PathBuf,
    _server: Child,
}

impl PrivateRabbit {
    /// Boots the node (some 10-20 s on a busy machine) and waits for it.
    pub async fn start() -> anyhow::Result<Self> {
        let id = short_id();
        let node = format!("faults_{id}@localhost");
        let (port, dist_port) = (free_port()?, free_port()?);
        let dir = scratch_dir(&format!("faults_rabbit_{id}"))?;
        // A config of its own: the system one pins the listener to 5672.
        let config = dir.join("rabbitmq.conf");
        std::fs::write(
            &config,
            format!("listeners.tcp.default = 127.0.0.1:{port}\n"),
        )?;
        let plugins = dir.join("enabled_plugins");
        std::fs::write(&plugins, "[].\n")?;
        let log = std::fs::File::create(dir.join("server.out"))?;
        let server = Command::new("rabbitmq-server")
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", &config)
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", &plugins)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let rabbit = Self {
            node,
            port,
            dir,
            _server: server,
        };
        wait_until("private RabbitMQ up", Duration::from_secs(90), || {
            rabbit.listening()
        })
        .await?;
        Ok(rabbit)
    }

    /// The AMQP listener accepts connections and the node answers `rabbitmqctl`.
    async fn listening(&self) -> bool {
        port_open(self.port).await && self.ctl(&["await_startup", "--timeout", "5"]).await.is_ok()
    }

    /// These servers: this node, the shared NATS and Redis.
    pub fn servers(&self) -> Servers {
        Servers {
            amqp_port: self.port,
            rabbitmq_node: Some(self.node.clone()),
            ..Servers::default()
        }
    }

    async fn ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        self.servers().rabbitmqctl(args).await
    }

    /// `rabbitmqctl stop_app`: every connection dropped, the listener closed; durable
    /// queues and persistent messages stay on disk.
    pub async fn stop_app(&self) -> anyhow::Result<()> {
        self.ctl(&["stop_app"]).await
    }

    /// `rabbitmqctl start_app`, retried: the listener's port can still be held for a
    /// moment after `stop_app`.
    pub async fn start_app(&self) -> anyhow::Result<()> {
        let mut last = Ok(());
        for _ in 0..10 {
            last = self.ctl(&["start_app"]).await;
            if last.is_ok() && port_open(self.port).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        last.and(Err(anyhow::anyhow!(
            "private RabbitMQ did not listen again"
        )))
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["-n", &self.node, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A NATS server with JetStream of its own; killed and restarted on the same port and
/// store directory, so the stream survives as it would a crash.
pub struct PrivateNats {
    pub port: u16,
    dir: PathBuf,
    server: Option<Child>,
}

impl PrivateNats {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = scratch_dir(&format!("faults_nats_{}", short_id()))?;
        let mut nats = Self {
            port: free_port()?,
            dir,
            server: None,
        };
        nats.restart().await?;
        Ok(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no flush, no goodbye to the clients.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut server) = self.server.take() {
            server.kill().await?;
        }
        Ok(())
    }

    /// Starts the server (again) and waits for its port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let server = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        self.server = Some(server);
        let port = self.port;
        wait_until("private NATS up", Duration::from_secs(20), || {
            port_open(port)
        })
        .await
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(server) = self.server.as_mut() {
            let _ = server.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis of its own, without persistence: a test may FLUSHALL it.
pub struct PrivateRedis {
    pub port: u16,
    _server: Child,
}

impl PrivateRedis {
    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let server = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        wait_until("private Redis up", Duration::from_secs(20), || {
            port_open(port)
        })
        .await?;
        Ok(Self {
            port,
            _server: server,
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// FLUSHALL: every read model in Redis gone at once.
    pub async fn flush_all(&self) -> anyhow::Result<()> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("FLUSHALL")
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }
}
