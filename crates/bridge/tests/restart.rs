//! A NATS restart loses nothing: the bridge and the provider reconnect by themselves,
//! and a request sent while NATS was down is answered once it is back. The test runs
//! its own NATS server (the shared one must not be restarted under other tests).

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use support::{request, Bench};
use tokio::process::{Child, Command};

/// A private JetStream server on a free port, keeping its store across restarts.
struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Child,
}

impl NatsServer {
    async fn start(port: u16, store: &Path) -> anyhow::Result<Self> {
        // stack-up.sh installs it from Debian, into /usr/sbin (not on every PATH).
        let binary = if Path::new("/usr/sbin/nats-server").exists() {
            "/usr/sbin/nats-server"
        } else {
            "nats-server"
        };
        let child = Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .arg("-sd")
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self {
                    port,
                    store: store.to_path_buf(),
                    child,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("nats-server did not listen on {port}")
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn stop(mut self) -> anyhow::Result<(u16, PathBuf)> {
        self.child.kill().await?;
        Ok((self.port, self.store))
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_while_nats_is_down_is_answered_after_its_restart() -> anyhow::Result<()> {
    let store = std::env::temp_dir().join(format!("bridge-test-nats-{}", free_port()?));
    let server = NatsServer::start(free_port()?, &store).await?;
    let mut bench = Bench::on_nats(&server.url()).await?;
    let provider = bench.start_provider(50).await?;
    let bridge = bench.start_bridge().await?;
    bench.publish(&request("pay-before", "tok_ok", 1)).await?;
    let before = bench.next_answer(Duration::from_secs(10)).await?;
    assert_eq!(
        before.map(|answer| answer.aggregate_id).as_deref(),
        Some("pay-before")
    );

    let (port, store) = server.stop().await?;
    bench.publish(&request("pay-during", "tok_ok", 1)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(bench
        .next_answer(Duration::from_millis(100))
        .await?
        .is_none());
    let server = NatsServer::start(port, &store).await?;
    let during = bench.next_answer(Duration::from_secs(30)).await?;
    assert_eq!(
        during.map(|answer| answer.aggregate_id).as_deref(),
        Some("pay-during")
    );

    bridge.stop().await;
    provider.stop().await;
    bench.teardown().await?;
    drop(server);
    let _ = std::fs::remove_dir_all(&store);
    Ok(())
}
