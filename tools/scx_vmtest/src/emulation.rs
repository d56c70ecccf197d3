//! How the emulator keeps the guest's time: the host's clock (the default) or the count of
//! instructions executed (qemu's icount), and whether idle vCPUs halt or poll.
//!
//! Why it matters for latency figures: under single-threaded TCG one host thread runs the
//! vCPUs in turn. With the host's clock, guest time goes on while a vCPU waits for its turn,
//! so a vCPU can stand still for 10 ms and more of guest time, even inside an interrupt
//! handler (traced: bench/README.md). With icount, guest time advances only as instructions
//! run and the vCPUs take turns in slices bounded by the next timer deadline, so a vCPU waits
//! for its turn about 1 ms at most. Each guest instruction then takes 2^shift ns of guest time.

/// The largest shift the command line accepts: 2^10 ns (about 1 µs) per instruction is already
/// a 1 MIPS guest.
pub const MAX_SHIFT: u8 = 10;

/// Emulator settings beyond the machine's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Emulation {
    /// Guest time follows the instruction count: each instruction takes 2^shift ns.
    pub icount_shift: Option<u8>,
    /// Idle vCPUs poll (the kernel's `idle=poll`) instead of halting.
    pub idle_poll: bool,
}

impl Emulation {
    /// qemu arguments for these settings. `sleep=off`: with every vCPU idle, guest time jumps
    /// to the next timer instead of waiting for the host's clock, so guest time never depends
    /// on the host's speed or load.
    pub fn qemu_args(&self) -> Vec<String> {
        match self.icount_shift {
            Some(s) => vec!["-icount".into(), format!("shift={s},sleep=off")],
            None => Vec::new(),
        }
    }

    /// Words appended to the guest kernel's command line.
    pub fn kernel_args(&self) -> Vec<&'static str> {
        if self.idle_poll {
            vec!["idle=poll"]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_adds_nothing() {
        let e = Emulation::default();
        assert!(e.qemu_args().is_empty());
        assert!(e.kernel_args().is_empty());
    }

    #[test]
    fn icount_and_idle_poll() {
        let e = Emulation {
            icount_shift: Some(1),
            idle_poll: true,
        };
        assert_eq!(e.qemu_args(), ["-icount", "shift=1,sleep=off"]);
        assert_eq!(e.kernel_args(), ["idle=poll"]);
    }
}
