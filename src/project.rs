//! The files a user names (flows, `use:` partials, `body_file:`, `sign_with:`, checklists,
//! snapshots): read only when they are regular files of bounded size, and, for what a flow
//! names, only inside the project.
//!
//! The project is the working directory and the folders holding the flows named on the
//! command line (a flow file's own folder when a file is named). A flow that reaches outside
//! (`use: /proc/self/environ`, `body_file: ../../.ssh/id_rsa`) is refused unless the run says
//! `--allow-outside-project`. Errors name the file and the limit, never the file's content.
//! docs/src/security.md lists every limit.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest flow file (a partial included by `use:` too).
pub const MAX_FLOW_FILE_BYTES: u64 = 1 << 20;
/// The largest `body_file:`.
pub const MAX_BODY_FILE_BYTES: u64 = 4 << 20;
/// The largest key file (`sign_with:`).
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;
/// The largest checklist (`--checklist`).
pub const MAX_CHECKLIST_BYTES: u64 = 1 << 20;
/// The largest snapshot file (`.snap`, `.snap.new`).
pub const MAX_SNAPSHOT_BYTES: u64 = 8 << 20;
/// The largest card file (`--cards`).
pub const MAX_CARD_FILE_BYTES: u64 = 1 << 20;

/// Where the files a flow names may be.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// Canonical folders; empty means anywhere.
    roots: Vec<PathBuf>,
}

impl Project {
    /// The project of a run: `cwd` and the folders holding `flow_paths`. With `allow_outside`
    /// (`--allow-outside-project`), anywhere.
    pub fn new(cwd: &Path, flow_paths: &[PathBuf], allow_outside: bool) -> Project {
        if allow_outside {
            return Project::anywhere();
        }
        let folders = flow_paths.iter().map(|p| {
            let p = cwd.join(p);
            if p.is_dir() {
                p
            } else {
                p.parent()
                    .map_or_else(|| cwd.to_path_buf(), Path::to_path_buf)
            }
        });
        let mut roots: Vec<PathBuf> = std::iter::once(cwd.to_path_buf())
            .chain(folders)
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        roots.sort();
        roots.dedup();
        if roots.is_empty() {
            // Nothing resolved (a deleted working directory): refuse everything but nothing.
            roots.push(PathBuf::from("/nonexistent-apoflow-project"));
        }
        Project { roots }
    }

    /// No containment (library use, tests, `--allow-outside-project`).
    pub fn anywhere() -> Project {
        Project { roots: Vec::new() }
    }

    /// Checks that `path` (which must exist) is inside the project, symbolic links resolved.
    pub fn contains(&self, path: &Path) -> Result<(), InputError> {
        if self.roots.is_empty() {
            return Ok(());
        }
        let real = std::fs::canonicalize(path).map_err(InputError::Io)?;
        if self.roots.iter().any(|r| real.starts_with(r)) {
            Ok(())
        } else {
            Err(InputError::OutsideProject(self.roots.clone()))
        }
    }

    /// Reads a file a flow names: inside the project, regular, at most `limit` bytes, UTF-8.
    pub fn read_text(&self, path: &Path, limit: u64) -> Result<String, InputError> {
        check_regular(path, limit)?;
        self.contains(path)?;
        read_text(path, limit)
    }
}

/// Why a named file was not read. Never holds any of the file's content.
#[derive(Debug)]
pub enum InputError {
    /// It could not be opened or read.
    Io(std::io::Error),
    /// It is a folder, a FIFO, a device or a socket.
    NotAFile(&'static str),
    /// It is larger than the limit.
    TooBig {
        /// The limit, in bytes.
        limit: u64,
    },
    /// It is not text: not UTF-8, or it holds NUL bytes (`/proc/self/environ`).
    NotText,
    /// It resolves outside the project's folders.
    OutsideProject(Vec<PathBuf>),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(e) => write!(f, "{e}"),
            InputError::NotAFile(kind) => write!(f, "it is {kind}, not a regular file"),
            InputError::TooBig { limit } => {
                write!(f, "it is larger than the limit of {limit} bytes")
            }
            InputError::NotText => f.write_str("it is not text (not UTF-8, or NUL bytes)"),
            InputError::OutsideProject(roots) => {
                let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
                write!(
                    f,
                    "it is outside the project ({}); pass --allow-outside-project to allow it",
                    roots.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for InputError {}

/// Checks, without opening it (a FIFO would block), that `path` is a regular file of at most
/// `limit` bytes as far as its metadata tells.
pub fn check_regular(path: &Path, limit: u64) -> Result<(), InputError> {
    let meta = std::fs::metadata(path).map_err(InputError::Io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(InputError::NotAFile(if kind.is_dir() {
            "a folder"
        } else {
            "a FIFO, device or socket"
        }));
    }
    if meta.len() > limit {
        return Err(InputError::TooBig { limit });
    }
    Ok(())
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text without NUL bytes (a leading
/// byte-order mark is dropped). The size is checked while reading too: `/proc` files report a length of zero.
pub fn read_text(path: &Path, limit: u64) -> Result<String, InputError> {
    check_regular(path, limit)?;
    let file = std::fs::File::open(path).map_err(InputError::Io)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(InputError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooBig { limit });
    }
    // Never parsed, so never quoted in an error: a NUL-separated file is no flow.
    if bytes.contains(&0) {
        return Err(InputError::NotText);
    }
    let text = String::from_utf8(bytes).map_err(|_| InputError::NotText)?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_regular_text_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "\u{feff}name: a\n").unwrap();
        assert_eq!(read_text(&file, 100).unwrap(), "name: a\n");
        let e = read_text(&file, 4).unwrap_err();
        assert_eq!(e.to_string(), "it is larger than the limit of 4 bytes");
        let e = read_text(dir.path(), 100).unwrap_err();
        assert_eq!(e.to_string(), "it is a folder, not a regular file");
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&file, 100), Err(InputError::NotText)));
        std::fs::write(&file, "A=1\0B=2\0").unwrap();
        assert!(matches!(read_text(&file, 100), Err(InputError::NotText)));
        // A /proc file reports length 0 but is bounded while it is read.
        if Path::new("/proc/self/environ").exists() {
            let e = read_text(Path::new("/proc/self/status"), 16).unwrap_err();
            assert!(matches!(e, InputError::TooBig { limit: 16 }), "{e}");
        }
    }

    #[test]
    fn the_project_is_the_working_directory_and_the_flows_folders() {
        let dir = tempfile::tempdir().unwrap();
        let (cwd, flows, other) = (
            dir.path().join("cwd"),
            dir.path().join("flows"),
            dir.path().join("other"),
        );
        for d in [&cwd, &flows, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("f.json"), "{}").unwrap();
        }
        let project = Project::new(&cwd, std::slice::from_ref(&flows), false);
        assert!(project.contains(&cwd.join("f.json")).is_ok());
        assert!(project.contains(&flows.join("f.json")).is_ok());
        let e = project.contains(&other.join("f.json")).unwrap_err();
        assert!(e.to_string().contains("--allow-outside-project"), "{e}");
        // A symbolic link out of the project is followed, then refused.
        std::os::unix::fs::symlink(other.join("f.json"), cwd.join("link.json")).unwrap();
        assert!(project.read_text(&cwd.join("link.json"), 10).is_err());
        let anywhere = Project::new(&cwd, &[flows], true);
        assert_eq!(anywhere.read_text(&other.join("f.json"), 10).unwrap(), "{}");
    }
}
