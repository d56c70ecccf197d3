//! Resolving, fetching and caching Debian sched_ext kernels.
//!
//! Kernels come from Debian's `trixie-backports` (`linux-binary-<ver>+deb13-amd64`). The
//! archive is reached through the mirror this machine's apt is already configured with, using
//! a private apt state directory so the system configuration is never touched. Unpacked
//! images are cached under [`cache_dir`]`/kernels/<version>/`.

use crate::vm::is_elf;
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Pinned default version of each supported series. `default` means the first entry.
pub const PINNED: &[&str] = &["7.3.4", "6.19.14"];

/// The Debian suite that carries sched_ext kernels.
const SUITE: &str = "trixie-backports";
/// The release whose mirror URI is reused for [`SUITE`].
const HOST_RELEASE: &str = "bookworm";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A parsed `--kernel` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSpec {
    /// The pinned default (first entry of [`PINNED`]).
    Default,
    /// The newest version in the archive.
    Newest,
    /// A series like `7.3`: its pinned version if available, else the newest of the series.
    Series(u32, u32),
    /// An exact version like `7.3.4`.
    Exact(Version),
}

/// A kernel version `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl std::str::FromStr for Version {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 {
            bail!("'{s}' is not a version of the form MAJOR.MINOR.PATCH");
        }
        let n = |p: &str| -> Result<u32> {
            p.parse::<u32>()
                .map_err(|_| anyhow!("'{s}' is not a version of the form MAJOR.MINOR.PATCH"))
        };
        Ok(Version(n(parts[0])?, n(parts[1])?, n(parts[2])?))
    }
}

impl std::str::FromStr for KernelSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            anyhow!(
                "invalid kernel spec '{s}': expected 'default', 'newest', a series like '7.3' \
                 or an exact version like '7.3.4'"
            )
        };
        match s {
            "default" => return Ok(KernelSpec::Default),
            "newest" => return Ok(KernelSpec::Newest),
            _ => {}
        }
        let parts: Vec<&str> = s.split('.').collect();
        match parts.len() {
            2 => {
                let maj = parts[0].parse().map_err(|_| bad())?;
                let min = parts[1].parse().map_err(|_| bad())?;
                Ok(KernelSpec::Series(maj, min))
            }
            3 => Ok(KernelSpec::Exact(s.parse().map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for KernelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelSpec::Default => write!(f, "default"),
            KernelSpec::Newest => write!(f, "newest"),
            KernelSpec::Series(a, b) => write!(f, "{a}.{b}"),
            KernelSpec::Exact(v) => write!(f, "{v}"),
        }
    }
}

fn pinned() -> Vec<Version> {
    PINNED
        .iter()
        .map(|s| s.parse().expect("valid pinned version"))
        .collect()
}

impl KernelSpec {
    /// Does version `v` belong to this spec?
    fn matches(&self, v: Version) -> bool {
        match self {
            KernelSpec::Default => v == pinned()[0],
            KernelSpec::Newest => true,
            KernelSpec::Series(a, b) => v.0 == *a && v.1 == *b,
            KernelSpec::Exact(e) => v == *e,
        }
    }

    /// The version this spec prefers regardless of what the archive holds, if any.
    fn preferred(&self) -> Option<Version> {
        match self {
            KernelSpec::Default => Some(pinned()[0]),
            KernelSpec::Newest => None,
            KernelSpec::Series(a, b) => pinned().into_iter().find(|v| v.0 == *a && v.1 == *b),
            KernelSpec::Exact(v) => Some(*v),
        }
    }

    /// Pick a version out of `avail` (any order).
    fn choose(&self, avail: &[Version]) -> Option<Version> {
        if let Some(p) = self.preferred() {
            if avail.contains(&p) {
                return Some(p);
            }
            if matches!(self, KernelSpec::Exact(_) | KernelSpec::Default) {
                return None;
            }
        }
        avail.iter().copied().filter(|v| self.matches(*v)).max()
    }
}

/// Root of the cache: `$SCX_VMTEST_CACHE`, else `$XDG_CACHE_HOME/scx_vmtest`, else
/// `~/.cache/scx_vmtest`.
pub fn cache_dir() -> Result<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = nonempty("SCX_VMTEST_CACHE") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = nonempty("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("scx_vmtest"));
    }
    if let Some(h) = nonempty("HOME") {
        return Ok(PathBuf::from(h).join(".cache").join("scx_vmtest"));
    }
    bail!("cannot find a cache directory: set SCX_VMTEST_CACHE (or XDG_CACHE_HOME or HOME)")
}

/// A kernel present in the cache.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub version: Version,
    pub dir: PathBuf,
}

impl Kernel {
    pub fn vmlinuz(&self) -> PathBuf {
        self.dir.join("vmlinuz")
    }

    /// Extract (once) the uncompressed ELF `vmlinux` from the bzImage and return its path.
    pub fn vmlinux(&self) -> Result<PathBuf> {
        let out = self.dir.join("vmlinux");
        if is_elf(&out) {
            return Ok(out);
        }
        extract_vmlinux(&self.vmlinuz(), &out)?;
        Ok(out)
    }
}

fn kernels_dir() -> Result<PathBuf> {
    Ok(cache_dir()?.join("kernels"))
}

/// Versions whose image is in the cache.
fn cached_versions() -> Result<Vec<Version>> {
    let dir = kernels_dir()?;
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Ok(v) = name.parse::<Version>() {
            if e.path().join("vmlinuz").is_file() {
                out.push(v);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn cached(v: Version) -> Result<Kernel> {
    Ok(Kernel {
        version: v,
        dir: kernels_dir()?.join(v.to_string()),
    })
}

/// Resolve `spec` to a cached kernel, fetching it from the archive when needed.
pub fn resolve(spec: &KernelSpec) -> Result<Kernel> {
    // A spec that names one version (exact, default, or a series with a pinned version)
    // needs no network when that version is cached.
    let preferred_cached = |have: &[Version]| spec.preferred().filter(|p| have.contains(p));
    if let Some(p) = preferred_cached(&cached_versions()?) {
        return cached(p);
    }

    // One scx_vmtest at a time talks to the archive (meson runs VM tests side by side): a
    // second `apt-get update` on the shared state directory fails on apt's lock, and with an
    // empty cache that is a failed test. Whoever waited finds what the other one fetched.
    let _lock = FetchLock::take()?;
    let have = cached_versions()?;
    if let Some(p) = preferred_cached(&have) {
        return cached(p);
    }
    let apt = match Apt::new() {
        Ok(a) => a,
        Err(e) => return offline_fallback(spec, &have, e),
    };
    let avail = match apt.update().and_then(|_| apt.available()) {
        Ok(v) => v,
        Err(e) => return offline_fallback(spec, &have, e),
    };
    let Some(v) = spec.choose(&avail) else {
        let mut list: Vec<String> = avail.iter().map(|v| v.to_string()).collect();
        list.sort();
        if let Some(c) = spec.choose(&have) {
            eprintln!(
                "scx_vmtest: the archive has no kernel for '{spec}', using cached kernel {c}"
            );
            return cached(c);
        }
        bail!(
            "no kernel matching '{spec}' in {SUITE} (available: {})",
            if list.is_empty() {
                "none".to_string()
            } else {
                list.join(", ")
            }
        );
    };
    if have.contains(&v) {
        return cached(v);
    }
    eprintln!("scx_vmtest: fetching kernel {v} from {SUITE} ...");
    let k = cached(v)?;
    if let Err(e) = apt.fetch(v, &k.dir) {
        if let Some(c) = spec.choose(&have) {
            eprintln!("scx_vmtest: fetching {v} failed ({e:#}); using cached kernel {c}");
            return cached(c);
        }
        return Err(e);
    }
    eprintln!("scx_vmtest: cached kernel {v} in {}", k.dir.display());
    Ok(k)
}

/// An exclusive lock on `cache_dir()/fetch.lock`, held while this process uses the archive;
/// released when dropped (the file is closed) or when the process dies.
struct FetchLock {
    _file: fs::File,
}

impl FetchLock {
    fn take() -> Result<Self> {
        let dir = cache_dir()?;
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("fetch.lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("locking {}", path.display()));
        }
        Ok(FetchLock { _file: f })
    }
}

fn offline_fallback(spec: &KernelSpec, have: &[Version], err: anyhow::Error) -> Result<Kernel> {
    match spec.choose(have) {
        Some(v) => {
            eprintln!(
                "scx_vmtest: the archive cannot be reached ({err:#}); using cached kernel {v}"
            );
            cached(v)
        }
        None => Err(anyhow::Error::new(crate::MissingPrereq(format!(
            "cannot reach the Debian archive ({err:#}) and no cached kernel matches '{spec}' \
             (cache: {})",
            kernels_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )))),
    }
}

/// apt-get with a private state directory.
struct Apt {
    state: PathBuf,
}

fn package_name(v: Version) -> String {
    format!("linux-binary-{v}+deb13-amd64")
}

impl Apt {
    fn new() -> Result<Self> {
        which("apt-get").context("apt-get is needed to fetch kernels")?;
        let uri = mirror_uri()?;
        let state = cache_dir()?.join("apt");
        fs::create_dir_all(state.join("lists/partial"))
            .and_then(|_| fs::create_dir_all(state.join("cache/archives/partial")))
            .with_context(|| format!("creating {}", state.display()))?;
        fs::write(
            state.join("sources.list"),
            format!("deb [signed-by={KEYRING}] {uri} {SUITE} main\n"),
        )?;
        Ok(Apt { state })
    }

    fn opts(&self) -> Vec<String> {
        let s = self.state.display();
        let mut v = vec![
            format!("Dir::Etc::SourceList={s}/sources.list"),
            "Dir::Etc::SourceParts=/nonexistent".to_string(),
            format!("Dir::State::Lists={s}/lists"),
            format!("Dir::Cache={s}/cache"),
        ];
        // As root apt drops to `_apt` for downloads, which cannot write into our cache;
        // downloading as root into a private directory is fine.
        if unsafe { libc::geteuid() } == 0 {
            v.push("APT::Sandbox::User=root".to_string());
        }
        v.into_iter().flat_map(|o| ["-o".to_string(), o]).collect()
    }

    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.args(self.opts());
        c.stdin(Stdio::null());
        c
    }

    fn update(&self) -> Result<()> {
        let out = self
            .cmd("apt-get")
            .args(["-q", "update"])
            .output()
            .context("running apt-get update")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // apt-get update exits 0 even when a source failed; look for its complaints too.
        if !out.status.success() || stderr.lines().any(|l| l.starts_with("E:")) {
            bail!("apt-get update failed: {}", stderr.trim());
        }
        if stderr.contains("Failed to fetch") || stderr.contains("Could not resolve") {
            bail!("apt-get update failed: {}", stderr.trim());
        }
        Ok(())
    }

    /// Versions of `linux-binary-*+deb13-amd64` known to the private index.
    fn available(&self) -> Result<Vec<Version>> {
        let out = self
            .cmd("apt-cache")
            .args(["pkgnames", "linux-binary-"])
            .output()
            .context("running apt-cache pkgnames")?;
        if !out.status.success() {
            bail!(
                "apt-cache pkgnames failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut v: Vec<Version> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("linux-binary-"))
            .filter_map(|l| l.strip_suffix("+deb13-amd64"))
            .filter_map(|l| l.parse().ok())
            .collect();
        v.sort();
        v.dedup();
        if v.is_empty() {
            bail!("the {SUITE} index lists no linux-binary-*+deb13-amd64 package");
        }
        Ok(v)
    }

    /// Download and unpack `v`, leaving `vmlinuz` (and `config` when present) in `dest`.
    fn fetch(&self, v: Version, dest: &Path) -> Result<()> {
        let parent = dest.parent().expect("kernel dir has a parent");
        fs::create_dir_all(parent)?;
        let work = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(parent)
            .context("creating a download directory")?;
        let pkg = package_name(v);
        let out = self
            .cmd("apt-get")
            .args(["-q", "download", &pkg])
            .current_dir(work.path())
            .output()
            .context("running apt-get download")?;
        if !out.status.success() {
            bail!(
                "apt-get download {pkg} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let deb = fs::read_dir(work.path())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .ok_or_else(|| anyhow!("apt-get download {pkg} produced no .deb"))?;
        let root = work.path().join("root");
        run_ok(
            Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
            "dpkg-deb -x",
        )?;
        let image = find_image(&root)
            .ok_or_else(|| anyhow!("no vmlinuz image found inside {}", deb.display()))?;
        let stage = work.path().join("stage");
        fs::create_dir_all(&stage)?;
        fs::copy(&image, stage.join("vmlinuz"))?;
        if let Some(cfg) = find_config(&root) {
            fs::copy(cfg, stage.join("config"))?;
        }
        fs::write(stage.join("package"), format!("{pkg}\n"))?;
        // Publish atomically: a half-written kernel must never look cached.
        if dest.exists() {
            fs::remove_dir_all(dest)?;
        }
        fs::rename(&stage, dest).with_context(|| format!("moving kernel to {}", dest.display()))?;
        Ok(())
    }
}

/// `boot/vmlinuz-<ver>` (6.19) or `usr/lib/modules/<ver>/vmlinuz` (7.x).
fn find_image(root: &Path) -> Option<PathBuf> {
    if let Ok(rd) = fs::read_dir(root.join("boot")) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("vmlinuz-") {
                return Some(e.path());
            }
        }
    }
    for base in ["usr/lib/modules", "lib/modules"] {
        if let Ok(rd) = fs::read_dir(root.join(base)) {
            for e in rd.flatten() {
                let p = e.path().join("vmlinuz");
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    None
}

fn find_config(root: &Path) -> Option<PathBuf> {
    if let Ok(rd) = fs::read_dir(root.join("boot")) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("config-") {
                return Some(e.path());
            }
        }
    }
    for base in ["usr/lib/modules", "lib/modules"] {
        if let Ok(rd) = fs::read_dir(root.join(base)) {
            for e in rd.flatten() {
                let p = e.path().join("config");
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// The URI of this machine's `bookworm` apt source.
fn mirror_uri() -> Result<String> {
    let out = Command::new("apt-get")
        .args(["indextargets", "--format", "$(REPO_URI) $(RELEASE)"])
        .stdin(Stdio::null())
        .output()
        .context("running apt-get indextargets")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(_, rel)| rel.trim() == HOST_RELEASE)
        .map(|(uri, _)| uri.trim().to_string())
        .ok_or_else(|| {
            anyhow!("apt has no '{HOST_RELEASE}' source configured to take a Debian mirror from")
        })
}

/// Decompress the zstd payload of a bzImage into an ELF vmlinux.
fn extract_vmlinux(bzimage: &Path, out: &Path) -> Result<()> {
    which("zstd").context("zstd is needed to extract vmlinux")?;
    let data = fs::read(bzimage).with_context(|| format!("reading {}", bzimage.display()))?;
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let off = data
        .windows(4)
        .position(|w| w == MAGIC)
        .ok_or_else(|| anyhow!("no zstd stream in {}", bzimage.display()))?;
    let dir = out.parent().expect("vmlinux has a parent dir");
    let mut payload = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut payload, &data[off..])?;
    let tmp_out = tempfile::Builder::new()
        .prefix(".vmlinux-")
        .tempfile_in(dir)?;
    // zstd reports the trailing bytes after the stream as an error ("unsupported format"),
    // but has written the whole decompressed stream by then: judge by the result, not the
    // exit status. Write through stdout: with -o zstd deletes its output on that error.
    let res = Command::new("zstd")
        .args(["-d", "-c"])
        .arg(payload.path())
        .stdin(Stdio::null())
        .stdout(tmp_out.reopen()?)
        .stderr(Stdio::piped())
        .output()
        .context("running zstd")?;
    if !is_elf(tmp_out.path()) {
        bail!(
            "zstd did not produce an ELF vmlinux from {}: {}",
            bzimage.display(),
            String::from_utf8_lossy(&res.stderr).trim()
        );
    }
    fs::set_permissions(tmp_out.path(), fs::Permissions::from_mode(0o644))?;
    tmp_out
        .persist(out)
        .map_err(|e| anyhow!("saving {}: {}", out.display(), e.error))?;
    Ok(())
}

/// Find `prog` on PATH.
pub fn which(prog: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let p = d.join(prog);
        if p.is_file() {
            return Ok(p);
        }
    }
    // sbin is often missing from a user's PATH.
    for d in ["/usr/sbin", "/sbin"] {
        let p = Path::new(d).join(prog);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(crate::MissingPrereq(format!(
        "'{prog}' not found in PATH; run scripts/install-deps.sh"
    ))
    .into())
}

fn run_ok(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn specs() {
        assert_eq!(
            "default".parse::<KernelSpec>().unwrap(),
            KernelSpec::Default
        );
        assert_eq!(
            "7.3".parse::<KernelSpec>().unwrap(),
            KernelSpec::Series(7, 3)
        );
        assert_eq!(
            "6.19.14".parse::<KernelSpec>().unwrap(),
            KernelSpec::Exact(v("6.19.14"))
        );
        assert!("7".parse::<KernelSpec>().is_err());
        assert!("x.y".parse::<KernelSpec>().is_err());
    }

    #[test]
    fn choosing() {
        let avail = [
            v("6.19.13"),
            v("6.19.14"),
            v("7.0.13"),
            v("7.3.4"),
            v("7.3.5"),
        ];
        let c = |s: &str| s.parse::<KernelSpec>().unwrap().choose(&avail);
        assert_eq!(c("default"), Some(v("7.3.4")));
        assert_eq!(c("7.3"), Some(v("7.3.4")));
        assert_eq!(c("6.19"), Some(v("6.19.14")));
        assert_eq!(c("7.0"), Some(v("7.0.13")));
        assert_eq!(c("newest"), Some(v("7.3.5")));
        assert_eq!(c("7.3.5"), Some(v("7.3.5")));
        assert_eq!(c("7.2"), None);
        let gone = [v("7.3.6"), v("7.3.7")];
        assert_eq!(KernelSpec::Series(7, 3).choose(&gone), Some(v("7.3.7")));
        assert_eq!(KernelSpec::Default.choose(&gone), None);
    }
}
