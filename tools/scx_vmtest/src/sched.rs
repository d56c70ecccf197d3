//! `scx_vmtest sched`: standard checks of BPF schedulers, several in one boot.

use crate::kernel::{self, KernelSpec};
use crate::topology::Topology;
use crate::{parse_file_arg, report_outcome, vm, EXIT_DIED, EXIT_TIMEOUT};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::time::Duration;

const COMMON_SH: &str = include_str!("guest/common.sh");
const ATTACH_LOAD_DETACH_SH: &str = include_str!("guest/attach-load-detach.sh");
const SIGKILL_SH: &str = include_str!("guest/sigkill.sh");
const EXPECT_STALL_SH: &str = include_str!("guest/expect-stall.sh");
const BUSY_SH: &str = include_str!("guest/busy.sh");

/// hackbench workload: 2 groups of 10 sender/receiver pairs, 100 loops each.
const HACKBENCH_ARGS: &str = "-g 2 -f 10 -l 100";
/// Default bound of the responsiveness probe: its longest 0.1 s sleep under load may take at
/// most this long (ms of guest time). See README.md ("Responsiveness bound") for the measurements.
pub const RESP_LIMIT_MS_DEFAULT: u32 = 1_500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Attach, run load, check responsiveness, SIGINT, expect exit 0 and a clean detach.
    AttachLoadDetach,
    /// Attach, start load, kill -9 the loader; the kernel must detach it, load completes.
    Sigkill,
    /// The scheduler never dispatches tasks named `stallme`; the watchdog must eject it.
    ExpectStall,
    /// With the scheduler attached, every scheduler binary of the run must refuse to attach.
    Busy,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::AttachLoadDetach => "attach-load-detach",
            Scenario::Sigkill => "sigkill",
            Scenario::ExpectStall => "expect-stall",
            Scenario::Busy => "busy",
        }
    }

    fn script(self) -> &'static str {
        match self {
            Scenario::AttachLoadDetach => ATTACH_LOAD_DETACH_SH,
            Scenario::Sigkill => SIGKILL_SH,
            Scenario::ExpectStall => EXPECT_STALL_SH,
            Scenario::Busy => BUSY_SH,
        }
    }

    /// Upper bound of one check in the guest, in seconds (the guest's own limits add up
    /// to less than this).
    fn budget_secs(self, load_secs: u32, intruders: usize) -> u64 {
        let load = u64::from(load_secs);
        match self {
            // attach 30 + load (load + 120) + detach 15 + kill 10 + slack
            Scenario::AttachLoadDetach | Scenario::Sigkill => 220 + load,
            // attach 30 + eject 90 + exit 15 + stop 25 + slack
            Scenario::ExpectStall => 200,
            // attach 30 + 30 per intruder + detach 15 + kill 10 + slack
            Scenario::Busy => 80 + 30 * intruders as u64,
        }
    }
}

pub struct SchedOpts {
    pub kernel: KernelSpec,
    pub emulation: crate::emulation::Emulation,
    pub topology: Topology,
    pub memory_mib: u32,
    pub dmesg: bool,
    pub verbose: bool,
    pub scheds: Vec<String>,
    /// One for every scheduler, or one per scheduler in order.
    pub scenarios: Vec<Scenario>,
    /// One for every scheduler, or one per scheduler in order; empty: the default.
    pub resp_limit_ms: Vec<u32>,
    pub load_secs: u32,
    pub files: Vec<String>,
    pub timeout: Option<u64>,
}

struct SchedArg {
    name: String,
    host: PathBuf,
    guest: String,
    args: String,
}

fn parse_sched(i: usize, s: &str) -> Result<SchedArg> {
    let (path, args) = match s.split_once(':') {
        Some((p, a)) => (p, a.trim()),
        None => (s, ""),
    };
    let host = PathBuf::from(path);
    if !host.is_file() {
        bail!("--sched: '{path}' is not a file");
    }
    let name = host
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic() && c != '\'') {
        bail!("--sched: unusable scheduler file name '{name}'");
    }
    Ok(SchedArg {
        guest: format!("/opt/sched/{i}/{name}"),
        name,
        host,
        args: args.to_string(),
    })
}

/// `values` given once applies to every one of `n` schedulers; given `n` times, the i-th to the
/// i-th; not given, `default` for all.
fn per_sched<T: Copy>(what: &str, values: &[T], n: usize, default: T) -> Result<Vec<T>> {
    match values.len() {
        0 => Ok(vec![default; n]),
        1 => Ok(vec![values[0]; n]),
        k if k == n => Ok(values.to_vec()),
        k => bail!(
            "{what} given {k} times for {n} --sched: give it once (for all) or once per --sched"
        ),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A RESULT line's `key=value` fields.
fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace()
        .skip(1)
        .filter_map(|f| f.split_once('='))
        .collect()
}

/// The guest script: each check sources its scenario (which defines `check`) and sets its
/// responsiveness bound, one after the other.
fn guest_script(scheds: &[SchedArg], scenarios: &[Scenario], resp_limits: &[u32]) -> String {
    let mut script = String::from("# generated by scx_vmtest sched\n. /vmtest/common.sh\n");
    for (i, s) in scheds.iter().enumerate() {
        script.push_str(&format!(
            "wait_idle || echo 'scx_vmtest: sched_ext is not idle before check {i}'\n\
             . /vmtest/scenario-{}.sh\n\
             RESP_LIMIT_MS={}\n\
             check {i} {} {} {}\n",
            scenarios[i].name(),
            resp_limits[i],
            shell_quote(&s.name),
            shell_quote(&s.guest),
            shell_quote(&s.args)
        ));
    }
    script
}

/// The distinct scheduler binaries of the run, one line each: guest path, then the arguments of
/// its first `--sched` (the busy scenario's intruders: a scheduler that needs arguments to run
/// at all, such as a config file, must get them to reach its attach).
fn intruders(scheds: &[SchedArg]) -> String {
    let mut seen: Vec<&PathBuf> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for s in scheds {
        if !seen.contains(&&s.host) {
            seen.push(&s.host);
            out.push(format!("{} {}", s.guest, s.args).trim_end().to_string());
        }
    }
    out.join("\n")
}

pub fn cmd_sched(o: SchedOpts) -> Result<i32> {
    let scheds: Vec<SchedArg> = o
        .scheds
        .iter()
        .enumerate()
        .map(|(i, s)| parse_sched(i, s))
        .collect::<Result<_>>()?;
    let n = scheds.len();
    let scenarios = per_sched("--scenario", &o.scenarios, n, Scenario::AttachLoadDetach)?;
    let resp_limits = per_sched(
        "--resp-limit-ms",
        &o.resp_limit_ms,
        n,
        RESP_LIMIT_MS_DEFAULT,
    )?;
    let k = kernel::resolve(&o.kernel)?;
    let mut root = vm::Initramfs::new()?;
    for s in &scheds {
        root.add_binary(&s.host, &s.guest)?;
    }
    for f in &o.files {
        let (host, guest) = parse_file_arg(f)?;
        root.add_binary(&host, &guest)?;
    }
    root.add_bytes("/vmtest/common.sh", COMMON_SH.as_bytes(), 0o644)?;
    for sc in &scenarios {
        root.add_bytes(
            &format!("/vmtest/scenario-{}.sh", sc.name()),
            sc.script().as_bytes(),
            0o644,
        )?;
    }
    let script = guest_script(&scheds, &scenarios, &resp_limits);

    let timeout = o.timeout.unwrap_or_else(|| {
        120 + scenarios
            .iter()
            .map(|sc| sc.budget_secs(o.load_secs, intruders(&scheds).lines().count()))
            .sum::<u64>()
    });
    let scenario_names = {
        let mut v: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
        v.dedup();
        v.join(",")
    };
    let cfg = vm::VmConfig {
        kernel: &k,
        emulation: o.emulation.clone(),
        topology: o.topology.clone(),
        memory_mib: o.memory_mib,
        timeout: Duration::from_secs(timeout),
        script,
        env: vec![
            ("VMTEST_KERNEL".into(), k.version.to_string()),
            ("LOAD_SECS".into(), o.load_secs.to_string()),
            ("HACKBENCH_ARGS".into(), HACKBENCH_ARGS.into()),
            ("INTRUDERS".into(), intruders(&scheds)),
        ],
        stream: true,
        verbose: o.verbose,
    };
    eprintln!(
        "scx_vmtest: kernel {}, topology {}, {} MiB, scenario {}, {} scheduler(s), timeout {} s",
        k.version,
        o.topology,
        o.memory_mib,
        scenario_names,
        scheds.len(),
        timeout
    );
    let res = vm::run(&cfg, root)?;
    if o.dmesg {
        eprintln!("---- guest dmesg ----\n{}---- end of dmesg ----", res.dmesg);
    }

    // Match the RESULT lines to the schedulers, in order.
    let results: Vec<&str> = res
        .output
        .lines()
        .filter(|l| l.starts_with("RESULT "))
        .collect();
    let vm_status = report_outcome(&res, timeout);
    let vm_ok = matches!(res.outcome, vm::Outcome::Finished { .. });
    if vm_ok && vm_status != 0 {
        eprintln!("scx_vmtest: the guest script exited with {vm_status}");
    }
    // Every scheduler gets a RESULT line on stdout, even when the guest never printed one.
    let why_missing = match res.outcome {
        vm::Outcome::Timeout => "vm_timeout",
        vm::Outcome::Died { .. } => "vm_died",
        vm::Outcome::Finished { .. } => "no_result",
    };
    let synthesized: Vec<String> = scheds
        .iter()
        .zip(&scenarios)
        .skip(results.len())
        .map(|(s, sc)| {
            format!(
                "RESULT sched={} kernel={} scenario={} verdict=FAIL why={why_missing}",
                s.name,
                k.version,
                sc.name()
            )
        })
        .collect();
    for l in &synthesized {
        println!("{l}");
    }
    let results: Vec<&str> = results
        .into_iter()
        .chain(synthesized.iter().map(|s| s.as_str()))
        .collect();
    println!(
        "==== scx_vmtest summary: kernel {} scenario {} topology {} ({:.1} s) ====",
        k.version,
        scenario_names,
        o.topology,
        res.elapsed.as_secs_f64()
    );
    let mut failed = 0;
    for (i, s) in scheds.iter().enumerate() {
        let line = results.get(i).copied();
        let f = line.map(fields).unwrap_or_default();
        let get = |k: &str| f.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
        let pass = get("sched") == Some(s.name.as_str())
            && get("scenario") == Some(scenarios[i].name())
            && get("verdict") == Some("PASS");
        if !pass {
            failed += 1;
        }
        println!(
            "{} {:<24} {}",
            if pass { "PASS" } else { "FAIL" },
            s.name,
            line.unwrap_or("")
        );
    }
    println!(
        "==== {} passed, {} failed ====",
        scheds.len() - failed,
        failed
    );
    Ok(match res.outcome {
        vm::Outcome::Timeout => EXIT_TIMEOUT,
        vm::Outcome::Died { .. } => EXIT_DIED,
        vm::Outcome::Finished { .. } if failed > 0 || vm_status != 0 => 1,
        vm::Outcome::Finished { .. } => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `stall_report` of common.sh (with the host's /bin/sh) on `log`; returns "KIND VICTIM".
    fn stall_report(log: &str, name: &str, pid: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let common = dir.path().join("common.sh");
        let log_path = dir.path().join("log");
        std::fs::write(&common, COMMON_SH).unwrap();
        std::fs::write(&log_path, log).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#". "$1"; stall_report "$2" "$3" "$4"; echo "$KIND $VICTIM""#)
            .args([
                "sh",
                common.to_str().unwrap(),
                log_path.to_str().unwrap(),
                name,
                pid,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    const C_REPORT: &str = "scx_stall: attached; tasks named 'stallme' will never run\n\
        scx_stall: scheduler failed: the kernel's watchdog found a runnable task stall (a task \
        was not run in time) (kind SCX_EXIT_ERROR_STALL = 1026, exit code 0x0)\n\
        scx_stall: reason: runnable task stall\n\
        scx_stall: message: stallme[123] failed to run for 3.340s\n";

    #[test]
    fn stall_report_wants_the_kind_and_our_victim() {
        // C loader.h and Rust ExitInfo::report (through simplelog's level prefix) alike.
        assert_eq!(stall_report(C_REPORT, "scx_stall", "123"), "yes yes");
        let rust = C_REPORT.replace("scx_stall: scheduler", "[ERROR] scx_stall: scheduler");
        assert_eq!(stall_report(&rust, "scx_stall", "123"), "yes yes");
        // Another task's pid, or one that merely contains ours, is not our victim.
        assert_eq!(stall_report(C_REPORT, "scx_stall", "12"), "yes no");
        assert_eq!(stall_report(C_REPORT, "scx_stall", "1234"), "yes no");
        // Another exit kind, even with "stall" all over the log, fails.
        let bpf_error =
            C_REPORT.replace("SCX_EXIT_ERROR_STALL = 1026", "SCX_EXIT_ERROR_BPF = 1025");
        assert_eq!(stall_report(&bpf_error, "scx_stall", "123"), "no yes");
        // The old check passed on the banner alone.
        let banner = "scx_stall: attached; tasks named 'stallme' will never run (stall test)\n";
        assert_eq!(stall_report(banner, "scx_stall", "123"), "no no");
        // Another program's report does not count for this one.
        assert_eq!(stall_report(C_REPORT, "scx_rusty", "123"), "no no");
    }

    #[test]
    fn per_sched_values() {
        assert_eq!(per_sched("x", &[], 3, 7).unwrap(), vec![7, 7, 7]);
        assert_eq!(per_sched("x", &[5], 3, 7).unwrap(), vec![5, 5, 5]);
        assert_eq!(per_sched("x", &[1, 2, 3], 3, 7).unwrap(), vec![1, 2, 3]);
        let err = per_sched("--resp-limit-ms", &[1, 2], 3, 7).unwrap_err();
        assert!(
            err.to_string()
                .contains("--resp-limit-ms given 2 times for 3"),
            "{err}"
        );
    }

    #[test]
    fn guest_script_sources_each_scenario_and_sets_its_bound() {
        let s = |i: usize, name: &str, host: &str, args: &str| SchedArg {
            name: name.into(),
            host: PathBuf::from(host),
            guest: format!("/opt/sched/{i}/{name}"),
            args: args.into(),
        };
        let scheds = [
            s(0, "scx_simple", "/b/scx_simple", ""),
            s(1, "scx_simple", "/b/scx_simple", "--fifo"),
            s(2, "scx_stall", "/b/scx_stall", ""),
        ];
        let script = guest_script(
            &scheds,
            &[Scenario::Sigkill, Scenario::Busy, Scenario::ExpectStall],
            &[100, 200, 300],
        );
        let want = ". /vmtest/scenario-busy.sh\nRESP_LIMIT_MS=200\n\
                    check 1 'scx_simple' '/opt/sched/1/scx_simple' '--fifo'\n";
        assert!(script.contains(want), "{script}");
        assert!(script.contains(". /vmtest/scenario-expect-stall.sh\nRESP_LIMIT_MS=300\n"));
        assert_eq!(
            intruders(&scheds),
            "/opt/sched/0/scx_simple\n/opt/sched/2/scx_stall"
        );
        let with_args = [s(0, "scx_layered", "/b/scx_layered", "/etc/l.json")];
        assert_eq!(
            intruders(&with_args),
            "/opt/sched/0/scx_layered /etc/l.json"
        );
    }
}
