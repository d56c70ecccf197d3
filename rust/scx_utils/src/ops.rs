//! Open / load / attach with the running kernel's quirks smoothed over.

use crate::exit_info::DUMP_CAPACITY;
use crate::kernel_btf::KernelBtf;
use crate::sysfs;
use anyhow::{anyhow, bail, Context, Result};
use libbpf_rs::{Link, MapCore, Object, OpenObject};
use std::path::Path;

/// Loader choices that [`prepare_ops`] writes into the ops struct.
#[derive(Debug, Clone, Default)]
pub struct OpsOptions {
    /// Bytes of the kernel's debug dump to keep on an error exit; `None` for the full
    /// capacity of the exit report (32768).
    pub exit_dump_len: Option<u32>,
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

/// Adjust the ops struct in map `ops_map` of an opened (not yet loaded) object for the running
/// kernel:
/// - data members this kernel's `struct sched_ext_ops` lacks are zeroed, with a warning when the
///   scheduler had set them (libbpf refuses unknown non-zero members; callbacks the kernel lacks
///   are dropped by libbpf itself);
/// - ops flags the kernel lacks are cleared, with a warning;
/// - `hotplug_seq` is read from sysfs, so a CPU hotplug between now and attach makes the kernel
///   ask for a restart instead of running with a stale topology;
/// - `exit_dump_len` is set so the kernel's debug dump fits the exit report.
pub fn prepare_ops(obj: &mut OpenObject, ops_map: &str, opts: &OpsOptions) -> Result<()> {
    let kernel = KernelBtf::load()?;
    prepare_ops_for(obj, ops_map, opts, &kernel, sysfs::hotplug_seq().ok())
}

pub(crate) fn prepare_ops_for(
    obj: &mut OpenObject,
    ops_map: &str,
    opts: &OpsOptions,
    kernel: &KernelBtf,
    hotplug_seq: Option<u64>,
) -> Result<()> {
    let dump_len = opts.exit_dump_len.unwrap_or(DUMP_CAPACITY as u32);
    if dump_len as usize > DUMP_CAPACITY {
        bail!("exit dump length {dump_len} is larger than the {DUMP_CAPACITY} bytes the exit report holds");
    }
    let obj_members = KernelBtf::of_object(obj)?
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
            log::warn!("this kernel has no sched_ext_ops.{}; ignoring it", m.name);
            field.fill(0);
        }
    }

    let mut put_u64 = |name: &str, f: &dyn Fn(u64) -> u64| {
        if let Some(m) = obj_members.iter().find(|m| m.name == name) {
            let bytes: &mut [u8; 8] = (&mut data[m.offset..m.offset + 8]).try_into().unwrap();
            *bytes = f(u64::from_ne_bytes(*bytes)).to_ne_bytes();
        }
    };
    put_u64("flags", &|flags| {
        if flags & !known_flags != 0 {
            log::warn!(
                "this kernel lacks ops flags {:#x}; clearing them",
                flags & !known_flags
            );
        }
        flags & known_flags
    });
    if let Some(seq) = hotplug_seq {
        put_u64("hotplug_seq", &|_| seq);
    }
    if let Some(m) = obj_members.iter().find(|m| m.name == "exit_dump_len") {
        data[m.offset..m.offset + 4].copy_from_slice(&dump_len.to_ne_bytes());
    }
    Ok(())
}

/// Attach the loaded ops struct in map `ops_map`. The scheduler runs until the returned link is
/// dropped (or the process exits, or the kernel ends it).
pub fn attach_ops(obj: &mut Object, ops_map: &str) -> Result<Link> {
    refuse_if_busy()?;
    let mut map = obj
        .maps_mut()
        .find(|m| m.name() == ops_map)
        .ok_or_else(|| anyhow!("the BPF object has no struct_ops map named {ops_map}"))?;
    map.attach_struct_ops().with_context(|| {
        format!(
            "attaching {ops_map} failed; `dmesg | grep sched_ext` may say why (ops.init errors \
             and kernel refusals are logged there)"
        )
    })
}
