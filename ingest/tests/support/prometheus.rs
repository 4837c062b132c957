//! Debian's `prometheus` and `promtool` for the Prometheus collector's tests and bench.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// TSDB blocks in `data` from an OpenMetrics file. Few large blocks
/// (`--max-block-duration`, a hidden flag in promtool 2.42): its default two-hour
/// blocks make four months 1,441 blocks and five years 21,900, slow to write and to open.
pub fn blocks(openmetrics: &Path, data: &Path) {
    let made = Command::new("/usr/bin/promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "-q", "--max-block-duration=8760h"])
        .arg(openmetrics)
        .arg(data)
        .output()
        .expect("promtool (apt-get install prometheus)");
    assert!(made.status.success(), "promtool: {}", String::from_utf8_lossy(&made.stderr));
}

/// A `prometheus` server on the TSDB in `data`, stopped when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// Starts it on a free loopback port with extra `flags` and waits until it is ready.
    pub fn start(data: &Path, flags: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let config = data.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").expect("config");
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // The blocks are months or years old: the default 15 days would delete them at start.
            .arg("--storage.tsdb.retention.time=100y")
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start /usr/bin/prometheus (apt-get install prometheus)");
        let url = format!("http://127.0.0.1:{port}");
        let agent = ureq::Agent::new_with_defaults();
        let started = Instant::now();
        while agent.get(format!("{url}/-/ready")).call().map(|r| r.status().as_u16()).ok() != Some(200) {
            assert!(started.elapsed() < Duration::from_secs(120), "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
