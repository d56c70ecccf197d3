//! scx_vmtest: boot a real sched_ext kernel under qemu and prove schedulers in it.
//!
//! See README.md for usage, the cache layout, the scenarios and the result format.

mod emulation;
mod kernel;
mod sched;
mod topology;
mod vm;
mod witness;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use kernel::KernelSpec;
use std::path::PathBuf;
use std::time::Duration;
use topology::Topology;

/// Exit status when the guest did not finish in time (qemu was killed).
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit status when the guest died before the end marker (panic, oops in init, ...).
pub const EXIT_DIED: i32 = 125;
/// Exit status for host-side errors (bad arguments, bad files, a prerequisite missing under
/// CI=true, ...).
pub const EXIT_HOST_ERROR: i32 = 126;
/// Exit status when a prerequisite of the host is missing (meson's SKIP), unless CI=true.
pub const EXIT_SKIP: i32 = 77;

/// A prerequisite of the host is missing: a tool (qemu, cpio, busybox, ...) or a kernel that is
/// neither cached nor fetchable. The test could not run: `scx_vmtest` exits [`EXIT_SKIP`], or
/// [`EXIT_HOST_ERROR`] under `CI=true` (the project's convention: in CI a skip is a failure).
#[derive(Debug)]
pub struct MissingPrereq(pub String);

impl std::fmt::Display for MissingPrereq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MissingPrereq {}

/// The exit status for an error: [`EXIT_SKIP`] when a prerequisite is missing (outside CI),
/// else [`EXIT_HOST_ERROR`].
fn error_status(e: &anyhow::Error, ci: bool) -> i32 {
    let missing = e
        .chain()
        .any(|c| c.downcast_ref::<MissingPrereq>().is_some());
    if missing && !ci {
        EXIT_SKIP
    } else {
        EXIT_HOST_ERROR
    }
}

#[derive(Parser)]
#[command(
    name = "scx_vmtest",
    version,
    about = "Boot a real sched_ext kernel under qemu (TCG) and test BPF schedulers in it",
    long_about = "Boot a real sched_ext kernel under qemu (software emulation, TCG) and test \
BPF schedulers in it.\n\nKernels are Debian trixie-backports linux-binary-<ver>+deb13-amd64 \
packages, fetched through this machine's apt mirror into a private apt state and cached under \
$SCX_VMTEST_CACHE, else $XDG_CACHE_HOME/scx_vmtest, else ~/.cache/scx_vmtest.\n\nExit status: \
the script's status (run), 0/1 for all-PASS/some-FAIL (sched), 124 if the guest timed out, 125 \
if the guest died before finishing (panic), 126 for host-side errors, 77 (a SKIP for meson) when \
a prerequisite is missing (a tool, a kernel neither cached nor fetchable), 126 for that too \
under CI=true."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct KernelArg {
    /// Kernel to boot: `default` (pinned 7.3.4), `newest`, a series like `7.3` or `6.19`
    /// (its pinned version if the archive has it, else the series' newest), or an exact
    /// version like `7.3.4`.
    #[arg(long, short = 'k', default_value = "default", value_name = "SPEC")]
    kernel: KernelSpec,
}

#[derive(Args, Clone)]
struct MachineArgs {
    /// Guest CPU topology: `sockets=S,cores=C,threads=T[,nodes=N]` or `cpus=N[,nodes=N]`.
    /// Nodes split sockets (or CPUs) evenly; memory is divided between nodes.
    #[arg(long, short = 't', default_value = "cpus=2", value_name = "TOPO")]
    topology: Topology,

    /// Guest memory in MiB (total over all nodes).
    #[arg(long, short = 'm', default_value_t = 1024, value_name = "MiB")]
    memory: u32,

    /// Print the guest's dmesg (taken after the script) on stderr.
    #[arg(long)]
    dmesg: bool,

    /// Print the qemu command line and the kernel console on stderr.
    #[arg(long, short = 'v')]
    verbose: bool,

    /// Guest time follows the instruction count (qemu's icount): each guest instruction takes
    /// 2^SHIFT ns of guest time (0 or 1 is about this emulator's real speed). A vCPU then
    /// waits for its turn on the emulator's one host thread about 1 ms of guest time at most,
    /// instead of 10 ms and more with the host's clock: for latency benchmarks.
    #[arg(long, value_name = "SHIFT", value_parser = clap::value_parser!(u8).range(0..=emulation::MAX_SHIFT as i64))]
    icount: Option<u8>,

    /// Idle vCPUs poll (the guest kernel's `idle=poll`) instead of halting.
    #[arg(long)]
    idle_poll: bool,
}

impl MachineArgs {
    fn emulation(&self) -> emulation::Emulation {
        emulation::Emulation {
            icount_shift: self.icount,
            idle_poll: self.idle_poll,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Resolve, fetch and cache a kernel; print the path of its vmlinuz (or vmlinux).
    Kernel {
        #[command(flatten)]
        kernel: KernelArg,
        /// Also extract the uncompressed ELF vmlinux (for BTF / vmlinux.h) and print its
        /// path instead.
        #[arg(long)]
        vmlinux: bool,
    },
    /// Boot a guest and run a shell script in it; exit with the script's status.
    ///
    /// The guest has busybox, hackbench, stress-ng and every --file (with the shared
    /// libraries ldd lists for it). /init mounts proc, sysfs, devtmpfs, bpffs, debugfs,
    /// tracefs and cgroup2, runs SCRIPT with /bin/sh in /root and powers off. The script's
    /// stdout+stderr is printed on stdout as it runs.
    Run {
        #[command(flatten)]
        kernel: KernelArg,
        #[command(flatten)]
        machine: MachineArgs,
        /// Copy a host file into the guest (default guest path /usr/bin/<basename>).
        #[arg(long, short = 'f', value_name = "HOST[:GUEST]")]
        file: Vec<String>,
        /// Give up (and kill qemu) after this many seconds.
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        timeout: u64,
        /// The shell script to run in the guest (one argument; use quotes).
        #[arg(last = true, required = true, value_name = "SCRIPT")]
        script: Vec<String>,
    },
    /// Run the standard checks on one or more schedulers, all in one boot.
    ///
    /// Each --sched is PATH[:ARGS]; ARGS is a space-separated argument string. Every
    /// scheduler is checked in turn and reported as one line:
    ///
    /// RESULT sched=<name> kernel=<ver> scenario=<s> attached=yes|no ops=<name>|- ...
    /// verdict=PASS|FAIL
    ///
    /// Scenarios:
    ///  attach-load-detach: attach, run hackbench + stress-ng, check the guest stays
    ///   responsive and the scheduler stays enabled, SIGINT, expect a clean exit (0) and
    ///   detach, no oops / BPF error in dmesg.
    ///  sigkill: attach, start load, kill -9 the loader; expect detach within 10 s, the load
    ///   to complete, no oops.
    ///  expect-stall: for deliberately broken schedulers that never dispatch tasks whose comm
    ///   is `stallme`. The check starts a CPU-bound script /tmp/stallme and expects the
    ///   kernel watchdog to eject the scheduler by itself, the loader to exit 1, its report
    ///   to name the kind SCX_EXIT_ERROR_STALL = 1026 and its message the stalled task
    ///   (comm stallme and the pid the check started).
    ///  busy: attach; every scheduler binary of the run must then refuse to attach (exit 2,
    ///   naming the attached ops) and leave it enabled; SIGINT, exit 0, detach.
    Sched {
        #[command(flatten)]
        kernel: KernelArg,
        #[command(flatten)]
        machine: MachineArgs,
        /// Scheduler to check: PATH[:ARGS] (repeatable; checked one after the other).
        #[arg(
            long = "sched",
            short = 's',
            required = true,
            value_name = "PATH[:ARGS]"
        )]
        scheds: Vec<String>,
        /// Check to run: given once, on every scheduler; given once per --sched, the i-th on
        /// the i-th (so one boot can run several scenarios) [default: attach-load-detach].
        #[arg(long, value_enum, value_name = "NAME")]
        scenario: Vec<sched::Scenario>,
        /// Bound of the responsiveness probe (attach-load-detach): the worst `sleep 0.1`
        /// iteration under load may take at most this many ms of guest time. Given once, for
        /// every scheduler; given once per --sched, the i-th for the i-th [default: the tight
        /// bound of README.md's "Responsiveness bound"].
        #[arg(long, value_name = "MS")]
        resp_limit_ms: Vec<u32>,
        /// Seconds of stress-ng load (attach-load-detach, sigkill).
        #[arg(long, default_value_t = 5, value_name = "N")]
        load_secs: u32,
        /// Extra file for the guest, as in `run` (e.g. a helper the scheduler needs).
        #[arg(long, short = 'f', value_name = "HOST[:GUEST]")]
        file: Vec<String>,
        /// Give up (and kill qemu) after this many seconds [default: computed from the
        /// number of schedulers and the scenario].
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
    },
    /// (Inside the guest) exec a command with SIGINT and SIGQUIT at their defaults.
    ///
    /// A non-interactive shell starts background commands with SIGINT ignored; schedulers
    /// are started through this so that SIGINT reaches them as it would from a terminal.
    #[command(hide = true)]
    GuestExec {
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
    /// (Inside the guest) the responsiveness probe's witness: a SCHED_FIFO thread that logs
    /// to FILE, as `START END` centiseconds, every stretch it could not run (src/witness.rs).
    #[command(hide = true)]
    GuestWitness {
        #[arg(value_name = "FILE")]
        out: PathBuf,
    },
    /// (Inside the guest) print the probe's longest sleep with the witness's stalls taken off,
    /// then the witness's longest stall (centiseconds).
    #[command(hide = true)]
    GuestJudge {
        /// The longest sleep the probe did not record.
        #[arg(long)]
        quick_max: u64,
        /// The probe's recorded sleeps, `START END` lines.
        #[arg(long)]
        slow: PathBuf,
        /// The witness's log (missing: no stall seen).
        #[arg(long)]
        witness: PathBuf,
    },
}

/// `guest-judge`: read both span files and print `SCHED_CS STALL_CS`.
fn guest_judge(quick_max: u64, slow: &std::path::Path, witness: &std::path::Path) -> Result<i32> {
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let j = witness::judge(
        quick_max,
        &witness::parse_spans(&read(slow)),
        &witness::parse_spans(&read(witness)),
    );
    println!("{} {}", j.sched_cs, j.stall_cs);
    Ok(0)
}

/// Reset the signals a background job inherits as ignored, then exec `argv`.
fn guest_exec(argv: &[String]) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    for sig in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: installing the default disposition has no memory-safety preconditions.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    let err = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    anyhow::Error::new(err).context(format!("exec {}", argv[0]))
}

/// `HOST[:GUEST]` → (host path, guest path).
pub fn parse_file_arg(s: &str) -> Result<(PathBuf, String)> {
    let (host, guest) = match s.split_once(':') {
        Some((h, g)) => (PathBuf::from(h), g.to_string()),
        None => {
            let h = PathBuf::from(s);
            let name = h
                .file_name()
                .with_context(|| format!("--file '{s}' has no file name"))?
                .to_string_lossy()
                .to_string();
            (h, format!("/usr/bin/{name}"))
        }
    };
    if !host.is_file() {
        bail!("--file: '{}' is not a file", host.display());
    }
    if !guest.starts_with('/') {
        bail!("--file: guest path '{guest}' must be absolute");
    }
    Ok((host, guest))
}

fn cmd_run(
    kernel: KernelSpec,
    machine: MachineArgs,
    files: Vec<String>,
    timeout: u64,
    script: Vec<String>,
) -> Result<i32> {
    let k = kernel::resolve(&kernel)?;
    let mut root = vm::Initramfs::new()?;
    for f in &files {
        let (host, guest) = parse_file_arg(f)?;
        root.add_binary(&host, &guest)?;
    }
    let cfg = vm::VmConfig {
        kernel: &k,
        emulation: machine.emulation(),
        topology: machine.topology,
        memory_mib: machine.memory,
        timeout: Duration::from_secs(timeout),
        script: script.join(" ") + "\n",
        env: vec![("VMTEST_KERNEL".into(), k.version.to_string())],
        stream: true,
        verbose: machine.verbose,
    };
    let res = vm::run(&cfg, root)?;
    if machine.dmesg {
        eprintln!("---- guest dmesg ----\n{}---- end of dmesg ----", res.dmesg);
    }
    Ok(report_outcome(&res, timeout))
}

/// Print a clear message for a guest that did not finish; return the exit status.
pub fn report_outcome(res: &vm::VmResult, timeout: u64) -> i32 {
    match &res.outcome {
        vm::Outcome::Finished { status } => *status,
        vm::Outcome::Timeout => {
            // Say how far the guest got: a boot that never reached the script is a different
            // problem (emulator, kernel) from a script that ran out of time (test, scheduler).
            let stage = match res.script_started {
                None => "The guest never started the script (boot or init did not finish).".into(),
                Some(t) => format!(
                    "The script started {:.1} s after boot began; its last lines:\n{}",
                    t.as_secs_f64(),
                    res.output_tail(30)
                ),
            };
            eprintln!(
                "scx_vmtest: ERROR: the guest did not finish within {timeout} s; qemu was \
                 killed. {stage}\nLast kernel console lines:\n{}",
                res.console_tail(40)
            );
            EXIT_TIMEOUT
        }
        vm::Outcome::Died { qemu_status } => {
            eprintln!(
                "scx_vmtest: ERROR: the guest died before the script finished ({qemu_status}) \
                 after {:.1} s (kernel panic or oops?). Last kernel console lines:\n{}",
                res.elapsed.as_secs_f64(),
                res.console_tail(60)
            );
            EXIT_DIED
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Kernel { kernel, vmlinux } => kernel::resolve(&kernel.kernel).and_then(|k| {
            let p = if vmlinux { k.vmlinux()? } else { k.vmlinuz() };
            println!("{}", p.display());
            Ok(0)
        }),
        Cmd::GuestExec { argv } => Err(guest_exec(&argv)),
        Cmd::GuestWitness { out } => witness::run(&out).map(|()| 0),
        Cmd::GuestJudge {
            quick_max,
            slow,
            witness,
        } => guest_judge(quick_max, &slow, &witness),
        Cmd::Run {
            kernel,
            machine,
            file,
            timeout,
            script,
        } => cmd_run(kernel.kernel, machine, file, timeout, script),
        Cmd::Sched {
            kernel,
            machine,
            scheds,
            scenario,
            resp_limit_ms,
            load_secs,
            file,
            timeout,
        } => sched::cmd_sched(sched::SchedOpts {
            kernel: kernel.kernel,
            emulation: machine.emulation(),
            topology: machine.topology,
            memory_mib: machine.memory,
            dmesg: machine.dmesg,
            verbose: machine.verbose,
            scheds,
            scenarios: scenario,
            resp_limit_ms,
            load_secs,
            files: file,
            timeout,
        }),
    };
    match res {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("scx_vmtest: error: {e:#}");
            let status = error_status(&e, std::env::var("CI").as_deref() == Ok("true"));
            if status == EXIT_SKIP {
                eprintln!(
                    "scx_vmtest: a prerequisite is missing: exit {EXIT_SKIP} (SKIP; with CI=true \
                     it is a failure, exit {EXIT_HOST_ERROR})"
                );
            }
            std::process::exit(status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_is_a_skip_except_in_ci() {
        let e = kernel::which("scx-vmtest-no-such-program")
            .context("qemu-system-x86_64 is needed")
            .unwrap_err();
        assert_eq!(error_status(&e, false), EXIT_SKIP);
        assert_eq!(error_status(&e, true), EXIT_HOST_ERROR);
        let other = anyhow::anyhow!("--file: 'x' is not a file");
        assert_eq!(error_status(&other, false), EXIT_HOST_ERROR);
    }

    #[test]
    fn icount_shift_is_bounded_on_the_command_line() {
        let run = |shift: &str| {
            Cli::try_parse_from(["scx_vmtest", "run", "--icount", shift, "--", "true"])
        };
        assert!(run("10").is_ok());
        let err = run("11")
            .err()
            .expect("shift 11 must be refused")
            .to_string();
        assert!(err.contains("--icount"), "{err}");
    }
}
