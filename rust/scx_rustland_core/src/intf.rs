//! Rust mirrors of `bpf/scx_rustland/intf.h`. The tests check them against the header.

pub(crate) const RL_MAX_CPUS: usize = 512;
pub(crate) const RL_TASK_WAKEUP: u64 = 1;
pub(crate) const RL_TASK_FAST: u64 = 2;
pub(crate) const RL_TASK_IRQ_WAKE: u64 = 4;
pub(crate) const RL_CPU_ANY: i32 = -1;
pub(crate) const RL_DECISION_PREEMPT: u64 = 1;

/// `struct rl_task`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RlTask {
    pub pid: i32,
    pub cpu: i32,
    pub seq: u64,
    pub flags: u64,
    pub weight: u64,
    pub runtime_ns: u64,
    pub exec_runtime_ns: u64,
    pub burst_ns: u64,
    pub vtime: u64,
    pub enq_ns: u64,
    pub cpumask_lo: u64,
    pub nr_cpus_allowed: u32,
    pub pad: u32,
}

/// `struct rl_decision`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RlDecision {
    pub pid: i32,
    pub cpu: i32,
    pub seq: u64,
    pub slice_ns: u64,
    pub vtime: u64,
    pub deadline: u64,
    pub flags: u64,
    pub fast_burst_ns: u64,
}

/// `struct rl_shared`.
#[repr(C)]
pub(crate) struct RlShared {
    pub heartbeat_ns: u64,
    pub exited: u32,
    pub nr_cpu_ids: u32,
    pub cpu_idle: [u8; RL_MAX_CPUS],
}

/// `enum rl_stat`, in order.
pub(crate) const RL_NR_STATS: usize = 9;

/// The bytes of a plain `repr(C)` value without padding holes.
pub(crate) fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a repr(C) struct of integers laid out without padding (checked by the
    // tests for the two types used here); reading it as bytes is sound.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of `struct <name>` in intf.h, in order.
    fn c_fields(name: &str) -> Vec<String> {
        let h = crate::BPF_INTF;
        let start = h
            .find(&format!("struct {name} {{"))
            .expect("struct in intf.h");
        let body = &h[start..h[start..].find("};").unwrap() + start];
        body.lines()
            .skip(1)
            .filter_map(|l| {
                let l = l.split("/*").next().unwrap().trim();
                let decl = l.strip_suffix(';')?;
                let name = decl.split_whitespace().last()?;
                Some(name.split('[').next().unwrap().to_string())
            })
            .collect()
    }

    #[test]
    fn layouts_match_the_header() {
        assert_eq!(
            c_fields("rl_task"),
            [
                "pid",
                "cpu",
                "seq",
                "flags",
                "weight",
                "runtime_ns",
                "exec_runtime_ns",
                "burst_ns",
                "vtime",
                "enq_ns",
                "cpumask_lo",
                "nr_cpus_allowed",
                "pad"
            ]
        );
        assert_eq!(std::mem::size_of::<RlTask>(), 4 * 2 + 8 * 9 + 4 * 2);
        assert_eq!(
            c_fields("rl_decision"),
            [
                "pid",
                "cpu",
                "seq",
                "slice_ns",
                "vtime",
                "deadline",
                "flags",
                "fast_burst_ns"
            ]
        );
        assert_eq!(std::mem::size_of::<RlDecision>(), 4 * 2 + 8 * 6);
        assert_eq!(
            c_fields("rl_shared"),
            ["heartbeat_ns", "exited", "nr_cpu_ids", "cpu_idle"]
        );
        assert_eq!(std::mem::size_of::<RlShared>(), 16 + RL_MAX_CPUS);
        assert!(crate::BPF_INTF.contains(&format!("#define RL_MAX_CPUS {RL_MAX_CPUS}\n")));
        assert!(crate::BPF_INTF.contains("#define RL_CPU_ANY (-1)"));
        assert!(crate::BPF_INTF.contains("#define RL_TASK_WAKEUP (1ULL << 0)"));
        assert!(crate::BPF_INTF.contains("#define RL_TASK_FAST (1ULL << 1)"));
        assert!(crate::BPF_INTF.contains("#define RL_TASK_IRQ_WAKE (1ULL << 2)"));
        assert!(crate::BPF_INTF.contains("#define RL_DECISION_PREEMPT (1ULL << 0)"));
    }

    #[test]
    fn stat_count_matches_the_header() {
        let h = crate::BPF_INTF;
        let start = h.find("enum rl_stat {").unwrap();
        let body = &h[start..h[start..].find("};").unwrap() + start];
        let names: Vec<_> = body
            .lines()
            .skip(1)
            .filter_map(|l| l.trim().split(',').next().filter(|s| s.starts_with("RL_")))
            .collect();
        assert_eq!(names.last(), Some(&"RL_NR_STATS"));
        assert_eq!(names.len() - 1, RL_NR_STATS);
    }
}
