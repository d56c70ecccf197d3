//! Kernel enum values by typed name, valued from the running kernel's BTF.
//!
//! sched_ext's enum values are not ABI: they moved between releases, and old pahole truncated
//! 64-bit ones. A scheduler names the values it needs with these enums (a misspelt name does not
//! compile) and asks the kernel's BTF for the number at load time, typically to fill
//! `const volatile` rodata on the BPF side.

use crate::KernelBtf;

macro_rules! kernel_enum {
    ($(#[$m:meta])* $ty:ident in $btf_enum:literal { $($(#[$vm:meta])* $v:ident = $name:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty {
            $($(#[$vm])* $v,)*
        }
        impl $ty {
            /// Every value this crate knows, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$v),*];
            /// The kernel's name for the value.
            pub fn name(self) -> &'static str {
                match self { $($ty::$v => $name,)* }
            }
            /// The C enum this value belongs to.
            pub fn btf_enum(self) -> &'static str {
                $btf_enum
            }
            /// The value in `kernel`'s BTF, `None` when that kernel lacks it.
            pub fn value_in(self, kernel: &KernelBtf) -> Option<u64> {
                kernel.enum_value($btf_enum, self.name())
            }
        }
    };
}

kernel_enum! {
    /// `enum scx_ops_flags`: flags a scheduler may request in `sched_ext_ops.flags`.
    OpsFlag in "scx_ops_flags" {
        /// Keep the kernel's idle tracking even with a custom `update_idle`.
        KeepBuiltinIdle = "SCX_OPS_KEEP_BUILTIN_IDLE",
        /// Enqueue the last runnable task on a CPU instead of keeping it running.
        EnqLast = "SCX_OPS_ENQ_LAST",
        /// Exiting tasks go through `enqueue` too.
        EnqExiting = "SCX_OPS_ENQ_EXITING",
        /// Only tasks that opted into SCHED_EXT are scheduled by the BPF scheduler.
        SwitchPartial = "SCX_OPS_SWITCH_PARTIAL",
        /// Migration-disabled tasks go through `enqueue` too.
        EnqMigrationDisabled = "SCX_OPS_ENQ_MIGRATION_DISABLED",
        /// Wakeups may be queued on a remote CPU's wake list.
        AllowQueuedWakeup = "SCX_OPS_ALLOW_QUEUED_WAKEUP",
        /// Idle tracking per NUMA node.
        BuiltinIdlePerNode = "SCX_OPS_BUILTIN_IDLE_PER_NODE",
        /// Every insert into a local DSQ behaves as `SCX_ENQ_IMMED` (7.3).
        AlwaysEnqImmed = "SCX_OPS_ALWAYS_ENQ_IMMED",
        /// Tasks are reachable by thread id (7.3).
        TidToTask = "SCX_OPS_TID_TO_TASK",
    }
}

kernel_enum! {
    /// `enum scx_enq_flags`: flags of `scx_bpf_dsq_insert` and `ops.enqueue`.
    EnqFlag in "scx_enq_flags" {
        /// The task is waking up.
        Wakeup = "SCX_ENQ_WAKEUP",
        /// Put the task at the head of the DSQ.
        Head = "SCX_ENQ_HEAD",
        /// `ops.select_cpu` already ran for this enqueue (6.14).
        CpuSelected = "SCX_ENQ_CPU_SELECTED",
        /// Preempt the CPU's current task (inserting into a local DSQ).
        Preempt = "SCX_ENQ_PREEMPT",
        /// Run now or not at all on this CPU (7.1).
        Immed = "SCX_ENQ_IMMED",
        /// Re-enqueued by the kernel.
        Reenq = "SCX_ENQ_REENQ",
        /// The last runnable task on the CPU (with `SCX_OPS_ENQ_LAST`).
        Last = "SCX_ENQ_LAST",
    }
}

kernel_enum! {
    /// `enum scx_kick_flags`: flags of `scx_bpf_kick_cpu`.
    KickFlag in "scx_kick_flags" {
        /// Kick only if the CPU is idle.
        Idle = "SCX_KICK_IDLE",
        /// Preempt the CPU's current task.
        Preempt = "SCX_KICK_PREEMPT",
        /// Wait until the CPU went through a scheduling round.
        Wait = "SCX_KICK_WAIT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_kernels_spelling() {
        for f in OpsFlag::ALL {
            assert!(f.name().starts_with("SCX_OPS_"), "{f:?}");
            assert_eq!(f.btf_enum(), "scx_ops_flags");
        }
        for f in EnqFlag::ALL {
            assert!(f.name().starts_with("SCX_ENQ_"), "{f:?}");
        }
        assert_eq!(OpsFlag::SwitchPartial.name(), "SCX_OPS_SWITCH_PARTIAL");
        assert_eq!(KickFlag::Preempt.name(), "SCX_KICK_PREEMPT");
    }

    /// Every name resolves in the kernel the crate's vmlinux.h was made from, with the values of
    /// shared/docs/kernel-api.md (needs the 7.3 vmlinux; meson's compat-btf test provides it).
    #[test]
    #[ignore = "needs SCX_VMTEST_VMLINUX_7_3; run by meson test compat-btf"]
    fn every_name_resolves_on_7_3() {
        let path = std::env::var_os("SCX_VMTEST_VMLINUX_7_3")
            .expect("SCX_VMTEST_VMLINUX_7_3 must name the 7.3 vmlinux");
        let k = KernelBtf::from_file(std::path::Path::new(&path)).unwrap();
        for f in OpsFlag::ALL {
            assert!(f.value_in(&k).is_some(), "{}", f.name());
        }
        for f in EnqFlag::ALL {
            assert!(f.value_in(&k).is_some(), "{}", f.name());
        }
        assert_eq!(OpsFlag::SwitchPartial.value_in(&k), Some(8));
        assert_eq!(EnqFlag::Preempt.value_in(&k), Some(1 << 32));
        assert_eq!(KickFlag::Preempt.value_in(&k), Some(2));
    }
}
