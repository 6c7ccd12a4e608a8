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
    #[error("'{}' is not a regular file ({what}); remove it and start again", lock.display())]
    NotALock { lock: PathBuf, what: &'static str },
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
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // A FIFO in its place would block the open for ever; a link could
    // point anywhere. Either is refused with the path named.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let not_a_lock = |what| StorageError::NotALock { lock: lock.clone(), what };
    let file = match options.open(&lock) {
        Ok(file) => file,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(not_a_lock("a symbolic link")),
        // A FIFO no process reads from.
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Err(not_a_lock("a FIFO")),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => return Err(not_a_lock("a directory")),
        Err(source) => return Err(StorageError::Write { path: lock, source }),
    };
    // A FIFO some process holds open, or a device, opens.
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(not_a_lock("a FIFO, device or directory"));
    }
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

/// The largest file read back from `--storage.path`. A kept day of 10,000
/// users with every collector on is a few megabytes; a file far past that
/// is not one this exporter wrote, and reading it whole (a link to
/// `/dev/zero`) would take all the memory there is.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// What a read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Nothing kept yet, which is not an error.
    Missing,
    Bytes(Vec<u8>),
    /// Not a file this exporter wrote: a symbolic link, a FIFO, a device, a
    /// directory, or one past [`MAX_FILE_BYTES`]. The caller moves it aside.
    Unusable(String),
}

/// The whole of `path`, if it is a regular file of at most
/// [`MAX_FILE_BYTES`]. Opened without following a link and without
/// blocking, so a FIFO in its place cannot hang the start.
pub fn read(path: &Path) -> Result<Read, StorageError> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Missing),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Read::Unusable("a symbolic link; only regular files are read".to_owned()));
        }
        Err(source) => return Err(StorageError::Read { path: path.to_owned(), source }),
    };
    let metadata = file.metadata().map_err(|source| StorageError::Read { path: path.to_owned(), source })?;
    if !metadata.is_file() {
        return Ok(Read::Unusable("not a regular file (a FIFO, device or directory)".to_owned()));
    }
    let too_large = || Read::Unusable(format!("larger than {} MiB", MAX_FILE_BYTES >> 20));
    if metadata.len() > MAX_FILE_BYTES {
        return Ok(too_large());
    }
    let mut bytes = Vec::with_capacity(metadata.len().min(MAX_FILE_BYTES) as usize);
    // Bounded by what is read too: the file may grow while it is read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| StorageError::Read { path: path.to_owned(), source })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(too_large());
    }
    Ok(Read::Bytes(bytes))
}

/// Writes `bytes` to `path` so that a crash at any point leaves either the
/// old file or the new one: a temporary file in the same directory, synced,
/// renamed over `path`, then the directory synced so the rename itself
/// survives a power cut.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, bytes, &std::fs::OpenOptions::new())
}

/// [`write_atomically`] for a secret: readable by this user alone from the
/// moment it exists, not after a `chmod`.
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    write_atomically_with(path, bytes, &options)
}

/// Marks the temporary file of a write: `.<name>.tmp-<pid>`.
const TEMP_MARK: &str = ".tmp-";

/// Whether `path` is the temporary file of a write that never finished (the
/// process was killed mid-write): the file it was to replace is whole, so
/// it is deleted, not taken for a damaged file.
pub fn is_unfinished_write(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') && n.contains(TEMP_MARK))
}

fn write_atomically_with(path: &Path, bytes: &[u8], options: &std::fs::OpenOptions) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let temp = dir.join(format!(".{name}{TEMP_MARK}{}", std::process::id()));
    let result = (|| {
        let mut file = options.clone().write(true).create(true).truncate(true).open(&temp)?;
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

    /// A FIFO named `lock` blocked the open, and the start, for ever.
    #[test]
    fn a_lock_that_is_a_fifo_or_a_link_fails_the_start_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        let error = lock(dir.path()).unwrap_err();
        assert!(error.to_string().contains("lock"), "{error}");
        assert!(error.to_string().contains("is not a regular file (a FIFO); remove it"), "{error}");
        // With a reader (another process holding it open), it opens:
        // still refused.
        let mut read_end = std::fs::OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::custom_flags(read_end.read(true), libc::O_NONBLOCK);
        let reader = read_end.open(&path).unwrap();
        let error = lock(dir.path()).unwrap_err().to_string();
        assert!(error.contains("is not a regular file (a FIFO, device or directory)"), "{error}");
        drop(reader);
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &path).unwrap();
        assert!(lock(dir.path()).is_err(), "a link is not followed");
        let error = lock(dir.path()).unwrap_err().to_string();
        assert!(error.contains("is not a regular file (a symbolic link)"), "{error}");
        assert!(!dir.path().join("elsewhere").exists());
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let error = lock(dir.path()).unwrap_err().to_string();
        assert!(error.contains("is not a regular file (a directory)"), "{error}");
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
    fn only_regular_files_up_to_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&dir.path().join("absent.json")).unwrap(), Read::Missing);
        let small = dir.path().join("small.json");
        std::fs::write(&small, b"{}").unwrap();
        assert_eq!(read(&small).unwrap(), Read::Bytes(b"{}".to_vec()));
        // Sparse: no disk is used, but reading it whole would fill memory.
        let huge = dir.path().join("huge.json");
        std::fs::File::create(&huge).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(matches!(read(&huge).unwrap(), Read::Unusable(r) if r.contains("larger than 256 MiB")));
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&small, &link).unwrap();
        assert!(matches!(read(&link).unwrap(), Read::Unusable(r) if r.contains("symbolic link")));
        assert!(matches!(read(dir.path()).unwrap(), Read::Unusable(r) if r.contains("not a regular file")));
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
