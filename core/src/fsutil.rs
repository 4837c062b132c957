//! Files that survive a crash or power loss: written beside their target, synced, renamed
//! over it, and the directory synced so the rename itself is on disk. A reader sees the
//! old content or the new, never a torn file; a state that was written stays written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of threads of one process writing the same target.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` (or creates it) with `bytes` atomically and durably.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = write_temp(path, bytes, 0o666)?;
    let renamed = fs::rename(&temp, path);
    if renamed.is_err() {
        let _ = fs::remove_file(&temp);
    }
    renamed?;
    sync_parent(path)
}

/// Creates `path` holding `bytes`, with permission bits `mode`, atomically and durably;
/// fails with [`io::ErrorKind::AlreadyExists`] rather than replace an existing file. A
/// crash leaves no file or the whole one, never an empty one (for keys: no half-written key).
pub fn create_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let temp = write_temp(path, bytes, mode)?;
    // A hard link, unlike a rename, refuses to replace an existing target.
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    linked?;
    sync_parent(path)
}

/// Renames `from` to `to` (a file or a whole directory) and syncs the directories involved.
/// For a directory, the files directly in it are synced before it moves, so what appears at
/// `to` is complete.
pub fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    if from.is_dir() {
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                File::open(entry.path())?.sync_all()?;
            }
        }
        sync_dir(from)?;
    } else {
        File::open(from)?.sync_all()?;
    }
    fs::rename(from, to)?;
    sync_parent(to)?;
    match (from.parent(), to.parent()) {
        (Some(old), Some(new)) if old != new && !old.as_os_str().is_empty() => sync_dir(old),
        _ => Ok(()),
    }
}

/// Syncs a directory, so that entries created, renamed or removed in it are on disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Writes and syncs `bytes` to a new temporary file beside `path`; removes it on failure.
fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}-{}", std::process::id(), NEXT_TEMP.fetch_add(1, Ordering::Relaxed)));
    let temp = path.with_file_name(temp_name);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
    match written {
        Ok(()) => Ok(temp),
        Err(error) => {
            let _ = fs::remove_file(&temp);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).expect("list").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomically_creates_then_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        write_atomically(&path, b"first").expect("create");
        assert_eq!(fs::read(&path).expect("read"), b"first");
        write_atomically(&path, b"second, longer").expect("replace");
        assert_eq!(fs::read(&path).expect("read"), b"second, longer");
        write_atomically(&path, b"3").expect("replace with shorter");
        assert_eq!(fs::read(&path).expect("read"), b"3");
        assert_eq!(names(dir.path()), ["state.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        write_atomically(&path, b"kept").expect("create");
        // The target is a non-empty directory: the rename fails after the temporary file was written.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).expect("mkdir");
        fs::write(blocked.join("inside"), "x").expect("write");
        write_atomically(&blocked, b"new").expect_err("cannot replace a directory");
        assert_eq!(fs::read(&path).expect("read"), b"kept");
        assert_eq!(names(dir.path()), ["blocked", "state.json"]);
        write_atomically(&dir.path().join("missing/state.json"), b"x").expect_err("no such directory");
    }

    #[test]
    fn create_atomically_never_replaces_and_sets_the_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("signing.key");
        create_atomically(&path, b"secret", 0o600).expect("create");
        assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let error = create_atomically(&path, b"other", 0o600).expect_err("exists");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).expect("read"), b"secret");
        assert_eq!(names(dir.path()), ["signing.key"]);
    }

    /// Issue 15: every file Gatelog replaces goes through this module; a bare rename would
    /// replace it without syncing it or its directory (the witness, monitor and import states
    /// and the published snapshots all did).
    #[test]
    fn nothing_else_renames_files() {
        fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in fs::read_dir(dir).expect("list").map(|e| e.expect("entry")) {
                let path = entry.path();
                if path.is_dir() {
                    rust_files(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        // The workspace root, one above this crate.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
        let mut files = Vec::new();
        for dir in ["src", "core/src", "ingest/src"] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 50, "the sources were not found under {}", root.display());
        let this = root.join("core/src/fsutil.rs");
        let renaming: Vec<String> = files
            .iter()
            .filter(|path| **path != this)
            .filter(|path| fs::read_to_string(path).expect("read").contains("fs::rename("))
            .map(|path| path.strip_prefix(root).unwrap_or(path).display().to_string())
            .collect();
        assert!(renaming.is_empty(), "use fsutil instead of fs::rename in {renaming:?}");
    }

    #[test]
    fn rename_durably_moves_a_directory_with_its_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staging = dir.path().join(".out.partial");
        fs::create_dir(&staging).expect("mkdir");
        fs::write(staging.join("a.csv"), "1\n").expect("write");
        let out = dir.path().join("out");
        rename_durably(&staging, &out).expect("rename");
        assert_eq!(fs::read(out.join("a.csv")).expect("read"), b"1\n");
        assert_eq!(names(dir.path()), ["out"]);
    }
}
