//! Path confinement for `files` streams: a path the server sends is resolved here, on the
//! agent, and must stay inside every allowed root that is set (the agent's own
//! `files_root` and the root the server sends).
//!
//! How a path is resolved:
//! 1. Refused outright: a NUL byte, a UNC path (`\\server\share`, `//server/share`), and on
//!    other systems than Windows a drive path (`C:\x`).
//! 2. `/` and `\` are both separators (on every OS, so `..\x` is a traversal here too);
//!    the path is made absolute (relative paths start at the server's root, else the
//!    agent's, else `$HOME`, else `/`) and `.`/`..` are applied lexically; `..` above
//!    `/` is refused.
//! 3. With a root set, the deepest part of the path that exists is canonicalized (so a
//!    symlink anywhere in it is followed), the rest appended, and the result must lie
//!    under every canonical root. The remainder has no `..` and does not exist, so it
//!    cannot leave the root. With `follow_last = false` (stat, rename, delete) the last
//!    component itself is not followed: a symlink is then the object itself.
//!
//! Files are opened with [`Confinement::open`]: `O_NOFOLLOW` on the resolved (canonical)
//! path, so a symlink put in place of the last component after the check is refused; and
//! on Linux, with a root set, the kernel resolves the path again beneath the deepest root
//! (`openat2` with `RESOLVE_BENEATH`), so a directory on the way swapped for a symlink
//! after the check cannot lead out either.

use breeze_proto::agent::remote_files::{FileError, FileErrorCode};
use std::fs::{File, OpenOptions};
use std::path::{Component, Path, PathBuf};

/// How [`Confinement::open`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Write; `create` creates the file or truncates it.
    Write {
        create: bool,
    },
}

/// The roots a `files` stream is confined to.
#[derive(Clone, Debug)]
pub struct Confinement {
    /// Canonical roots; empty means no limit.
    roots: Vec<PathBuf>,
    /// Where relative paths start.
    base: PathBuf,
}

fn invalid(field: &str, msg: impl Into<String>) -> FileError {
    FileError::new(FileErrorCode::InvalidPath, msg).field(field)
}

fn outside(field: &str) -> FileError {
    FileError::new(
        FileErrorCode::OutsideRoot,
        "the path leaves the allowed root of this device",
    )
    .field(field)
}

/// The parts of a path string: whether it is absolute (and its prefix, on Windows) and
/// its components split on both separators, `.` and empty ones dropped.
struct Parsed<'a> {
    absolute: Option<PathBuf>,
    parts: Vec<&'a str>,
}

fn parse<'a>(raw: &'a str, field: &str) -> Result<Parsed<'a>, FileError> {
    if raw.contains('\0') {
        return Err(invalid(field, "the path contains a NUL byte"));
    }
    if raw.len() > 4096 {
        return Err(invalid(field, "the path is longer than 4096 bytes"));
    }
    let is_sep = |c: char| c == '/' || c == '\\';
    let mut chars = raw.chars();
    let (c0, c1) = (chars.next(), chars.next());
    if c0.is_some_and(is_sep) && c1.is_some_and(is_sep) {
        return Err(invalid(field, "UNC and network paths are not accepted"));
    }
    let drive = c0.is_some_and(|c| c.is_ascii_alphabetic()) && c1 == Some(':');
    let (absolute, rest) = if drive {
        if !cfg!(windows) {
            return Err(invalid(
                field,
                "a Windows drive path is not a path on this device",
            ));
        }
        let (prefix, rest) = raw.split_at(2);
        if !rest.starts_with(is_sep) {
            return Err(invalid(
                field,
                "a drive-relative path (`C:x`) is not accepted",
            ));
        }
        (Some(PathBuf::from(format!("{prefix}\\"))), rest)
    } else if c0.is_some_and(is_sep) {
        (Some(PathBuf::from(std::path::MAIN_SEPARATOR_STR)), raw)
    } else {
        (None, raw)
    };
    let parts = rest
        .split(is_sep)
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    Ok(Parsed { absolute, parts })
}

/// `start` joined with `parts`, `..` applied lexically; `None` when `..` goes above the
/// filesystem root.
fn normalize(start: &Path, parts: &[&str]) -> Option<PathBuf> {
    let mut out = start.to_path_buf();
    for p in parts {
        if *p == ".." {
            let at_root = out
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Prefix(_)));
            if at_root || !out.pop() {
                return None;
            }
        } else {
            out.push(p);
        }
    }
    Some(out)
}

fn home() -> PathBuf {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(std::path::MAIN_SEPARATOR_STR))
}

fn canonical_root(p: &Path, what: &str) -> Result<PathBuf, FileError> {
    let c = std::fs::canonicalize(p).map_err(|e| {
        FileError::new(
            FileErrorCode::InvalidRoot,
            format!("the {what} {} cannot be used: {e}", p.display()),
        )
    })?;
    if !c.is_dir() {
        return Err(FileError::new(
            FileErrorCode::InvalidRoot,
            format!("the {what} {} is not a directory", p.display()),
        ));
    }
    Ok(c)
}

impl Confinement {
    /// The roots of one operation: the agent's `files_root` and the server's root, each
    /// optional. Blocking (canonicalizes).
    pub fn new(agent_root: Option<&Path>, server_root: Option<&str>) -> Result<Self, FileError> {
        let mut roots = Vec::new();
        if let Some(r) = agent_root {
            roots.push(canonical_root(r, "agent's files_root")?);
        }
        let mut base = roots.first().cloned();
        if let Some(raw) = server_root {
            let p = parse(raw, "root").map_err(|e| {
                FileError::new(
                    FileErrorCode::InvalidRoot,
                    format!("the root: {}", e.message),
                )
            })?;
            let Some(abs) = p.absolute else {
                return Err(FileError::new(
                    FileErrorCode::InvalidRoot,
                    "the server's root is not an absolute path",
                ));
            };
            let lexical = normalize(&abs, &p.parts).ok_or_else(|| {
                FileError::new(FileErrorCode::InvalidRoot, "the server's root leaves `/`")
            })?;
            let c = canonical_root(&lexical, "device's allowed root")?;
            base = Some(c.clone());
            roots.push(c);
        }
        Ok(Confinement {
            base: base.unwrap_or_else(home),
            roots,
        })
    }

    /// Whether `p` (a resolved path) is one of the roots, or the filesystem root.
    pub fn is_root(&self, p: &Path) -> bool {
        self.roots.iter().any(|r| r == p) || p.parent().is_none()
    }

    /// Resolves `raw` (the request's `field`) to the path to operate on. Blocking.
    pub fn resolve(&self, raw: &str, field: &str, follow_last: bool) -> Result<PathBuf, FileError> {
        let parsed = parse(raw, field)?;
        let start = parsed.absolute.as_deref().unwrap_or(&self.base);
        let lexical = normalize(start, &parsed.parts).ok_or_else(|| {
            if self.roots.is_empty() {
                invalid(field, "the path goes above `/`")
            } else {
                outside(field)
            }
        })?;
        if self.roots.is_empty() {
            return Ok(lexical);
        }
        let physical = match (follow_last, lexical.parent(), lexical.file_name()) {
            (false, Some(parent), Some(name)) => physical(parent, field)?.join(name),
            _ => physical(&lexical, field)?,
        };
        if self.roots.iter().all(|r| physical.starts_with(r)) {
            Ok(physical)
        } else {
            Err(outside(field))
        }
    }
}

impl Confinement {
    /// Opens `p`, a path [`Confinement::resolve`] answered with `follow_last = true`,
    /// without following a symlink in its last component. With a root set on Linux the
    /// kernel resolves `p` again beneath the deepest root, refusing (`EXDEV`, `ELOOP`) any
    /// way out that appeared since the check; on a kernel without `openat2` (before 5.6)
    /// only the last component is protected. Blocking.
    pub fn open(&self, p: &Path, access: Access) -> std::io::Result<File> {
        #[cfg(target_os = "linux")]
        if let Some(root) = self.roots.iter().max_by_key(|r| r.components().count()) {
            match open_beneath(root, p, access) {
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENOSYS as i32) => {}
                r => return r,
            }
        }
        let mut o = OpenOptions::new();
        match access {
            Access::Read => o.read(true),
            Access::Write { create } => o.write(true).create(create).truncate(create),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits());
        }
        o.open(p)
    }
}

/// Whether an open failed because the path left the root (`openat2`'s `EXDEV`) or met a
/// symlink it may not follow (`ELOOP`).
pub fn left_root(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        use nix::errno::Errno;
        matches!(e.raw_os_error(), Some(c) if c == Errno::EXDEV as i32 || c == Errno::ELOOP as i32)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// `openat2(root, p relative to root, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`.
#[cfg(target_os = "linux")]
fn open_beneath(root: &Path, p: &Path, access: Access) -> std::io::Result<File> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
    use nix::sys::stat::Mode;
    let rel = p
        .strip_prefix(root)
        .map_err(|_| std::io::Error::from_raw_os_error(nix::errno::Errno::EXDEV as i32))?;
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let dir = open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut how =
        OpenHow::new().resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let base = OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    how = match access {
        Access::Read => how.flags(base | OFlag::O_RDONLY),
        Access::Write { create: false } => how.flags(base | OFlag::O_WRONLY),
        // The mode may only be given with O_CREAT; the umask applies as for open(2).
        Access::Write { create: true } => how
            .flags(base | OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC)
            .mode(Mode::from_bits_truncate(0o666)),
    };
    Ok(File::from(openat2(&dir, rel, how)?))
}

/// `p` with its deepest existing ancestor canonicalized (symlinks followed) and the rest
/// appended.
fn physical(p: &Path, field: &str) -> Result<PathBuf, FileError> {
    for anc in p.ancestors() {
        if std::fs::symlink_metadata(anc).is_err() {
            continue;
        }
        // A dangling symlink exists but does not canonicalize: where it points is not a
        // place we can check, so it is refused.
        let c = std::fs::canonicalize(anc).map_err(|_| outside(field))?;
        let rest = p.strip_prefix(anc).map_err(|_| outside(field))?;
        return Ok(if rest.as_os_str().is_empty() {
            c
        } else {
            c.join(rest)
        });
    }
    Err(outside(field))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    struct Tree {
        _dir: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
    }

    /// `<tmp>/root/{a/,file}`, `<tmp>/outside/secret`, and in the root a symlink `out`
    /// to the outside directory, `secret-link` to the secret file, `inner` to `a`.
    fn tree() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        std::fs::write(outside.join("secret"), b"s").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
            std::os::unix::fs::symlink(outside.join("secret"), root.join("secret-link")).unwrap();
            std::os::unix::fs::symlink(root.join("a"), root.join("inner")).unwrap();
            std::os::unix::fs::symlink(base.join("nowhere"), root.join("dangling")).unwrap();
        }
        Tree {
            _dir: dir,
            root,
            outside,
        }
    }

    fn code(r: Result<PathBuf, FileError>) -> FileErrorCode {
        match r {
            Ok(p) => panic!("expected a refusal, got {}", p.display()),
            Err(e) => e.code,
        }
    }

    #[test]
    fn traversal_out_of_the_root_is_refused_in_every_spelling() {
        let t = tree();
        let c = Confinement::new(None, Some(t.root.to_str().unwrap())).unwrap();
        for p in [
            "../x",
            "a/../../x",
            "..\\x",
            "a\\..\\..\\x",
            "./a/./../../outside/secret",
            "/etc/passwd",
            "..",
        ] {
            assert_eq!(
                code(c.resolve(p, "path", true)),
                FileErrorCode::OutsideRoot,
                "{p}"
            );
            assert_eq!(
                code(c.resolve(p, "path", false)),
                FileErrorCode::OutsideRoot,
                "{p}"
            );
        }
        // An absolute path outside the root that exists is refused like one that does not.
        let secret = t.outside.join("secret");
        assert_eq!(
            code(c.resolve(secret.to_str().unwrap(), "path", true)),
            FileErrorCode::OutsideRoot
        );
    }

    #[test]
    fn windows_drive_and_unc_paths_are_refused() {
        let t = tree();
        let c = Confinement::new(None, Some(t.root.to_str().unwrap())).unwrap();
        for p in ["\\\\server\\share\\x", "//server/share/x", "\\/server/x"] {
            assert_eq!(
                code(c.resolve(p, "path", true)),
                FileErrorCode::InvalidPath,
                "{p}"
            );
        }
        #[cfg(not(windows))]
        for p in ["C:\\x", "c:/Windows/system32", "C:x"] {
            assert_eq!(
                code(c.resolve(p, "path", true)),
                FileErrorCode::InvalidPath,
                "{p}"
            );
        }
        assert_eq!(
            code(c.resolve("a\0b", "path", true)),
            FileErrorCode::InvalidPath
        );
        // No root set: a UNC path is still not a path here.
        let free = Confinement::new(None, None).unwrap();
        assert_eq!(
            code(free.resolve("\\\\server\\share", "path", true)),
            FileErrorCode::InvalidPath
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_pointing_out_are_refused_and_inside_ones_followed() {
        let t = tree();
        let c = Confinement::new(None, Some(t.root.to_str().unwrap())).unwrap();
        for p in [
            "out",
            "out/secret",
            "out/new-file",
            "secret-link",
            "dangling",
        ] {
            assert_eq!(
                code(c.resolve(p, "path", true)),
                FileErrorCode::OutsideRoot,
                "{p}"
            );
        }
        assert_eq!(
            code(c.resolve("out/secret", "path", false)),
            FileErrorCode::OutsideRoot
        );
        // The link itself (stat, delete, rename) is inside the root.
        assert_eq!(
            c.resolve("secret-link", "path", false).unwrap(),
            t.root.join("secret-link")
        );
        // A link inside the root resolves to its target.
        assert_eq!(
            c.resolve("inner/new", "path", true).unwrap(),
            t.root.join("a/new")
        );
    }

    #[test]
    fn paths_inside_resolve_relative_to_the_root() {
        let t = tree();
        let c = Confinement::new(None, Some(t.root.to_str().unwrap())).unwrap();
        assert_eq!(c.resolve("", "path", true).unwrap(), t.root);
        assert_eq!(
            c.resolve("a/b/c", "path", true).unwrap(),
            t.root.join("a/b/c")
        );
        assert_eq!(c.resolve("a\\b", "path", true).unwrap(), t.root.join("a/b"));
        assert_eq!(
            c.resolve("a/../file", "path", true).unwrap(),
            t.root.join("file")
        );
        let abs = t.root.join("a");
        assert_eq!(c.resolve(abs.to_str().unwrap(), "path", true).unwrap(), abs);
        assert_eq!(
            code(c.resolve("/", "path", false)),
            FileErrorCode::OutsideRoot
        );
        assert!(c.is_root(&t.root));
        assert!(!c.is_root(&t.root.join("a")));
    }

    #[test]
    fn every_root_that_is_set_applies() {
        let t = tree();
        // The agent's root is `root/a`, the server's `root`: only `root/a` is reachable.
        let c = Confinement::new(Some(&t.root.join("a")), Some(t.root.to_str().unwrap())).unwrap();
        assert_eq!(
            code(c.resolve("file", "path", true)),
            FileErrorCode::OutsideRoot
        );
        assert_eq!(c.resolve("a/x", "path", true).unwrap(), t.root.join("a/x"));
        // The agent's root alone: relative paths start there.
        let a = Confinement::new(Some(&t.root), None).unwrap();
        assert_eq!(
            a.resolve("file", "path", true).unwrap(),
            t.root.join("file")
        );
        assert_eq!(
            code(a.resolve("../outside", "path", true)),
            FileErrorCode::OutsideRoot
        );
    }

    #[test]
    fn a_missing_or_relative_root_is_an_invalid_root() {
        let t = tree();
        for r in ["relative/dir", "/no/such/dir/here", "C:\\x"] {
            let e = Confinement::new(None, Some(r)).unwrap_err();
            assert_eq!(e.code, FileErrorCode::InvalidRoot, "{r}");
        }
        let e = Confinement::new(Some(&t.root.join("missing")), None).unwrap_err();
        assert_eq!(e.code, FileErrorCode::InvalidRoot);
        let e = Confinement::new(None, Some(t.root.join("file").to_str().unwrap())).unwrap_err();
        assert_eq!(e.code, FileErrorCode::InvalidRoot);
    }

    #[test]
    fn without_a_root_paths_are_only_normalized() {
        let c = Confinement::new(None, None).unwrap();
        assert_eq!(
            c.resolve("/etc/../etc/passwd", "path", true).unwrap(),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(
            code(c.resolve("/../x", "path", true)),
            FileErrorCode::InvalidPath
        );
    }

    /// The race `resolve` alone cannot win: a directory inside the root is checked, then
    /// swapped for a symlink pointing out before the file is opened. The kernel's second
    /// resolution beneath the root refuses both the read and the write, and the file
    /// outside is neither read nor created nor changed.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_directory_swapped_for_a_symlink_after_the_check_does_not_lead_out() {
        let t = tree();
        let conf = Confinement::new(Some(&t.root), None).unwrap();
        std::fs::write(t.root.join("a/secret"), b"inside").unwrap();
        let read = conf.resolve("a/secret", "path", true).unwrap();
        let write = conf.resolve("a/new-file", "path", true).unwrap();
        // The swap: `a` now points at the outside directory, which has a `secret` too.
        std::fs::rename(t.root.join("a"), t.root.join("a-moved")).unwrap();
        std::os::unix::fs::symlink(&t.outside, t.root.join("a")).unwrap();
        let e = conf.open(&read, Access::Read).unwrap_err();
        assert!(left_root(&e), "read: {e}");
        let e = conf
            .open(&write, Access::Write { create: true })
            .unwrap_err();
        assert!(left_root(&e), "write: {e}");
        assert!(!t.outside.join("new-file").exists());
        assert_eq!(std::fs::read(t.outside.join("secret")).unwrap(), b"s");
        // Without the swap the same paths open.
        std::fs::remove_file(t.root.join("a")).unwrap();
        std::fs::rename(t.root.join("a-moved"), t.root.join("a")).unwrap();
        assert!(conf.open(&read, Access::Read).is_ok());
        assert!(conf.open(&write, Access::Write { create: true }).is_ok());
    }
}
