//! `gatelog backup` and `gatelog restore`: a consistent `pg_dump` of the whole
//! database (one snapshot: entries, tree nodes, checkpoints, providers, tokens'
//! hashes, obligations), with the log's verifier key and latest checkpoint beside
//! it, and its restore into an empty database, all or nothing. `gatelog verify
//! log --vkey "$(cat FILE.vkey)"` then proves the restored log is the one that was backed up.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::PgPool;

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The PostgreSQL client tools are missing.
    #[error(
        "{0} not found in {1}: install PostgreSQL's client tools (apt-get install postgresql-client) or set GATELOG_PG_BINDIR"
    )]
    MissingTool(&'static str, PathBuf),
    /// The tool ran and failed.
    #[error("{tool} failed: {stderr}")]
    Tool {
        /// Which tool.
        tool: &'static str,
        /// What it said.
        stderr: String,
    },
    /// Restoring over existing data is refused.
    #[error("the target database already holds {0} ledger entries or providers; restore only into an empty database")]
    NotEmpty(u64),
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// libpq connection arguments for the pool's database: the URL given by the operator,
/// or the embedded cluster's socket.
pub fn conninfo(pool: &PgPool, database_url: Option<&str>) -> Vec<String> {
    if let Some(url) = database_url.filter(|u| !u.is_empty()) {
        return vec![format!("--dbname={url}")];
    }
    let options = pool.connect_options();
    let host = options.get_socket().map_or_else(|| options.get_host().to_owned(), |s| s.display().to_string());
    vec![
        "--host".into(),
        host,
        "--port".into(),
        options.get_port().to_string(),
        "--username".into(),
        options.get_username().to_owned(),
        "--dbname".into(),
        options.get_database().unwrap_or("postgres").to_owned(),
    ]
}

/// `name` from the server's binary directory, else PATH, else the newest /usr/lib/postgresql/*/bin.
fn tool(bindir: &Path, name: &'static str) -> Result<PathBuf, BackupError> {
    let mut candidates = vec![bindir.join(name)];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(name)));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin").join(name)).collect())
        .unwrap_or_default();
    versions.sort();
    candidates.extend(versions.into_iter().rev());
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| BackupError::MissingTool(name, bindir.to_owned()))
}

fn run(tool_name: &'static str, mut command: Command) -> Result<(), BackupError> {
    let output = command.output().map_err(|e| BackupError::Tool { tool: tool_name, stderr: e.to_string() })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BackupError::Tool { tool: tool_name, stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned() })
    }
}

/// The files a backup writes beside `out`: the verifier key and the latest checkpoint.
pub fn side_files(out: &Path) -> (PathBuf, PathBuf) {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("gatelog-backup");
    (out.with_file_name(format!("{name}.vkey")), out.with_file_name(format!("{name}.checkpoint")))
}

/// Dumps the database to `out` (pg_dump custom format, one consistent snapshot) and writes
/// the verifier key and the latest signed checkpoint beside it. Returns the tree size.
pub async fn backup(
    pool: &PgPool,
    conninfo: &[String],
    bindir: &Path,
    out: &Path,
    vkey: &str,
) -> Result<u64, BackupError> {
    let pg_dump = tool(bindir, "pg_dump")?;
    let mut conn = pool.acquire().await?;
    let checkpoint = crate::db::ledger::latest_checkpoint(&mut conn).await?;
    drop(conn);
    let mut command = Command::new(pg_dump);
    command.args(["--format=custom", "--no-owner", "--no-privileges", "--file"]).arg(out).args(conninfo);
    run("pg_dump", command)?;
    let (vkey_path, checkpoint_path) = side_files(out);
    let write = |path: &Path, text: &str| {
        crate::fsutil::write_atomically(path, text.as_bytes())
            .map_err(|e| BackupError::File { path: path.to_owned(), reason: e.to_string() })
    };
    write(&vkey_path, &format!("{vkey}\n"))?;
    let (size, note) = checkpoint.map_or((0, String::new()), |c| (c.size, c.note));
    write(&checkpoint_path, &note)?;
    Ok(size)
}

/// Restores a backup into the pool's database, which must hold no entries and no
/// providers; one transaction, so a failed restore leaves it as it was.
pub async fn restore(pool: &PgPool, conninfo: &[String], bindir: &Path, file: &Path) -> Result<u64, BackupError> {
    let pg_restore = tool(bindir, "pg_restore")?;
    if !file.exists() {
        return Err(BackupError::File { path: file.to_owned(), reason: "no such file".into() });
    }
    let existing = {
        let mut conn = pool.acquire().await?;
        crate::db::ledger::count_entries(&mut conn).await? + crate::db::providers::count_all(&mut conn).await?
    };
    if existing > 0 {
        return Err(BackupError::NotEmpty(existing));
    }
    let mut command = Command::new(pg_restore);
    command.args([
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
    ]);
    command.args(conninfo).arg(file);
    run("pg_restore", command)?;
    Ok(crate::db::ledger::count_entries(&mut *pool.acquire().await?).await?)
}
