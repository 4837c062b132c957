//! The log's signing key file: one line, `PRIVATE+KEY+<origin>+<id>+<key>`,
//! readable by its owner only. The key's name is the log's origin.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::note::{NoteError, NoteSigner};

/// Problems with the signing key file, each saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// No file there.
    #[error("signing key {path} does not exist; create one with `gatelog keygen --out {path}`")]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Group or others can read it.
    #[error("signing key {path} is readable by others (mode {mode:04o}); run `chmod 600 {path}`")]
    Permissions {
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a key.
    #[error("signing key {path} is not a valid key: {source}")]
    Format { path: PathBuf, source: NoteError },
    /// Refusing to overwrite.
    #[error("{path} already exists; refusing to overwrite a signing key")]
    Exists { path: PathBuf },
    /// Any other I/O error.
    #[error("{action} signing key {path}: {source}")]
    Io {
        /// What we tried.
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads a signing key, refusing files others can read.
pub fn load(path: &Path) -> Result<NoteSigner, KeyFileError> {
    let text = read_private(path)?;
    NoteSigner::parse(&text).map_err(|source| KeyFileError::Format { path: path.to_path_buf(), source })
}

/// Reads a private key file's text (any kind of key), refusing files others can read.
pub fn read_private(path: &Path) -> Result<String, KeyFileError> {
    let meta = fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => KeyFileError::Missing { path: path.to_path_buf() },
        _ => KeyFileError::Io { action: "reading", path: path.to_path_buf(), source },
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions { path: path.to_path_buf(), mode });
    }
    fs::read_to_string(path).map_err(|source| KeyFileError::Io { action: "reading", path: path.to_path_buf(), source })
}

/// Writes a new random key for `origin` to `path` (mode 0600), never overwriting.
pub fn create(path: &Path, origin: &str) -> Result<NoteSigner, KeyFileError> {
    let signer =
        NoteSigner::generate(origin).map_err(|source| KeyFileError::Format { path: path.to_path_buf(), source })?;
    write_private(path, &signer.to_private_text())?;
    Ok(signer)
}

/// Writes a private key's text to a new file of mode 0600 (never overwriting one).
pub fn write_private(path: &Path, text: &str) -> Result<(), KeyFileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| KeyFileError::Io {
            action: "creating the directory of",
            path: path.to_path_buf(),
            source,
        })?;
    }
    // Written whole beside it, then linked in place: a crash leaves no key or all of it.
    crate::fsutil::create_atomically(path, format!("{text}\n").as_bytes(), 0o600).map_err(|source| {
        match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists { path: path.to_path_buf() },
            _ => KeyFileError::Io { action: "creating", path: path.to_path_buf(), source },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_private_and_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/log.key");
        let created = create(&path, "example.org/log").expect("create");
        assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let loaded = load(&path).expect("load");
        assert_eq!(loaded.verifier(), created.verifier());
        assert!(matches!(create(&path, "example.org/log"), Err(KeyFileError::Exists { .. })));
    }

    #[test]
    fn a_readable_key_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.key");
        create(&path, "example.org/log").expect("create");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let message = load(&path).expect_err("too open").to_string();
        assert!(message.contains("chmod 600"), "{message}");
    }

    #[test]
    fn garbage_and_absence_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.key");
        assert!(load(&path).expect_err("missing").to_string().contains("gatelog keygen"));
        fs::write(&path, "hello").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(matches!(load(&path), Err(KeyFileError::Format { .. })));
    }
}
