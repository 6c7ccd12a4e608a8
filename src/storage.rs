//! `--storage.path` as a place on disk, apart from what is kept in it.
//!
//! The counters' ledger ([`crate::ledger`]) and the kept days
//! ([`crate::days`]) both keep files in that directory, and both need the
//! same care: one exporter per directory, writes that a crash or power cut
//! cannot leave half done, and an unreadable file moved aside (never
//! overwritten) so the operator can still repair it. Written once here, the
//! two stores cannot drift apart on any of these, and each keeps only its
//! own file layout. This module knows nothing of either layout, so it
//! imports neither.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// Why a file in `--storage.path` could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot create --storage.path '{path}': {source}; check that the directory is writable")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot read '{path}': {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write '{path}': {source}; counters do not advance until it can be written")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot move the unreadable state file '{path}' aside: {source}")]
    MoveAside { path: PathBuf, source: std::io::Error },
    #[error(
        "another gong-exporter is using --storage.path '{}' (it holds '{}'): two exporters on one directory would overwrite each other's counters; give each its own directory",
        dir.display(), lock.display()
    )]
    Locked { dir: PathBuf, lock: PathBuf },
}

/// The lock file in `--storage.path`.
const LOCK_FILE: &str = "lock";

/// Creates `dir` and its parents when missing.
pub fn create_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir { path: dir.to_owned(), source })
}

/// Takes `<storage>/lock` for this process: a second exporter on the same
/// directory fails at start instead of racing on the state files. The lock
/// is the operating system's (released when the process ends, even killed),
/// so a stale lock file never blocks a restart.
pub fn lock(dir: &Path) -> Result<std::fs::File, StorageError> {
    create_dir(dir)?;
    let lock = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|source| StorageError::Write { path: lock.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StorageError::Locked { dir: dir.to_owned(), lock }),
        // Some network and FUSE file systems have no locks: run unguarded
        // rather than not at all, and say so.
        Err(std::fs::TryLockError::Error(error)) if error.kind() == std::io::ErrorKind::Unsupported => {
            tracing::warn!(file = %lock.display(), %error, "--storage.path cannot be locked on this file system; make sure no other exporter uses it");
            Ok(file)
        }
        Err(std::fs::TryLockError::Error(source)) => Err(StorageError::Write { path: lock, source }),
    }
}

/// The whole of `path`, or `None` when it does not exist (nothing kept yet,
/// which is not an error).
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StorageError::Read { path: path.to_owned(), source }),
    }
}

/// Writes `bytes` to `path` so that a crash at any point leaves either the
/// old file or the new one: a temporary file in the same directory, synced,
/// renamed over `path`, then the directory synced so the rename itself
/// survives a power cut.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Moves the unreadable `path` to `<path>.corrupt-<unix seconds>` and logs
/// a warning with `reason` and `message` (what happens instead). Moved, not
/// deleted or overwritten: the operator may still repair it by hand, and
/// the timestamp keeps an earlier one from being replaced. The caller
/// decides whether a failed move stops it, so it is logged either way.
pub fn move_aside(path: &Path, reason: &str, message: &str) -> Result<PathBuf, StorageError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{}", Timestamp::now().as_second()));
    let aside = PathBuf::from(aside);
    let moved = std::fs::rename(path, &aside);
    tracing::warn!(
        file = %path.display(),
        moved_to = %aside.display(),
        moved = moved.is_ok(),
        %reason,
        "{message}"
    );
    moved.map(|()| aside).map_err(|source| StorageError::MoveAside { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_of_the_storage_lock_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let error = lock(dir.path()).unwrap_err();
        assert!(matches!(error, StorageError::Locked { .. }), "{error}");
        assert!(error.to_string().contains("another gong-exporter is using --storage.path"), "{error}");
        drop(first);
        assert!(lock(dir.path()).is_ok(), "released with its holder");
    }

    #[test]
    fn atomic_write_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"first version, longer").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&dir.path().join("absent.json")).unwrap(), None);
    }

    #[test]
    fn an_unreadable_file_is_moved_aside_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("counters.json");
        std::fs::write(&path, b"{not json").unwrap();
        let aside = move_aside(&path, "test", "moved").unwrap();
        assert!(!path.exists());
        let name = aside.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("counters.json.corrupt-"), "{name}");
        assert_eq!(std::fs::read(&aside).unwrap(), b"{not json");
        let error = move_aside(&path, "test", "moved").unwrap_err();
        assert!(matches!(error, StorageError::MoveAside { .. }), "{error}");
    }
}
