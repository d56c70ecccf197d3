//! The kernel's sched_ext files under `/sys/kernel/sched_ext`.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Where the kernel exposes sched_ext's state; absent on kernels without sched_ext.
pub const SCHED_EXT_DIR: &str = "/sys/kernel/sched_ext";

fn read(dir: &Path, name: &str) -> Result<String> {
    let path: PathBuf = dir.join(name);
    let s =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(s.trim().to_string())
}

/// `state`: `enabling`, `enabled`, `disabling` or `disabled`.
pub fn state() -> Result<String> {
    read(Path::new(SCHED_EXT_DIR), "state")
}

/// `root/ops`: the name of the scheduler that is attached, if any.
pub fn ops_name() -> Option<String> {
    read(Path::new(SCHED_EXT_DIR), "root/ops")
        .ok()
        .filter(|s| !s.is_empty())
}

/// `hotplug_seq`: bumped on every CPU hotplug. Store it in `ops.hotplug_seq` before discovering
/// the topology, and the kernel refuses the attach if a CPU came or went in between.
pub fn hotplug_seq() -> Result<u64> {
    let s = read(Path::new(SCHED_EXT_DIR), "hotplug_seq")?;
    s.parse()
        .with_context(|| format!("{SCHED_EXT_DIR}/hotplug_seq holds '{s}', not a number"))
}
