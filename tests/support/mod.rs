//! Helpers for tests that run the real `gatelog` binary: spawn it, read the
//! URL it prints, talk HTTP to it, and stop or kill it.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a first start (initdb included) may take on a slow machine.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The binary under test, with a clean environment: no inherited database or gatelog settings.
pub fn gatelog() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatelog"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key == "DATABASE_URL" || key.starts_with("GATELOG_") {
            command.env_remove(key);
        }
    }
    command.env("GATELOG_LOG", "warn");
    // Tests look at a page right after changing the ledger: let pages wait for the newest
    // figures rather than show the previous checkpoint's (the bounded wait has its own test).
    command.env("GATELOG_FRESH_WAIT_MS", "120000");
    command
}

/// Runs the binary to completion; returns (success, stdout, stderr).
pub fn run(command: &mut Command) -> (ExitStatus, String, String) {
    let output = command.stdin(Stdio::null()).output().expect("run gatelog");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A temporary data directory under /tmp (short paths keep unix sockets legal).
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("gl-").tempdir_in("/tmp").expect("tempdir")
}

/// A running `gatelog serve`.
pub struct Server {
    child: Option<Child>,
    /// Base URL it printed, e.g. `http://127.0.0.1:41234/`.
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `gatelog serve` on a free loopback port and waits for its URL.
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> Self {
        Self::try_start(data_dir, extra_args).unwrap_or_else(|error| panic!("{error}"))
    }

    /// Like [`Server::start`], but returns the failure (with stderr) instead of panicking.
    pub fn try_start(data_dir: &Path, extra_args: &[&str]) -> Result<Self, String> {
        let mut child = gatelog()
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gatelog serve");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (url_tx, url_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("Gatelog is serving on ") {
                    let _ = url_tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        match url_rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => Ok(Self { child: Some(child), url, data_dir: data_dir.to_path_buf(), stderr: err_rx }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                let stderr = err_rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
                Err(format!("gatelog serve did not print its URL (exit: {status:?}); stderr:\n{stderr}"))
            }
        }
    }

    /// The gatelog process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// The embedded postmaster's pid, from its pid file.
    pub fn postmaster_pid(&self) -> Option<i32> {
        postmaster_pid(&self.data_dir)
    }

    /// GET a path; returns (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.url, path)
    }

    /// Sends SIGINT (Ctrl-C) and waits; returns the exit status and stderr.
    pub fn interrupt(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("send SIGINT");
        let status = wait_with_timeout(&mut child, Duration::from_secs(90));
        let stderr = self.stderr.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
        (status, stderr)
    }

    /// Sends SIGTERM and waits; returns the exit status, stderr, and the time from signal to exit.
    pub fn terminate(mut self) -> (ExitStatus, String, Duration) {
        let mut child = self.child.take().expect("running");
        let sent = Instant::now();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("send SIGTERM");
        let status = wait_with_timeout(&mut child, Duration::from_secs(120));
        let took = sent.elapsed();
        let stderr = self.stderr.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
        (status, stderr, took)
    }

    /// SIGKILLs gatelog only, as a crash would; its PostgreSQL is left running.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failing test must not leave servers behind.
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGINT);
            let _ = wait_with_timeout(&mut child, Duration::from_secs(60));
        }
    }
}

/// Waits for `child` to exit; past `timeout` it is killed and the test fails.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gatelog did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads the embedded postmaster's pid from `<data-dir>/pg/data/postmaster.pid`.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("pg/data/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    !matches!(kill(Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH))
}

/// Waits up to `timeout` for a process to go away.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A minimal HTTP/1.0 GET over loopback; returns (status, body).
pub fn http_get(base: &str, path: &str) -> (u16, String) {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).expect("connect to gatelog");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("status line");
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// A minimal HTTP/1.0 request with a body over loopback; returns (status, body).
pub fn http_post(base: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).expect("connect to gatelog");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut request = format!("POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("status line");
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}
