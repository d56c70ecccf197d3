//! How the emulator keeps the guest's time: the host's clock (the default) or the count of
//! instructions executed (qemu's icount), and whether idle vCPUs halt or poll.
//!
//! Why it matters for latency figures: under single-threaded TCG one host thread runs the
//! vCPUs in turn. With the host's clock, guest time goes on while a vCPU waits for its turn,
//! so a vCPU can stand still for 10 ms and more of guest time, even inside an interrupt
//! handler (traced: bench/README.md). With icount, guest time advances only as instructions
//! run and the vCPUs take turns in slices bounded by the next timer deadline, so a vCPU waits
//! for its turn about 1 ms at most. Each guest instruction then takes 2^shift ns of guest time.

use anyhow::{bail, Result};

/// The largest shift accepted: 2^10 ns (about 1 µs) per instruction is already a 1 MIPS guest.
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
    /// Checked settings: a shift above [`MAX_SHIFT`] is refused with the reason.
    pub fn new(icount_shift: Option<u8>, idle_poll: bool) -> Result<Self> {
        if let Some(s) = icount_shift {
            if s > MAX_SHIFT {
                bail!(
                    "--icount {s}: the shift must be 0..={MAX_SHIFT} (each guest instruction \
                     takes 2^shift ns; 0 or 1 is about this emulator's real speed)"
                );
            }
        }
        Ok(Emulation {
            icount_shift,
            idle_poll,
        })
    }

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
        let e = Emulation::new(Some(1), true).unwrap();
        assert_eq!(e.qemu_args(), ["-icount", "shift=1,sleep=off"]);
        assert_eq!(e.kernel_args(), ["idle=poll"]);
    }

    #[test]
    fn a_shift_too_large_is_refused() {
        let err = Emulation::new(Some(11), false).unwrap_err().to_string();
        assert!(err.contains("--icount 11"), "{err}");
        assert!(Emulation::new(Some(10), false).is_ok());
    }
}
