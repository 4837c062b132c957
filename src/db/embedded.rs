//! The private PostgreSQL cluster Gatelog runs when no `DATABASE_URL` is given.
//!
//! Layout under the data directory:
//!
//! ```text
//! <data-dir>/gatelog.lock     held (flock) by the one gatelog process using this directory
//! <data-dir>/pg/data/         PGDATA, created once by initdb
//! <data-dir>/pg/socket/       the cluster's only listening socket (no TCP port)
//! <data-dir>/pg/postgres.log  the server's own log
//! ```
//!
//! The code is synchronous on purpose: it runs once at start-up and once at
//! shutdown, and the test harness drives it from plain threads.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User, chown};
use sqlx::postgres::PgConnectOptions;

/// The superuser initdb creates; fixed so the role name does not depend on who ran initdb.
pub const SUPERUSER: &str = "postgres";
/// Port number used only to name the socket file (`.s.PGSQL.5432`); no TCP port is opened.
const SOCKET_PORT: u16 = 5432;
/// Unix socket paths are limited to 108 bytes including the file name PostgreSQL appends.
const MAX_SOCKET_DIR_LEN: usize = 90;
/// How long `pg_ctl start` may take before we give up (first start runs crash recovery).
const START_TIMEOUT_SECS: u32 = 120;
/// How long a fast shutdown may take before we escalate to an immediate one.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// The binaries every embedded cluster needs.
const REQUIRED_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Everything that can go wrong while running the private cluster, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No directory with initdb, pg_ctl and postgres was found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in {searched}. \
         Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql@16`), \
         set GATELOG_PG_BINDIR to their directory, or set DATABASE_URL to use an existing server"
    )]
    NotInstalled {
        /// The directories that were searched, for the message.
        searched: String,
    },
    /// The data directory could not be created or written.
    #[error("data directory {path} is not writable ({source}); pass a writable --data-dir or set GATELOG_DATA_DIR")]
    DataDirNotWritable {
        /// The offending directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// Running as root, but the `postgres` user cannot reach the data directory.
    #[error(
        "running as root, the cluster must run as the `postgres` user, which cannot enter {path}; \
         choose a --data-dir outside it (for example /var/lib/gatelog)"
    )]
    NotTraversable {
        /// The first directory on the way that blocks the `postgres` user.
        path: PathBuf,
    },
    /// Running as root and there is no `postgres` user to run the server as.
    #[error(
        "running as root, but there is no `postgres` system user to run PostgreSQL as; install the postgresql package or run gatelog as an ordinary user"
    )]
    NoPostgresUser,
    /// Another gatelog process holds the data directory.
    #[error(
        "another gatelog is already running on data directory {path}{holder}; stop it first or pass a different --data-dir"
    )]
    AlreadyRunning {
        /// The data directory.
        path: PathBuf,
        /// " (pid N)" when the holder's pid is known.
        holder: String,
    },
    /// The socket path would be too long for a unix socket.
    #[error(
        "data directory path {path} is too long for a unix socket (limit {MAX_SOCKET_DIR_LEN} bytes); choose a shorter --data-dir"
    )]
    PathTooLong {
        /// The socket directory that is too long.
        path: PathBuf,
    },
    /// A PostgreSQL tool failed; its output is in the message.
    #[error("{tool} failed: {detail}; see {log}")]
    ToolFailed {
        /// Which tool (initdb, pg_ctl start, ...).
        tool: String,
        /// Its stderr or exit status.
        detail: String,
        /// Where its log is.
        log: PathBuf,
    },
    /// Any other I/O failure, with the path it concerns.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
}

/// A running private cluster. Call [`EmbeddedCluster::stop`] to shut it down cleanly.
#[derive(Debug)]
pub struct EmbeddedCluster {
    bindir: PathBuf,
    pg_root: PathBuf,
    run_as: Option<User>,
    /// Held for as long as this value lives; released on drop.
    _lock: Flock<File>,
    stopped: bool,
}

impl EmbeddedCluster {
    /// Starts (creating on first use) the cluster under `data_dir`.
    pub fn start(data_dir: &Path, bindir_override: Option<&Path>) -> Result<Self, EmbeddedError> {
        let bindir = find_bindir(bindir_override)?;
        create_dir(data_dir)?;
        let lock = lock_data_dir(data_dir)?;

        let run_as = if Uid::effective().is_root() {
            Some(User::from_name(SUPERUSER).ok().flatten().ok_or(EmbeddedError::NoPostgresUser)?)
        } else {
            None
        };
        let pg_root = data_dir.join("pg");
        let cluster = Self { bindir, pg_root, run_as, _lock: lock, stopped: false };
        cluster.prepare_dirs(data_dir)?;
        if !cluster.pgdata().join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        cluster.clear_leftover_server()?;
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    /// Connection options for the cluster's superuser over the private socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new().socket(self.socket_dir()).port(SOCKET_PORT).username(SUPERUSER).database(database)
    }

    /// The directory holding the cluster's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.pg_root.join("socket")
    }

    /// The PostgreSQL data directory (PGDATA).
    pub fn pgdata(&self) -> PathBuf {
        self.pg_root.join("data")
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.pg_root.join("postgres.log")
    }

    /// The postmaster's pid, read from `postmaster.pid`, if the file exists.
    pub fn postmaster_pid(&self) -> Option<i32> {
        read_postmaster_pid(&self.pgdata())
    }

    /// Stops the server with a fast shutdown (active sessions are rolled back,
    /// then a checkpoint is written), escalating to an immediate shutdown if it hangs.
    pub fn stop(mut self) -> Result<(), EmbeddedError> {
        self.stopped = true;
        stop_postmaster(&self.pgdata())
    }

    fn prepare_dirs(&self, data_dir: &Path) -> Result<(), EmbeddedError> {
        let socket_dir = self.socket_dir();
        if socket_dir.as_os_str().len() > MAX_SOCKET_DIR_LEN {
            return Err(EmbeddedError::PathTooLong { path: socket_dir });
        }
        for dir in [&self.pg_root, &socket_dir] {
            create_dir(dir)?;
            set_mode(dir, 0o700)?;
        }
        if let Some(user) = &self.run_as {
            // The postgres user only needs to pass through the data directory,
            // not to list it: 0711 on our own directory, and a check of every parent.
            let meta = fs::metadata(data_dir).map_err(io_err("reading", data_dir))?;
            set_mode(data_dir, meta.mode() | 0o711)?;
            check_traversable(data_dir, user)?;
            chown_tree(&self.pg_root, user)?;
        }
        Ok(())
    }

    fn initdb(&self) -> Result<(), EmbeddedError> {
        tracing::info!(pgdata = %self.pgdata().display(), "creating the embedded PostgreSQL cluster (initdb)");
        // Trust is safe here: the only way in is a socket in a 0700 directory.
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(self.pgdata())
            .args([
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=reject",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ])
            .output()
            .map_err(io_err("running initdb in", &self.pgdata()))?;
        if !output.status.success() {
            // A half-initialised directory would block every later start.
            let _ = fs::remove_dir_all(self.pgdata());
            return Err(EmbeddedError::ToolFailed {
                tool: "initdb".into(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
                log: self.pgdata(),
            });
        }
        Ok(())
    }

    /// Handles a `postmaster.pid` left by a crash. We hold the data-dir lock, so no
    /// other gatelog owns this cluster: a live postmaster is an orphan of a killed
    /// gatelog (stop it cleanly), and a pid that is not a postmaster is stale.
    fn clear_leftover_server(&self) -> Result<(), EmbeddedError> {
        let pgdata = self.pgdata();
        let Some(pid) = read_postmaster_pid(&pgdata) else {
            return Ok(());
        };
        if is_postmaster_for(pid, &pgdata) {
            tracing::warn!(pid, "a PostgreSQL server left by an earlier gatelog is still running; stopping it");
            stop_postmaster(&pgdata)
        } else {
            tracing::warn!(pid, "removing stale postmaster.pid left by a crash");
            let pid_file = pgdata.join("postmaster.pid");
            fs::remove_file(&pid_file).map_err(io_err("removing", &pid_file))?;
            // The socket's lock file names the same dead postmaster. PostgreSQL checks that pid
            // with kill(0), which succeeds on a zombie nobody has reaped (a container whose init
            // does not reap): it would refuse to start, so the lock goes too.
            let socket = self.socket_dir().join(format!(".s.PGSQL.{SOCKET_PORT}"));
            let lock = self.socket_dir().join(format!(".s.PGSQL.{SOCKET_PORT}.lock"));
            let lock_pid = fs::read_to_string(&lock).ok().and_then(|t| t.lines().next()?.trim().parse::<i32>().ok());
            if lock_pid.is_some_and(|p| !is_postmaster_for(p, &pgdata)) {
                let _ = fs::remove_file(&lock);
                let _ = fs::remove_file(&socket);
            }
            Ok(())
        }
    }

    fn pg_ctl_start(&self) -> Result<(), EmbeddedError> {
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700 -c port={SOCKET_PORT}",
            self.socket_dir().display()
        );
        let output = self
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(self.pgdata())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", &START_TIMEOUT_SECS.to_string(), "-o", &options])
            // pg_ctl's daemonised server inherits these; keep it off our terminal.
            .stdin(Stdio::null())
            // Its own process group: a Ctrl-C at the terminal reaches gatelog only,
            // which then drains requests before stopping the server in order.
            .process_group(0)
            .output()
            .map_err(io_err("running pg_ctl start in", &self.pgdata()))?;
        if !output.status.success() {
            return Err(EmbeddedError::ToolFailed {
                tool: "pg_ctl start".into(),
                detail: last_lines(&self.log_file(), &output.stderr),
                log: self.log_file(),
            });
        }
        Ok(())
    }

    fn command(&self, tool: &str) -> Command {
        let mut command = Command::new(self.bindir.join(tool));
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(user) = &self.run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw()).current_dir(&self.pg_root);
            command.env("HOME", &user.dir).env("USER", SUPERUSER);
        }
        command
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        // Error paths in the caller must not leave a server behind.
        if !self.stopped
            && let Err(error) = stop_postmaster(&self.pgdata())
        {
            tracing::error!(%error, "could not stop the embedded PostgreSQL server");
        }
    }
}

/// Connection options for a cluster another gatelog process runs in `data_dir`,
/// if its socket is there.
pub fn running_cluster_options(data_dir: &Path, database: &str) -> Option<PgConnectOptions> {
    let socket_dir = data_dir.join("pg").join("socket");
    socket_dir
        .join(format!(".s.PGSQL.{SOCKET_PORT}"))
        .exists()
        .then(|| PgConnectOptions::new().socket(&socket_dir).port(SOCKET_PORT).username(SUPERUSER).database(database))
}

/// Finds a directory holding initdb, pg_ctl and postgres.
///
/// Search order: an explicit override, `PATH`, `pg_config --bindir`, then
/// `/usr/lib/postgresql/<version>/bin` (Debian), newest version first.
pub fn find_bindir(bindir_override: Option<&Path>) -> Result<PathBuf, EmbeddedError> {
    let candidates = match bindir_override {
        Some(dir) => vec![dir.to_path_buf()],
        None => default_candidates(),
    };
    first_complete_bindir(&candidates)
}

/// Returns the first candidate containing every required binary.
pub fn first_complete_bindir(candidates: &[PathBuf]) -> Result<PathBuf, EmbeddedError> {
    candidates.iter().find(|dir| REQUIRED_BINARIES.iter().all(|tool| dir.join(tool).is_file())).cloned().ok_or_else(
        || EmbeddedError::NotInstalled {
            searched: if candidates.is_empty() {
                "(no candidate directories)".into()
            } else {
                candidates.iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>().join(", ")
            },
        },
    )
}

fn default_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> =
        std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect()).unwrap_or_default();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output()
        && output.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    debian.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    candidates.extend(debian.into_iter().map(|(_, dir)| dir));
    candidates
}

fn create_dir(dir: &Path) -> Result<(), EmbeddedError> {
    fs::create_dir_all(dir).map_err(|source| EmbeddedError::DataDirNotWritable { path: dir.to_path_buf(), source })
}

fn set_mode(path: &Path, mode: u32) -> Result<(), EmbeddedError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("setting permissions on", path))
}

/// Takes the data directory's exclusive lock, or says who holds it.
fn lock_data_dir(data_dir: &Path) -> Result<Flock<File>, EmbeddedError> {
    let path = data_dir.join("gatelog.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| EmbeddedError::DataDirNotWritable { path: data_dir.to_path_buf(), source })?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut lock) => {
            // Record our pid so a second instance can name us.
            lock.set_len(0).map_err(io_err("writing", &path))?;
            write!(lock, "{}", std::process::id()).map_err(io_err("writing", &path))?;
            Ok(lock)
        }
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            let holder = fs::read_to_string(&path).ok().map(|pid| format!(" (pid {})", pid.trim())).unwrap_or_default();
            Err(EmbeddedError::AlreadyRunning { path: data_dir.to_path_buf(), holder })
        }
        Err((_, errno)) => Err(EmbeddedError::Io { action: "locking", path, source: errno.into() }),
    }
}

/// Checks that `user` can traverse every directory from `/` down to `dir`.
fn check_traversable(dir: &Path, user: &User) -> Result<(), EmbeddedError> {
    let absolute = fs::canonicalize(dir).map_err(io_err("resolving", dir))?;
    for ancestor in absolute.ancestors() {
        let meta = fs::metadata(ancestor).map_err(io_err("reading", ancestor))?;
        let mode = meta.mode();
        let allowed = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !allowed {
            return Err(EmbeddedError::NotTraversable { path: ancestor.to_path_buf() });
        }
    }
    Ok(())
}

fn chown_tree(dir: &Path, user: &User) -> Result<(), EmbeddedError> {
    chown(dir, Some(user.uid), Some(user.gid)).map_err(|errno| EmbeddedError::Io {
        action: "changing owner of",
        path: dir.to_path_buf(),
        source: errno.into(),
    })?;
    for entry in fs::read_dir(dir).map_err(io_err("listing", dir))? {
        let entry = entry.map_err(io_err("listing", dir))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(io_err("reading", &path))?;
        if meta.uid() == user.uid.as_raw() {
            continue; // already handed over (PGDATA after initdb)
        }
        if meta.is_dir() {
            chown_tree(&path, user)?;
        } else {
            chown(&path, Some(user.uid), Some(user.gid)).map_err(|errno| EmbeddedError::Io {
                action: "changing owner of",
                path: path.clone(),
                source: errno.into(),
            })?;
        }
    }
    Ok(())
}

fn read_postmaster_pid(pgdata: &Path) -> Option<i32> {
    let contents = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    contents.lines().next()?.trim().parse().ok()
}

/// True if `pid` is a running postgres process serving `pgdata` (not a reused pid).
fn is_postmaster_for(pid: i32, pgdata: &Path) -> bool {
    if !process_alive(pid) {
        return false;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        // No /proc (macOS): trust the pid file if the process exists.
        return true;
    };
    let args: Vec<String> = cmdline.split(|b| *b == 0).map(|arg| String::from_utf8_lossy(arg).into_owned()).collect();
    let is_postgres = args.first().is_some_and(|exe| exe.ends_with("postgres") || exe.ends_with("postmaster"));
    let canonical = fs::canonicalize(pgdata).unwrap_or_else(|_| pgdata.to_path_buf());
    is_postgres && args.iter().any(|arg| Path::new(arg) == pgdata || Path::new(arg) == canonical)
}

fn process_alive(pid: i32) -> bool {
    // EPERM means it exists but belongs to someone else.
    !matches!(kill(Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH))
}

/// Signals the postmaster directly (pg_ctl refuses to run as root): SIGINT is
/// PostgreSQL's "fast" shutdown; SIGQUIT the "immediate" one if fast hangs.
fn stop_postmaster(pgdata: &Path) -> Result<(), EmbeddedError> {
    let Some(pid) = read_postmaster_pid(pgdata) else {
        return Ok(());
    };
    if !process_alive(pid) {
        return Ok(());
    }
    let pid = Pid::from_raw(pid);
    let _ = kill(pid, Signal::SIGINT);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while process_alive(pid.as_raw()) {
        if Instant::now() > deadline {
            tracing::warn!(pid = pid.as_raw(), "fast shutdown timed out; sending immediate shutdown");
            let _ = kill(pid, Signal::SIGQUIT);
            std::thread::sleep(Duration::from_secs(2));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn last_lines(log: &Path, stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr).trim().to_string();
    let tail = fs::read_to_string(log)
        .map(|text| text.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | "))
        .unwrap_or_default();
    [stderr, tail].into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" | ")
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> EmbeddedError + 'a {
    move |source| EmbeddedError::Io { action, path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_name_what_to_install() {
        let empty = tempfile::tempdir().expect("tempdir");
        let error = first_complete_bindir(&[empty.path().to_path_buf()]).expect_err("no binaries there");
        let message = error.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(message.contains(&empty.path().display().to_string()), "{message}");
    }

    #[test]
    fn a_directory_with_all_three_binaries_is_chosen() {
        let incomplete = tempfile::tempdir().expect("tempdir");
        let complete = tempfile::tempdir().expect("tempdir");
        for tool in REQUIRED_BINARIES {
            fs::write(complete.path().join(tool), "").expect("write");
        }
        fs::write(incomplete.path().join("initdb"), "").expect("write");
        let chosen =
            first_complete_bindir(&[incomplete.path().to_path_buf(), complete.path().to_path_buf()]).expect("found");
        assert_eq!(chosen, complete.path());
    }

    #[test]
    fn a_second_lock_on_the_same_directory_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _held = lock_data_dir(dir.path()).expect("first lock");
        let error = lock_data_dir(dir.path()).expect_err("second lock must fail");
        assert!(error.to_string().contains("already running"), "{error}");
        assert!(error.to_string().contains(&std::process::id().to_string()), "{error}");
    }

    #[test]
    fn a_pid_that_is_not_a_postmaster_is_treated_as_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Our own pid is alive but is not a postgres serving this directory.
        assert!(!is_postmaster_for(std::process::id() as i32, dir.path()));
    }
}
