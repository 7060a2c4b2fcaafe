//! Unix stream socket files: created with mode 0600, a stale file from a dead server replaced
//! safely, a live server's file never taken over, and on stop only our own file removed.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// sun_path's size on Linux, NUL included.
const SUN_PATH_MAX: usize = 108;

/// The socket file a server created; removed on stop if it is still the same file.
pub(crate) struct UnixSocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl UnixSocketFile {
    pub fn remove(self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            // Another server may have replaced ours since: leave its file alone.
            if meta.dev() == self.dev && meta.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds a listening socket at `path`. An existing socket file with a server behind it gives
/// `EADDRINUSE`; one nobody answers on (a server that died) is replaced; any other kind of
/// file is never touched (`EEXIST`). The socket is bound under a temporary name, made 0600,
/// then renamed into place, so it is never reachable with looser permissions.
pub(crate) fn bind(path: &Path) -> Result<(UnixListener, UnixSocketFile)> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => return Err(Error::from_errno(libc::EADDRINUSE)),
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {} // stale: replaced below
            Err(e) => return Err(e.into()),
        },
        Ok(_) => {
            return Err(Error::InvalidArgument(format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let name =
        path.file_name().ok_or_else(|| Error::InvalidArgument(format!("{} is not a file path", path.display())))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    if tmp.as_os_str().len() >= SUN_PATH_MAX {
        // No room for the temporary name: bind in place and tighten the mode at once. The
        // file starts with the umask's mode (0755 by default), which already refuses other
        // users, since connecting to a socket file needs write permission.
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let meta = std::fs::symlink_metadata(path)?;
        listener.set_nonblocking(true)?;
        return Ok((listener, UnixSocketFile { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino() }));
    }
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp)?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|_| std::fs::rename(&tmp, path))
        .and_then(|_| std::fs::symlink_metadata(path));
    let meta = match placed {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    listener.set_nonblocking(true)?;
    Ok((listener, UnixSocketFile { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino() }))
}
