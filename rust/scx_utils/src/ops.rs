//! Open / load / attach with the running kernel's quirks smoothed over.

use crate::exit_info::DUMP_CAPACITY;
use crate::kernel_btf::KernelBtf;
use crate::kernel_enums::OpsFlag;
use crate::skel::OpenScxSkel;
use crate::sysfs;
use anyhow::{anyhow, bail, Context, Result};
use libbpf_rs::{Link, OpenObject};
use std::path::Path;

/// Loader choices that [`prepare_ops`] writes into the ops struct.
#[derive(Debug, Clone, Default)]
pub struct OpsOptions {
    /// Bytes of the kernel's debug dump to keep on an error exit; `None` for the full
    /// capacity of the exit report (32768).
    pub exit_dump_len: Option<u32>,
    /// `SCX_OPS_*` flags to set, valued from the running kernel's BTF; a flag the kernel lacks
    /// is an error, since the scheduler asked for it explicitly.
    pub set_flags: Vec<OpsFlag>,
}

/// Fail early, in plain words, when this machine cannot run a sched_ext scheduler now: not root,
/// no sched_ext in the kernel, no kernel BTF, or another scheduler already attached.
pub fn preflight() -> Result<()> {
    // SAFETY: geteuid has no failure mode.
    if unsafe { libc::geteuid() } != 0 {
        bail!("must run as root: loading a BPF scheduler needs CAP_SYS_ADMIN and CAP_BPF");
    }
    if !Path::new(sysfs::SCHED_EXT_DIR).exists() {
        bail!(
            "this kernel has no sched_ext ({} is missing): boot a kernel built with \
             CONFIG_SCHED_CLASS_EXT=y (6.12 or newer)",
            sysfs::SCHED_EXT_DIR
        );
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        bail!("the kernel exposes no BTF (/sys/kernel/btf/vmlinux): CONFIG_DEBUG_INFO_BTF=y is required");
    }
    refuse_if_busy()
}

fn refuse_if_busy() -> Result<()> {
    let state = sysfs::state()?;
    if state != "disabled" {
        let name = sysfs::ops_name().unwrap_or_else(|| "?".into());
        bail!("another sched_ext scheduler is {state} (\"{name}\"): stop it first");
    }
    Ok(())
}

/// Single-bit values of `enum scx_ops_flags` the kernel knows (masks and internal bits left out).
fn known_ops_flags(kernel: &KernelBtf) -> u64 {
    kernel
        .enum_values("scx_ops_flags")
        .unwrap_or_default()
        .into_iter()
        .filter(|(n, v)| {
            n.starts_with("SCX_OPS_")
                && n != "SCX_OPS_ALL_FLAGS"
                && v.is_power_of_two()
                && *v < 1 << 56
        })
        .fold(0, |acc, (_, v)| acc | v)
}

/// Fit an opened (not yet loaded) skeleton's ops struct to the running kernel:
/// - `hotplug_seq` is set to `hotplug_seq` — read it with [`sysfs::hotplug_seq`] **before**
///   discovering the topology the scheduler is configured from, so that a CPU coming or going in
///   between makes the kernel ask for a restart instead of running with a stale topology (the
///   [`RunLoop`](crate::RunLoop) does this);
/// - `exit_dump_len` is set so the kernel's debug dump fits the exit report;
/// - the requested flags are valued from the kernel's BTF and set;
/// - data members this kernel's `struct sched_ext_ops` lacks are zeroed and flags it lacks are
///   cleared, each with a warning (libbpf refuses unknown non-zero members; callbacks the kernel
///   lacks are dropped by libbpf itself);
/// - kfuncs the kernel cannot run are named before the verifier fails on them.
pub fn prepare_ops<'obj, S: OpenScxSkel<'obj>>(
    skel: &mut S,
    opts: &OpsOptions,
    hotplug_seq: Option<u64>,
) -> Result<()> {
    let kernel = KernelBtf::load()?;
    let dump_len = dump_len(opts)?;
    let mut wanted = 0;
    for flag in &opts.set_flags {
        wanted |= flag_value(&kernel, *flag)?;
    }
    let ops = skel.ops_fields();
    *ops.flags |= wanted;
    *ops.exit_dump_len = dump_len;
    if let Some(seq) = hotplug_seq {
        *ops.hotplug_seq = seq;
    }
    let map = skel.ops_map_name();
    let plain = OpsOptions {
        exit_dump_len: Some(dump_len),
        set_flags: Vec::new(),
    };
    let elf = skel.object_elf();
    for warning in prepare_ops_for(
        skel.open_object_mut(),
        map,
        &plain,
        &kernel,
        hotplug_seq,
        elf,
    )? {
        log::warn!("{warning}");
    }
    Ok(())
}

fn dump_len(opts: &OpsOptions) -> Result<u32> {
    let dump_len = opts.exit_dump_len.unwrap_or(DUMP_CAPACITY as u32);
    if dump_len as usize > DUMP_CAPACITY {
        bail!("exit dump length {dump_len} is larger than the {DUMP_CAPACITY} bytes the exit report holds");
    }
    Ok(dump_len)
}

fn flag_value(kernel: &KernelBtf, flag: OpsFlag) -> Result<u64> {
    flag.value_in(kernel).ok_or_else(|| {
        anyhow!(
            "this kernel has no {}: it is too old for this option",
            flag.name()
        )
    })
}

/// The object-level half of [`prepare_ops`] for loaders without a skeleton type (and for tests
/// against other kernels' BTF): the same adjustments on the struct_ops map named `ops_map`,
/// through the object's BTF offsets.
pub(crate) fn prepare_ops_for(
    obj: &mut OpenObject,
    ops_map: &str,
    opts: &OpsOptions,
    kernel: &KernelBtf,
    hotplug_seq: Option<u64>,
    object_elf: Option<&[u8]>,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let dump_len = dump_len(opts)?;
    let obj_btf = KernelBtf::of_object(obj)?;
    // libbpf keeps no relocations once an object is open, so telling guarded calls from
    // unguarded ones needs the object's ELF; without it this check is left to the caller
    // (KernelBtf::kfunc_call_warnings).
    if let Some(elf) = object_elf {
        warnings.extend(kernel.kfunc_call_warnings(elf)?);
    }
    let obj_members = obj_btf
        .struct_members("sched_ext_ops")
        .ok_or_else(|| anyhow!("the BPF object has no struct sched_ext_ops"))?;
    let kernel_members = kernel.struct_members("sched_ext_ops").ok_or_else(|| {
        anyhow!("the kernel's BTF has no struct sched_ext_ops: is sched_ext enabled?")
    })?;
    let known_flags = known_ops_flags(kernel);

    let mut map = obj
        .maps_mut()
        .find(|m| m.name() == ops_map)
        .ok_or_else(|| anyhow!("the BPF object has no struct_ops map named {ops_map}"))?;
    let data = map
        .initial_value_mut()
        .ok_or_else(|| anyhow!("map {ops_map} has no initial value: is it a struct_ops map?"))?;

    for m in &obj_members {
        let Some(size) = m.size else { continue };
        if m.is_ptr
            || kernel_members.iter().any(|k| k.name == m.name)
            || m.offset + size > data.len()
        {
            continue;
        }
        let field = &mut data[m.offset..m.offset + size];
        if field.iter().any(|&b| b != 0) {
            warnings.push(format!(
                "this kernel has no sched_ext_ops.{}; ignoring it",
                m.name
            ));
            field.fill(0);
        }
    }

    let find = |name: &str| {
        obj_members
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.offset)
    };
    let mut wanted = 0;
    for flag in &opts.set_flags {
        wanted |= flag_value(kernel, *flag)?;
    }
    if let Some(off) = find("flags") {
        let bytes: &mut [u8; 8] = (&mut data[off..off + 8]).try_into().unwrap();
        let flags = u64::from_ne_bytes(*bytes) | wanted;
        if flags & !known_flags != 0 {
            warnings.push(format!(
                "this kernel lacks ops flags {:#x}; clearing them",
                flags & !known_flags
            ));
        }
        *bytes = (flags & known_flags).to_ne_bytes();
    }
    if let (Some(seq), Some(off)) = (hotplug_seq, find("hotplug_seq")) {
        data[off..off + 8].copy_from_slice(&seq.to_ne_bytes());
    }
    if let Some(m) = obj_members.iter().find(|m| m.name == "exit_dump_len") {
        data[m.offset..m.offset + 4].copy_from_slice(&dump_len.to_ne_bytes());
    }
    Ok(warnings)
}

/// Attach a loaded skeleton's ops struct, refusing (with the other scheduler's name) when one is
/// already attached. The scheduler runs until the returned link is dropped (or the process
/// exits, or the kernel ends it).
pub fn attach_ops<'obj, S: crate::ScxSkel<'obj>>(skel: &mut S) -> Result<Link> {
    refuse_if_busy()?;
    skel.attach_ops().context(
        "attaching the scheduler failed; `dmesg | grep sched_ext` may say why (ops.init errors \
         and kernel refusals are logged there)",
    )
}

#[cfg(test)]
mod tests {
    //! prepare_ops() against the BTF of real kernels: an object built for 7.3 (the shipped
    //! vmlinux.h) opened on this host (opening needs no sched_ext), prepared as for 6.19 and 7.3.
    //! The kernels' vmlinux files come from the test VM's cache, so these tests are ignored by a
    //! plain `cargo test`: meson's compat-btf test fetches the kernels, sets
    //! SCX_VMTEST_VMLINUX_6_19, _7_1 and _7_3 and runs them with `--ignored`. Run that way, a
    //! missing variable is a failure, never a silent pass.
    use super::*;
    use crate::kernel_btf::KernelBtf;
    use libbpf_rs::ObjectBuilder;

    /// The vmlinux named by `var`; panics when it is unset or not a file.
    fn vmlinux(var: &str) -> std::path::PathBuf {
        let p = std::path::PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
            panic!(
                "{var} is unset: it must name a kernel's vmlinux (meson test compat-btf sets it)"
            )
        }));
        assert!(p.is_file(), "{var}={} is not a file", p.display());
        p
    }

    fn probe_object(dir: &std::path::Path) -> std::path::PathBuf {
        probe_object_with(dir, &[])
    }

    /// The probe compiled with extra clang flags (e.g. `-DPROBE_UNGUARDED`).
    fn probe_object_with(dir: &std::path::Path, defines: &[&str]) -> std::path::PathBuf {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let [inc, arch] = crate::extract_bpf_headers(&dir.join("hdr"), "x86").unwrap();
        let obj = dir.join(format!("ops_probe{}.bpf.o", defines.concat()));
        let clang = std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang-19".into());
        let libbpf_inc = std::env::var("SCX_LIBBPF_INCLUDE").expect(
            "SCX_LIBBPF_INCLUDE must name a folder holding bpf/bpf_helpers.h (meson sets it)",
        );
        let st = std::process::Command::new(&clang)
            .args(["-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-c"])
            .args(defines)
            .arg(root.join("tests/bpf/ops_probe.bpf.c"))
            .arg(format!("-I{}", inc.display()))
            .arg(format!("-I{}", arch.display()))
            .arg(format!("-I{libbpf_inc}"))
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap_or_else(|e| panic!("running {clang}: {e}"));
        assert!(st.success(), "compiling the probe failed");
        obj
    }

    /// (flags, rescue_quantum_us, hotplug_seq, exit_dump_len, timeout_ms) after prepare_ops_for,
    /// and its warnings.
    fn prepared(
        obj_path: &std::path::Path,
        kernel: &KernelBtf,
    ) -> ((u64, u32, u64, u32, u32), Vec<String>) {
        let mut obj = ObjectBuilder::default().open_file(obj_path).unwrap();
        let warnings = prepare_ops_for(
            &mut obj,
            "probe_ops",
            &OpsOptions {
                exit_dump_len: Some(4096),
                ..Default::default()
            },
            kernel,
            Some(42),
            Some(&std::fs::read(obj_path).unwrap()),
        )
        .unwrap();
        let members = KernelBtf::of_object(&obj)
            .unwrap()
            .struct_members("sched_ext_ops")
            .unwrap();
        let map = obj.maps().find(|m| m.name() == "probe_ops").unwrap();
        let data = map.initial_value().unwrap();
        let at = |name: &str, len: usize| {
            let m = members.iter().find(|m| m.name == name).unwrap();
            let mut b = [0u8; 8];
            b[..len].copy_from_slice(&data[m.offset..m.offset + len]);
            u64::from_ne_bytes(b)
        };
        let fields = (
            at("flags", 8),
            at("rescue_quantum_us", 4) as u32,
            at("hotplug_seq", 8),
            at("exit_dump_len", 4) as u32,
            at("timeout_ms", 4) as u32,
        );
        (fields, warnings)
    }

    #[test]
    #[ignore = "needs the Debian kernels' vmlinux files; run by meson test compat-btf"]
    fn fits_the_ops_struct_to_each_kernel() {
        let v619 = vmlinux("SCX_VMTEST_VMLINUX_6_19");
        let v73 = vmlinux("SCX_VMTEST_VMLINUX_7_3");
        let dir = tempfile::tempdir().unwrap();
        let obj = probe_object(dir.path());
        const ENQ_LAST: u64 = 2;
        const TID_TO_TASK: u64 = 256;

        // 6.19 has neither TID_TO_TASK nor rescue_quantum_us: both cleared with a warning each,
        // the rest kept.
        let (old, warnings) = prepared(&obj, &KernelBtf::from_file(&v619).unwrap());
        assert_eq!(old, (ENQ_LAST, 0, 42, 4096, 5000));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("rescue_quantum_us")));
        assert!(warnings.iter().any(|w| w.contains("0x100")));
        // 7.3 has both: nothing cleared, nothing to say.
        let (new, warnings) = prepared(&obj, &KernelBtf::from_file(&v73).unwrap());
        assert_eq!(new, (ENQ_LAST | TID_TO_TASK, 500, 42, 4096, 5000));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// Flags asked for by name get the running kernel's value; one it lacks is an error.
    #[test]
    #[ignore = "needs the Debian kernels' vmlinux files; run by meson test compat-btf"]
    fn sets_requested_flags_by_name() {
        let v619 = vmlinux("SCX_VMTEST_VMLINUX_6_19");
        let k619 = KernelBtf::from_file(&v619).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let obj = probe_object(dir.path());
        let mut open = ObjectBuilder::default().open_file(&obj).unwrap();
        let partial = OpsOptions {
            set_flags: vec![OpsFlag::SwitchPartial],
            ..Default::default()
        };
        prepare_ops_for(&mut open, "probe_ops", &partial, &k619, None, None).unwrap();
        let members = KernelBtf::of_object(&open)
            .unwrap()
            .struct_members("sched_ext_ops")
            .unwrap();
        let off = members.iter().find(|m| m.name == "flags").unwrap().offset;
        let map = open.maps().find(|m| m.name() == "probe_ops").unwrap();
        let data = map.initial_value().unwrap();
        let flags = u64::from_ne_bytes(data[off..off + 8].try_into().unwrap());
        // ENQ_LAST from the object, SWITCH_PARTIAL requested, TID_TO_TASK cleared (not in 6.19).
        assert_eq!(flags, 2 | 8);

        let mut open = ObjectBuilder::default().open_file(&obj).unwrap();
        let too_new = OpsOptions {
            set_flags: vec![OpsFlag::TidToTask],
            ..Default::default()
        };
        let err = prepare_ops_for(&mut open, "probe_ops", &too_new, &k619, None, None).unwrap_err();
        assert!(err.to_string().contains("SCX_OPS_TID_TO_TASK"), "{err}");
    }

    /// Debian's 7.1 BTF lists scx_bpf_kick_cpu with its hidden aux argument and no _impl twin.
    /// A call guarded with bpf_ksym_exists() loads there (the verifier drops it), so preparing
    /// the probe must stay quiet about it; the same probe with unguarded calls as well (one next
    /// to the guarded call, one in another program) must name the kfunc and both programs, for
    /// 7.1 only.
    #[test]
    #[ignore = "needs the Debian kernels' vmlinux files; run by meson test compat-btf"]
    fn names_only_unguarded_calls_the_kernel_cannot_run() {
        let v71 = vmlinux("SCX_VMTEST_VMLINUX_7_1");
        let v73 = vmlinux("SCX_VMTEST_VMLINUX_7_3");
        let k71 = KernelBtf::from_file(&v71).unwrap();
        let k73 = KernelBtf::from_file(&v73).unwrap();
        assert!(k71.kfunc_uncallable("scx_bpf_kick_cpu"));
        assert!(!k73.kfunc_uncallable("scx_bpf_kick_cpu"));
        // Has the aux argument, but also the _impl twin: callable.
        assert!(!k71.kfunc_uncallable("scx_bpf_dsq_insert"));
        let dir = tempfile::tempdir().unwrap();

        let guarded = probe_object(dir.path());
        let calls = crate::kernel_btf::kfunc_calls(&std::fs::read(&guarded).unwrap()).unwrap();
        assert!(
            calls
                .iter()
                .any(|c| c.kfunc == "scx_bpf_kick_cpu" && c.guarded),
            "{calls:?}"
        );
        let (_, warnings) = prepared(&guarded, &k71);
        assert!(
            !warnings.iter().any(|w| w.contains("scx_bpf_kick_cpu")),
            "{warnings:?}"
        );

        let unguarded = probe_object_with(dir.path(), &["-DPROBE_UNGUARDED"]);
        let (_, warnings) = prepared(&unguarded, &k71);
        let kick: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains("scx_bpf_kick_cpu_impl"))
            .collect();
        assert_eq!(kick.len(), 2, "{warnings:?}");
        assert!(kick[0].contains("struct_ops/probe_dispatch"), "{kick:?}");
        // The guarded call in the same program does not cover the unguarded one.
        assert!(kick[1].contains("struct_ops/probe_enqueue"), "{kick:?}");
        assert!(prepared(&unguarded, &k73).1.is_empty());
    }

    /// scx/loader.h's scx_loader_check_kfuncs_btf() applies the same rule as
    /// KernelBtf::kfunc_call_warnings() and says the same words: a small C loader built against
    /// the header and libbpf (SCX_LIBBPF_A, set by meson) checks both probes against 7.1 and 7.3.
    #[test]
    #[ignore = "needs the Debian kernels' vmlinux files and a static libbpf; run by meson test compat-btf"]
    fn c_loader_warns_like_prepare_ops() {
        let v71 = vmlinux("SCX_VMTEST_VMLINUX_7_1");
        let v73 = vmlinux("SCX_VMTEST_VMLINUX_7_3");
        let libbpf_a = std::env::var("SCX_LIBBPF_A")
            .expect("SCX_LIBBPF_A must name a static libbpf (meson's compat-btf test sets it)");
        let libbpf_inc = std::env::var("SCX_LIBBPF_INCLUDE").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("check.c");
        std::fs::write(
            &src,
            r#"#include <scx/loader.h>
int main(int argc, char **argv)
{
    static char buf[4 << 20];
    FILE *f = fopen(argv[1], "rb");
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    struct btf *k = btf__parse(argv[2], NULL);

    if (!n || !k)
        return 100;
    return scx_loader_check_kfuncs_btf(buf, n, k, "probe") < 0 ? 101 : 0;
}
"#,
        )
        .unwrap();
        let exe = dir.path().join("check");
        let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/include");
        let st = std::process::Command::new("cc")
            .args(["-Wall", "-Werror", "-I", inc, "-I", &libbpf_inc, "-o"])
            .arg(&exe)
            .arg(&src)
            .args([&libbpf_a, "-lelf", "-lz"])
            .status()
            .expect("a C compiler (cc) is needed for this test");
        assert!(st.success(), "building the C check failed");
        let objs = [
            probe_object(dir.path()),
            probe_object_with(dir.path(), &["-DPROBE_UNGUARDED"]),
        ];
        let mut total = 0;
        for vmlinux in [&v71, &v73] {
            let kernel = KernelBtf::from_file(vmlinux).unwrap();
            for obj in &objs {
                let out = std::process::Command::new(&exe)
                    .arg(obj)
                    .arg(vmlinux)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                let mut c: Vec<String> = String::from_utf8(out.stderr)
                    .unwrap()
                    .lines()
                    .map(|l| l.strip_prefix("probe: warning: ").unwrap_or(l).to_string())
                    .collect();
                let mut rust = kernel
                    .kfunc_call_warnings(&std::fs::read(obj).unwrap())
                    .unwrap();
                c.sort();
                rust.sort();
                assert_eq!(c, rust, "{} on {}", obj.display(), vmlinux.display());
                total += c.len();
            }
        }
        // Only the unguarded probe on 7.1 warns, so the comparison above compared something.
        assert_eq!(total, 2);
    }

    #[test]
    #[ignore = "needs the Debian kernels' vmlinux files; run by meson test compat-btf"]
    fn refuses_a_dump_larger_than_the_report() {
        let v73 = vmlinux("SCX_VMTEST_VMLINUX_7_3");
        let dir = tempfile::tempdir().unwrap();
        let obj = probe_object(dir.path());
        let mut open = ObjectBuilder::default().open_file(&obj).unwrap();
        let err = prepare_ops_for(
            &mut open,
            "probe_ops",
            &OpsOptions {
                exit_dump_len: Some(1 << 20),
                ..Default::default()
            },
            &KernelBtf::from_file(&v73).unwrap(),
            None,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        let err = prepare_ops_for(
            &mut open,
            "no_such_ops",
            &OpsOptions::default(),
            &KernelBtf::from_file(&v73).unwrap(),
            None,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no_such_ops"), "{err}");
    }
}
