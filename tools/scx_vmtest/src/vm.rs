//! Building the guest initramfs and running qemu.

use crate::kernel::{which, Kernel};
use crate::topology::Topology;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INIT_SH: &str = include_str!("guest/init.sh");

/// Host tools every guest gets, installed at `/usr/bin/<name>`.
const GUEST_TOOLS: &[&str] = &["hackbench", "stress-ng"];

/// Where the guest finds this tool (for `scx_vmtest guest-exec`).
pub const GUEST_SELF: &str = "/vmtest/scx_vmtest";

/// The guest's root file system, staged in a temporary directory.
pub struct Initramfs {
    stage: tempfile::TempDir,
    /// Guest paths already present, to copy each library once.
    present: BTreeSet<String>,
}

/// Does `p` start with the ELF magic?
pub(crate) fn is_elf(p: &Path) -> bool {
    let mut b = [0u8; 4];
    fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
        && b == *b"\x7fELF"
}

impl Initramfs {
    /// A root with busybox, `/init`, and the standard workloads.
    pub fn new() -> Result<Self> {
        let stage = tempfile::Builder::new()
            .prefix("scx_vmtest-root-")
            .tempdir()
            .context("creating the initramfs staging directory")?;
        let mut r = Initramfs {
            stage,
            present: BTreeSet::new(),
        };
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "root",
            "etc", "vmtest",
        ] {
            fs::create_dir_all(r.root().join(d))?;
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                anyhow!("busybox not found (package busybox-static); run scripts/install-deps.sh")
            })?;
        r.add_binary(&busybox, "/bin/busybox")?;
        std::os::unix::fs::symlink("busybox", r.root().join("bin/sh"))?;
        r.add_bytes("/init", INIT_SH.as_bytes(), 0o755)?;
        fs::write(
            r.root().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n",
        )?;
        fs::write(r.root().join("etc/group"), "root:x:0:\n")?;
        r.add_self()?;
        for t in GUEST_TOOLS {
            let p = which(t).with_context(|| format!("{t} is needed inside the guest"))?;
            r.add_binary(&p, &format!("/usr/bin/{t}"))?;
        }
        Ok(r)
    }

    /// This tool itself (stripped) as `/vmtest/scx_vmtest`, for `guest-exec`.
    fn add_self(&mut self) -> Result<()> {
        let exe = std::env::current_exe().context("locating scx_vmtest itself")?;
        let dst = self.guest_path(GUEST_SELF)?;
        fs::create_dir_all(dst.parent().expect("has parent"))?;
        let stripped = Command::new("strip")
            .arg("-o")
            .arg(&dst)
            .arg(&exe)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if stripped {
            self.present.insert(GUEST_SELF.to_string());
            for lib in ldd(&exe)? {
                self.add_lib(&lib)?;
            }
            Ok(())
        } else {
            self.add_binary(&exe, GUEST_SELF)
        }
    }

    fn add_lib(&mut self, lib: &Path) -> Result<()> {
        let g = lib.display().to_string();
        if !self.present.contains(&g) {
            let data = fs::read(lib).with_context(|| format!("reading {}", lib.display()))?;
            self.add_bytes(&g, &data, 0o755)?;
        }
        Ok(())
    }

    fn root(&self) -> &Path {
        self.stage.path()
    }

    fn guest_path(&self, guest: &str) -> Result<PathBuf> {
        let rel = guest.trim_start_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            bail!("invalid guest path '{guest}'");
        }
        Ok(self.root().join(rel))
    }

    pub fn add_bytes(&mut self, guest: &str, data: &[u8], mode: u32) -> Result<()> {
        let p = self.guest_path(guest)?;
        if let Some(d) = p.parent() {
            fs::create_dir_all(d)?;
        }
        fs::write(&p, data).with_context(|| format!("writing {}", p.display()))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        self.present.insert(guest.to_string());
        Ok(())
    }

    /// Copy a host file to `guest` (following symlinks, keeping its mode); for an ELF
    /// file also copy the shared libraries and loader `ldd` lists for it.
    pub fn add_binary(&mut self, host: &Path, guest: &str) -> Result<()> {
        let data = fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        let mode = fs::metadata(host)?.permissions().mode() & 0o7777;
        self.add_bytes(guest, &data, mode)?;
        if is_elf(host) {
            for lib in ldd(host)? {
                self.add_lib(&lib)?;
            }
        }
        Ok(())
    }

    /// Write the archive (`cpio -o -H newc`, owned by root) to `out`.
    pub fn write_cpio(&self, out: &Path) -> Result<()> {
        which("cpio").context("cpio is needed to build the initramfs")?;
        let mut list = Vec::new();
        collect(self.root(), Path::new("."), &mut list)?;
        let file = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut child = Command::new("cpio")
            .args(["-o", "-H", "newc", "-R", "0:0", "--quiet"])
            .current_dir(self.root())
            .stdin(Stdio::piped())
            .stdout(file)
            .stderr(Stdio::piped())
            .spawn()
            .context("running cpio")?;
        {
            let mut stdin = child.stdin.take().expect("piped stdin");
            for p in &list {
                stdin.write_all(p.as_os_str().as_encoded_bytes())?;
                stdin.write_all(b"\n")?;
            }
        }
        let res = child.wait_with_output()?;
        if !res.status.success() {
            bail!(
                "cpio failed: {}",
                String::from_utf8_lossy(&res.stderr).trim()
            );
        }
        Ok(())
    }
}

fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    out.push(rel.to_path_buf());
    let full = root.join(rel);
    if full.is_dir() && !full.is_symlink() {
        let mut names: Vec<_> = fs::read_dir(&full)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            collect(root, &rel.join(n), out)?;
        }
    }
    Ok(())
}

/// Shared libraries (and the dynamic loader) of an ELF file, as host paths.
fn ldd(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .stdin(Stdio::null())
        .output()
        .context("running ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // Static executables make ldd fail with "not a dynamic executable".
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.contains("=> not found") {
            bail!(
                "{}: shared library missing on the host: {line}",
                bin.display()
            );
        }
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// Everything needed to boot a guest once.
pub struct VmConfig<'a> {
    pub kernel: &'a Kernel,
    /// The guest's clock and idle behaviour (see [`crate::emulation`]).
    pub emulation: crate::emulation::Emulation,
    pub topology: Topology,
    pub memory_mib: u32,
    pub timeout: Duration,
    /// Shell script run by `/bin/sh` in the guest.
    pub script: String,
    /// Exported into the script's environment.
    pub env: Vec<(String, String)>,
    /// Print the script's output live on stdout.
    pub stream: bool,
    /// Print the qemu command line and the kernel console on stderr.
    pub verbose: bool,
}

#[derive(Debug)]
pub enum Outcome {
    /// The script ran to its end marker.
    Finished { status: i32 },
    /// The deadline passed; qemu was killed.
    Timeout,
    /// qemu ended without the end marker (panic, oops in init, triple fault, ...).
    Died { qemu_status: String },
}

#[derive(Debug)]
pub struct VmResult {
    pub outcome: Outcome,
    /// The script's stdout and stderr.
    pub output: String,
    /// `dmesg` taken after the script (empty if the guest did not get there).
    pub dmesg: String,
    /// The kernel console (ttyS0).
    pub console: String,
    pub elapsed: Duration,
    /// How long after qemu started the script began (`None`: the guest never got that far).
    pub script_started: Option<Duration>,
}

impl VmResult {
    /// The last lines of the kernel console, for error reports.
    pub fn console_tail(&self, n: usize) -> String {
        tail(&self.console, n)
    }

    /// The last lines the script printed, for error reports.
    pub fn output_tail(&self, n: usize) -> String {
        tail(&self.output, n)
    }
}

/// Kills qemu if we leave early for any reason.
struct QemuGuard(Option<Child>);

impl Drop for QemuGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Parses the framed output of ttyS1 as it arrives.
struct Framer {
    mark: String,
    partial: Vec<u8>,
    state: u8, // 0 before BEGIN, 1 script, 2 after END, 3 dmesg, 4 done
    status: Option<i32>,
    blank: usize,
    output: String,
    dmesg: String,
}

impl Framer {
    fn new(mark: String) -> Self {
        Self {
            mark,
            partial: Vec::new(),
            state: 0,
            status: None,
            blank: 0,
            output: String::new(),
            dmesg: String::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8], stream: bool) {
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            self.line(line, stream);
        }
    }

    fn line(&mut self, line: &str, stream: bool) {
        let begin = format!("{} BEGIN", self.mark);
        let end = format!("{} END rc=", self.mark);
        match self.state {
            0 if line.contains(&begin) => self.state = 1,
            1 => {
                if let Some(i) = line.find(&end) {
                    self.status = line[i + end.len()..].trim().parse().ok().or(Some(255));
                    self.state = 2;
                    if i > 0 {
                        // The script's last line had no newline; `init` then ends it.
                        self.emit(&line[..i], stream);
                    } else {
                        // `init` echoes an empty line before the marker: drop it again.
                        self.blank = self.blank.saturating_sub(1);
                    }
                    self.flush_blank(stream);
                } else {
                    self.emit(line, stream);
                }
            }
            2 if line == format!("{} DMESG", self.mark) => self.state = 3,
            3 if line == format!("{} DONE", self.mark) => self.state = 4,
            3 => {
                self.dmesg.push_str(line);
                self.dmesg.push('\n');
            }
            _ => {}
        }
    }

    fn emit(&mut self, line: &str, stream: bool) {
        // Hold back empty lines: the last one may be the one `init` adds before the marker.
        if line.is_empty() {
            self.blank += 1;
            return;
        }
        self.flush_blank(stream);
        self.write(line, stream);
    }

    fn flush_blank(&mut self, stream: bool) {
        while self.blank > 0 {
            self.blank -= 1;
            self.write("", stream);
        }
    }

    fn write(&mut self, line: &str, stream: bool) {
        if stream {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        }
        self.output.push_str(line);
        self.output.push('\n');
    }
}

fn run_marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("@@SCX_VMTEST_{:x}_{:x}@@", std::process::id(), nanos)
}

/// How long a guest may take to reach its script before scx_vmtest boots it again, unless
/// `SCX_VMTEST_BOOT_LIMIT` (seconds) says otherwise. A normal boot under the emulator takes 5
/// to 20 s; a clean-clone CI run once saw a 4-CPU guest print nothing for 180 s, before any
/// scheduler was attached, so the hang was the emulator's or the kernel's boot, not the test's.
const BOOT_LIMIT: Duration = Duration::from_secs(90);

/// [`BOOT_LIMIT`], or `SCX_VMTEST_BOOT_LIMIT` when it is set.
fn boot_limit() -> Result<Duration> {
    match std::env::var("SCX_VMTEST_BOOT_LIMIT") {
        Err(_) => Ok(BOOT_LIMIT),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&s| s > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                anyhow!(
                    "SCX_VMTEST_BOOT_LIMIT={v:?} is not a whole number of seconds above 0; \
                     unset it for the default ({} s)",
                    BOOT_LIMIT.as_secs()
                )
            }),
    }
}

/// What one boot of the guest came to.
enum Boot {
    /// The guest reached its script (or died, or ran out of time after that).
    Ran(VmResult),
    /// The script had not started within the boot limit; qemu was killed.
    Hung { console: String },
}

/// Boot the guest, run the script, and collect what it printed. A boot that does not reach the
/// script within [`boot_limit`] is retried once, with a warning; the retry has the whole
/// timeout again, and a second hang is reported as a timeout.
pub fn run(cfg: &VmConfig, mut root: Initramfs) -> Result<VmResult> {
    let qemu = which("qemu-system-x86_64")
        .context("qemu-system-x86_64 is needed (package qemu-system-x86)")?;
    let mark = run_marker();
    let mut env = format!("export VMTEST_MARK={}\n", shell_quote(&mark));
    for (k, v) in &cfg.env {
        env.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    root.add_bytes("/vmtest/env", env.as_bytes(), 0o644)?;
    root.add_bytes("/vmtest/script.sh", cfg.script.as_bytes(), 0o755)?;

    let work = tempfile::Builder::new()
        .prefix("scx_vmtest-run-")
        .tempdir()
        .context("creating a work directory")?;
    let initrd = work.path().join("initramfs.cpio");
    root.write_cpio(&initrd)?;
    drop(root);

    let limit = boot_limit()?;
    let retry = limit < cfg.timeout;
    let first = boot(cfg, &qemu, work.path(), &mark, 1, retry.then_some(limit))?;
    match first {
        Boot::Ran(res) => Ok(res),
        Boot::Hung { console } => {
            eprintln!(
                "scx_vmtest: WARNING: the guest did not reach its script within {} s (normal is \
                 5-20 s); it was killed and is booted once more. Last kernel console lines:\n{}",
                limit.as_secs(),
                tail(&console, 20)
            );
            match boot(cfg, &qemu, work.path(), &mark, 2, None)? {
                Boot::Ran(res) => Ok(res),
                Boot::Hung { .. } => unreachable!("a boot without a limit cannot hang"),
            }
        }
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One boot of the guest whose initramfs is `work/initramfs.cpio`. With `boot_limit`, give up
/// (and say [`Boot::Hung`]) if the script has not started by then.
fn boot(
    cfg: &VmConfig,
    qemu: &Path,
    work: &Path,
    mark: &str,
    attempt: u32,
    boot_limit: Option<Duration>,
) -> Result<Boot> {
    let initrd = work.join("initramfs.cpio");
    let console_log = work.join(format!("console-{attempt}.log"));
    let out_log = work.join(format!("out-{attempt}.log"));
    fs::File::create(&console_log)?;
    fs::File::create(&out_log)?;

    let mut cmd = Command::new(qemu);
    cmd.args(["-accel", "tcg,thread=single", "-cpu", "Haswell-v4"])
        .args(cfg.topology.qemu_args(cfg.memory_mib)?)
        .args(cfg.emulation.qemu_args())
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", console_log.display()))
        .arg("-serial")
        .arg(format!("file:{}", out_log.display()))
        .arg("-kernel")
        .arg(cfg.kernel.vmlinuz())
        .arg("-initrd")
        .arg(&initrd)
        // tsc=reliable: no clocksource watchdog. Every 0.5 s it reads HPET against the TSC
        // and cross-calls another CPU; under single-threaded TCG the calling vCPU then stood
        // still for up to ~30 ms with a wake-up pending (traced: the worst frame and
        // wake-up latencies of every scheduler on 4 vCPUs), an emulator artifact, not a
        // scheduling one. The TSC here is the emulator's own clock: nothing to watch.
        .arg("-append")
        .arg(
            ["console=ttyS0", "quiet", "panic=-1", "tsc=reliable"]
                .into_iter()
                .chain(cfg.emulation.kernel_args())
                .collect::<Vec<_>>()
                .join(" "),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // If scx_vmtest itself is killed, take qemu with it.
    // SAFETY: prctl is async-signal-safe; the closure touches no shared state.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    if cfg.verbose {
        eprintln!("scx_vmtest: {cmd:?}");
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", qemu.display()))?;
    let mut guard = QemuGuard(Some(child));

    let mut framer = Framer::new(mark.to_string());
    let mut out_file = fs::File::open(&out_log)?;
    let mut buf = vec![0u8; 65536];
    let deadline = start + cfg.timeout;
    let mut done_at: Option<Instant> = None;
    let mut script_started = None;
    let mut qemu_status = None;
    let mut timed_out = false;
    let mut hung = false;
    loop {
        loop {
            let n = out_file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            framer.feed(&buf[..n], cfg.stream);
        }
        let child = guard.0.as_mut().expect("qemu child");
        if let Some(st) = child.try_wait()? {
            // Drain what was written just before exit.
            loop {
                let n = out_file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                framer.feed(&buf[..n], cfg.stream);
            }
            qemu_status = Some(st);
            break;
        }
        if framer.state >= 1 && script_started.is_none() {
            script_started = Some(start.elapsed());
        }
        if framer.state == 4 && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        // The guest said everything; give poweroff a while, then stop it ourselves.
        if done_at.is_some_and(|t| t.elapsed() > Duration::from_secs(30)) {
            break;
        }
        if Instant::now() >= deadline {
            timed_out = framer.state < 2;
            break;
        }
        if script_started.is_none() && boot_limit.is_some_and(|l| start.elapsed() >= l) {
            hung = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = start.elapsed();
    let mut child = guard.0.take().expect("qemu child");
    if qemu_status.is_none() {
        let _ = child.kill();
    }
    let res = child.wait_with_output()?;
    // TCG warns about every CPUID feature of Haswell-v4 it cannot emulate: noise.
    let qemu_stderr = String::from_utf8_lossy(&res.stderr)
        .lines()
        .filter(|l| !l.contains("TCG doesn't support requested feature"))
        .collect::<Vec<_>>()
        .join("\n");
    let console = fs::read_to_string(&console_log).unwrap_or_default();
    if cfg.verbose {
        eprintln!("---- kernel console ----\n{console}---- end of console ----");
    }
    if hung {
        return Ok(Boot::Hung { console });
    }

    let outcome = if let Some(status) = framer.status {
        Outcome::Finished { status }
    } else if timed_out {
        Outcome::Timeout
    } else {
        let mut s = match qemu_status {
            Some(st) => format!("qemu exited with {st}"),
            None => "qemu was stopped".to_string(),
        };
        if !qemu_stderr.is_empty() {
            s.push_str(&format!(": {qemu_stderr}"));
        }
        Outcome::Died { qemu_status: s }
    };
    Ok(Boot::Ran(VmResult {
        outcome,
        output: framer.output,
        dmesg: framer.dmesg,
        console,
        elapsed,
        script_started,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        let mut f = Framer::new("M".into());
        f.feed(b"junk\r\nM BEGIN\r\nhello\r\nno newline", false);
        f.feed(b"M END rc=3\r\nM DMESG\nk1\nk2\nM DONE\n", false);
        assert_eq!(f.status, Some(3));
        assert_eq!(f.output, "hello\nno newline\n");
        assert_eq!(f.dmesg, "k1\nk2\n");

        let mut f = Framer::new("M".into());
        f.feed(b"M BEGIN\nout\n\nM END rc=0\n", false);
        assert_eq!(f.output, "out\n");
        assert_eq!(f.status, Some(0));
    }
}
