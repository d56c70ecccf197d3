//! Tolerant readers for a sysfs tree under a configurable root.
//!
//! Every reader returns `Ok(None)` when the file does not exist (or is a
//! directory that vanished, e.g. a CPU going offline mid-read) and an error
//! naming the path for anything else (permission denied, garbage contents).

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::Cpumask;

/// The environment variable that points discovery at another filesystem
/// root (a directory holding `sys/` and optionally `proc/`).
pub const SYSFS_ROOT_ENV: &str = "SCX_SYSFS_ROOT";

/// A filesystem root to read `sys/` (and `proc/`) from: `/` on a live
/// system, or a directory holding a copy or a fake, laid out like
/// `HWLOC_FSROOT` expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysfsRoot {
    root: PathBuf,
}

impl Default for SysfsRoot {
    fn default() -> Self {
        Self::new("/")
    }
}

impl SysfsRoot {
    /// A root at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$SCX_SYSFS_ROOT` when set and not empty, else `/`.
    pub fn from_env() -> Self {
        match std::env::var_os(SYSFS_ROOT_ENV) {
            Some(v) if !v.is_empty() => Self::new(v),
            _ => Self::default(),
        }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Whether this is the live system's root (`/`), where the process's
    /// own affinity and cgroup apply.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// `rel` (e.g. `sys/devices/system/cpu/online`) under the root.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// Contents of `rel`, trimmed; `None` if it does not exist.
    pub fn read(&self, rel: impl AsRef<Path>) -> Result<Option<String>> {
        read_opt(&self.join(rel))
    }
}

/// Contents of `path`, trimmed (whitespace and NULs); `None` if it does
/// not exist. One `open`, one `read` and one `close` for files up to 4 KiB
/// (every sysfs attribute).
pub fn read_opt(path: &Path) -> Result<Option<String>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if missing(&e) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut buf = [0u8; 4096];
    let mut data: Vec<u8> = Vec::new();
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    let s = String::from_utf8_lossy(&data);
    Ok(Some(
        s.trim_matches(|c: char| c.is_whitespace() || c == '\0')
            .to_string(),
    ))
}

fn missing(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory)
        || e.raw_os_error() == Some(libc::ENOTDIR)
        || e.raw_os_error() == Some(libc::ENODEV)
        || e.raw_os_error() == Some(libc::EISDIR)
}

/// Parse `path` as a number; `None` if missing or empty.
pub fn read_num<T: std::str::FromStr>(path: &Path) -> Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match read_opt(path)? {
        Some(s) if !s.is_empty() => s
            .parse::<T>()
            .map(Some)
            .with_context(|| format!("parsing {} ({s:?})", path.display())),
        _ => Ok(None),
    }
}

/// Whether a file's (trimmed) contents are the kernel's `(null)`: what a
/// CPU-mask attribute prints for a mask that was never allocated (e.g.
/// `cpu/nohz_full` on a kernel booted without `nohz_full=`).
pub fn is_null(s: &str) -> bool {
    s == "(null)"
}

/// Parse `path` as a cpulist; `None` if missing; `(null)` is the empty set.
pub fn read_list(path: &Path) -> Result<Option<Cpumask>> {
    match read_opt(path)? {
        Some(s) if is_null(&s) => Ok(Some(Cpumask::new())),
        Some(s) => Cpumask::parse_list(&s)
            .map(Some)
            .with_context(|| format!("parsing {}", path.display())),
        None => Ok(None),
    }
}

/// Parse `path` as a hex-word mask; `None` if missing; `(null)` is the
/// empty set.
pub fn read_hex(path: &Path) -> Result<Option<Cpumask>> {
    match read_opt(path)? {
        Some(s) if is_null(&s) => Ok(Some(Cpumask::new())),
        Some(s) => Cpumask::parse_hex(&s)
            .map(Some)
            .with_context(|| format!("parsing {}", path.display())),
        None => Ok(None),
    }
}

/// A mask published as `<dir>/<name>_list` (cpulist) and/or `<dir>/<name>`
/// (hex words): the list form if present, else the hex form.
pub fn read_mask(dir: &Path, name: &str) -> Result<Option<Cpumask>> {
    if let Some(m) = read_list(&dir.join(format!("{name}_list")))? {
        return Ok(Some(m));
    }
    read_hex(&dir.join(name))
}

/// Parse a cache size such as `32K`, `1024K`, `16M` or `512` into bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1024),
        'M' | 'm' => (&s[..s.len() - 1], 1024 * 1024),
        'G' | 'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok().map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_none() {
        let d = tempfile::tempdir().unwrap();
        let r = SysfsRoot::new(d.path());
        assert_eq!(r.read("sys/nope").unwrap(), None);
        std::fs::write(d.path().join("f"), "12\n").unwrap();
        assert_eq!(read_num::<u32>(&d.path().join("f")).unwrap(), Some(12));
        assert_eq!(read_num::<u32>(&d.path().join("f/x")).unwrap(), None);
        std::fs::write(d.path().join("g"), "zz").unwrap();
        let e = read_num::<u32>(&d.path().join("g")).unwrap_err();
        assert!(format!("{e:#}").contains("/g"));
    }

    #[test]
    fn null_is_the_empty_mask() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("nohz_full");
        std::fs::write(&f, "(null)                 \n").unwrap();
        assert_eq!(read_list(&f).unwrap(), Some(Cpumask::new()));
        assert_eq!(read_hex(&f).unwrap(), Some(Cpumask::new()));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32K"), Some(32 * 1024));
        assert_eq!(parse_size("16M"), Some(16 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size(""), None);
    }
}
