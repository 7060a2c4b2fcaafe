//! Saving a download to a file: the one path behind `netcore fetch -o` and
//! `netcore.urlretrieve` (`url::save`). The body goes to a temporary file in the target's
//! directory, renamed onto the target only once complete, so the target is the complete file
//! or untouched. The temporary file is removed on every failure, and also when SIGINT or
//! SIGTERM with their default action end the process mid-download: while a download runs, a
//! handler takes the place of the default action, removes the temporary files in flight and
//! then lets the signal end the process as it would have. Errors about the file name the
//! user's path, never the temporary one.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::SeqCst};

use crate::error::{Error, Result};

/// Downloads that may be in flight at once and still be cleaned up by a signal (more run,
/// but only these many are removed by the handler; every one is removed on failure).
const SLOTS: usize = 64;

/// The temporary files in flight, as C strings the signal handler can unlink.
static PENDING: [AtomicPtr<libc::c_char>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

/// Writes the file `path` with what `fill` writes (returning the byte count), through a
/// temporary file beside it. Returns the byte count.
pub fn save_to(path: &Path, fill: &mut dyn FnMut(&mut dyn Write) -> Result<u64>) -> Result<u64> {
    let file_error = |source: io::Error| Error::File { path: path.to_path_buf(), source };
    let tmp = temporary_name(path);
    let registered = Pending::register(&tmp);
    install_cleanup_handlers();
    let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o666).open(&tmp).map_err(file_error)?;
    let mut out = Tracked { file, failure: None };
    let result = match (fill(&mut out), out.failure.take()) {
        (Err(_), Some(write_failure)) => Err(file_error(write_failure)),
        (result, _) => result,
    };
    let result = result.and_then(|n| {
        out.file.sync_data().map_err(file_error)?;
        std::fs::rename(&tmp, path).map_err(file_error)?;
        Ok(n)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drop(registered);
    result
}

/// `.NAME.netcore-part-PID-N` beside `path`: hidden, unique within the process, and named
/// before it exists so a signal can never catch a file not yet registered.
fn temporary_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.netcore-part-{}-{}", std::process::id(), COUNTER.fetch_add(1, SeqCst)))
}

/// Removes the temporary file of every download in flight. For a process about to end
/// without running destructors (the Python face calls it at interpreter exit).
pub fn remove_pending() {
    take_and_unlink(&PENDING);
}

fn take_and_unlink(slots: &[AtomicPtr<libc::c_char>]) {
    for slot in slots {
        // Take the path out of its slot rather than read it: the download's own `Drop` then
        // finds the slot empty and frees nothing, so the path cannot be freed under this
        // unlink (a signal handler may run while another thread ends its download). The path
        // is left allocated: the process is ending.
        let p = slot.swap(std::ptr::null_mut(), SeqCst);
        if !p.is_null() {
            // SAFETY: `p` is a NUL-terminated path from CString::into_raw that only this call owns now.
            unsafe { libc::unlink(p) };
        }
    }
}

/// Remembers what `write` failed with, so a failed download can say it was the file.
struct Tracked {
    file: File,
    failure: Option<io::Error>,
}

impl Write for Tracked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf);
        if let Err(e) = &written {
            self.failure = Some(match e.raw_os_error() {
                Some(errno) => io::Error::from_raw_os_error(errno),
                None => io::Error::new(e.kind(), e.to_string()),
            });
        }
        written
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A temporary file registered for the signal handler; unregistered when dropped.
struct Pending(Option<usize>);

impl Pending {
    fn register(tmp: &Path) -> Pending {
        let Ok(c) = CString::new(tmp.as_os_str().as_bytes()) else { return Pending(None) };
        let raw = c.into_raw();
        for (i, slot) in PENDING.iter().enumerate() {
            if slot.compare_exchange(std::ptr::null_mut(), raw, SeqCst, SeqCst).is_ok() {
                return Pending(Some(i));
            }
        }
        // SAFETY: `raw` came from into_raw above and was not stored.
        drop(unsafe { CString::from_raw(raw) });
        Pending(None)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            let raw = PENDING[i].swap(std::ptr::null_mut(), SeqCst);
            if !raw.is_null() {
                // SAFETY: the pointer came from CString::into_raw in `register`.
                drop(unsafe { CString::from_raw(raw) });
            }
        }
    }
}

/// Puts the cleanup handler in place of the default action of SIGINT and SIGTERM (only where
/// the action is the default: a handler the program set stays, and must cancel the download
/// itself, as the Python face does for KeyboardInterrupt).
fn install_cleanup_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: plain sigaction calls with zero-initialised structs; the handler only calls
        // async-signal-safe functions (unlink, raise).
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) != 0 || current.sa_sigaction != libc::SIG_DFL {
                continue;
            }
            let mut cleanup: libc::sigaction = std::mem::zeroed();
            cleanup.sa_sigaction = on_fatal_signal as *const () as usize;
            // Back to the default action on entry, so the raise below ends the process.
            cleanup.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut cleanup.sa_mask);
            libc::sigaction(signal, &cleanup, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_fatal_signal(signal: libc::c_int) {
    remove_pending();
    // SAFETY: raise is async-signal-safe; the signal is blocked until this handler returns,
    // then its default action (restored by SA_RESETHAND) ends the process.
    unsafe { libc::raise(signal) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn the_file_appears_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let n = save_to(&target, &mut |out| {
            out.write_all(b"hello")?;
            assert_eq!(entries(dir.path()).len(), 1, "only the temporary file so far");
            assert!(!target.exists());
            Ok(5)
        })
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(std::fs::read(&target).unwrap(), b"hello");
        assert_eq!(entries(dir.path()), ["out.bin"]);
    }

    #[test]
    fn a_failure_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        std::fs::write(&target, b"old").unwrap();
        let err = save_to(&target, &mut |out| {
            out.write_all(b"partial")?;
            Err(Error::ConnectionClosed)
        })
        .unwrap_err();
        assert!(matches!(err, Error::ConnectionClosed), "{err:?}");
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["out.bin"]);
    }

    #[test]
    fn removing_takes_the_path_out_of_its_slot() {
        // On slots of its own: the real ones belong to downloads other tests run meanwhile.
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".out.bin.netcore-part");
        std::fs::write(&tmp, b"partial").unwrap();
        let slots = [const { AtomicPtr::new(std::ptr::null_mut()) }; 2];
        slots[1].store(CString::new(tmp.as_os_str().as_bytes()).unwrap().into_raw(), SeqCst);
        take_and_unlink(&slots);
        assert!(!tmp.exists());
        // Empty now, so the download's Drop frees nothing the unlink might still be reading.
        assert!(slots.iter().all(|s| s.load(SeqCst).is_null()));
    }

    #[test]
    fn file_errors_name_the_users_path() {
        let err = save_to(Path::new("/no/such/dir/out.bin"), &mut |_| Ok(0)).unwrap_err();
        assert_eq!(err.to_string(), "[Errno 2] No such file or directory: '/no/such/dir/out.bin'");
        // A write that fails (here /dev/full) is the file's error too, never [Errno 0].
        if Path::new("/dev/full").exists() {
            let mut full = Tracked { file: File::options().write(true).open("/dev/full").unwrap(), failure: None };
            assert!(full.write_all(&[0; 8192]).is_err());
            assert_eq!(full.failure.unwrap().raw_os_error(), Some(libc::ENOSPC));
        }
    }
}
