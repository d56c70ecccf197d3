//! (Inside the guest) the responsiveness probe's witness: tells a slow wake-up the scheduler
//! caused from a stall of the whole guest.
//!
//! The probe times a SCHED_OTHER shell's 0.1 s sleeps, which a sched_ext scheduler serves. When
//! the host deschedules qemu (a loaded CI machine, steal time), guest time jumps by the length
//! of the stall and the probe sees one very long sleep under any scheduler, EEVDF included.
//! The witness is a SCHED_FIFO thread that sleeps 20 ms at a time and logs every wake-up that
//! came more than [`STALL_CS`] late. The RT class runs above sched_ext, so no sched_ext
//! scheduler can delay it: if it could not run either, nothing in the guest could, and that
//! part of a probe's sleep is not the scheduler's. [`judge`] takes it off.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// How long the witness sleeps between looks at the clock.
const NAP: Duration = Duration::from_millis(20);
/// A wake-up this many centiseconds later than asked is logged as a guest-wide stall.
pub const STALL_CS: u64 = 25;
/// The witness's priority (SCHED_FIFO, 1-99): above every SCHED_OTHER task, below the
/// kernel's own RT threads (99).
const PRIORITY: i32 = 50;

/// CLOCK_BOOTTIME in centiseconds: the clock of /proc/uptime, which the probe reads.
fn boottime_cs() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 100 + ts.tv_nsec as u64 / 10_000_000
}

/// Become SCHED_FIFO and log, one `START END` line each (centiseconds of boot time), the
/// stretches in which this thread could not run; until killed.
pub fn run(out: &Path) -> Result<()> {
    let param = libc::sched_param {
        sched_priority: PRIORITY,
    };
    // SAFETY: param is a valid sched_param; pid 0 is this thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        return Err(std::io::Error::last_os_error()).context("witness: SCHED_FIFO refused");
    }
    let mut f = std::fs::File::create(out)
        .with_context(|| format!("witness: creating {}", out.display()))?;
    let nap_cs = NAP.as_millis() as u64 / 10;
    loop {
        let before = boottime_cs();
        std::thread::sleep(NAP);
        let after = boottime_cs();
        if after > before + nap_cs + STALL_CS {
            writeln!(f, "{} {}", before + nap_cs, after).context("witness: writing")?;
        }
    }
}

/// Parse `START END` lines (the witness's log, or the probe's slow sleeps); bad lines are
/// skipped: a line cut short by the kill that ends the witness must not void the rest.
pub fn parse_spans(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(str::parse::<u64>);
            match (it.next(), it.next(), it.next()) {
                (Some(Ok(a)), Some(Ok(b)), None) if a <= b => Some((a, b)),
                _ => None,
            }
        })
        .collect()
}

/// How much of `[start, end]` the stalls cover (they do not overlap each other: the witness
/// logs one after the other).
fn covered(start: u64, end: u64, stalls: &[(u64, u64)]) -> u64 {
    stalls
        .iter()
        .map(|&(s, e)| end.min(e).saturating_sub(start.max(s)))
        .sum()
}

/// The verdict's inputs: the probe's longest sleep with the guest-wide stalls taken off, and
/// the longest stall the witness saw (both centiseconds).
#[derive(Debug, PartialEq, Eq)]
pub struct Judged {
    /// The longest sleep the scheduler is answerable for.
    pub sched_cs: u64,
    /// The witness's longest stall (0: none).
    pub stall_cs: u64,
}

/// `quick_max`: the longest of the sleeps not listed in `slow` (those short enough that the
/// probe did not record them); `slow`: the recorded sleeps as spans.
pub fn judge(quick_max: u64, slow: &[(u64, u64)], stalls: &[(u64, u64)]) -> Judged {
    let sched_cs = slow
        .iter()
        .map(|&(s, e)| (e - s) - covered(s, e, stalls))
        .fold(quick_max, u64::max);
    let stall_cs = stalls.iter().map(|&(s, e)| e - s).max().unwrap_or(0);
    Judged { sched_cs, stall_cs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_inside_a_sleep_is_taken_off() {
        // a 4.4 s sleep from 1000 to 1440 of which 4.2 s the witness could not run either
        let j = judge(10, &[(1000, 1440)], &[(1010, 1430)]);
        assert_eq!(
            j,
            Judged {
                sched_cs: 20,
                stall_cs: 420
            }
        );
    }

    #[test]
    fn without_a_stall_the_sleep_counts_whole() {
        let j = judge(30, &[(1000, 1440)], &[]);
        assert_eq!(j.sched_cs, 440);
        assert_eq!(j.stall_cs, 0);
        // a stall elsewhere does not excuse it
        assert_eq!(judge(30, &[(1000, 1440)], &[(2000, 2400)]).sched_cs, 440);
    }

    #[test]
    fn only_the_overlap_is_taken_off() {
        // the stall began before the sleep and ended inside it: 100 of 440 covered
        assert_eq!(judge(0, &[(1000, 1440)], &[(900, 1100)]).sched_cs, 340);
        // two stalls in one sleep
        assert_eq!(
            judge(0, &[(1000, 1440)], &[(1000, 1100), (1200, 1300)]).sched_cs,
            240
        );
    }

    #[test]
    fn the_quick_sleeps_bound_it_from_below() {
        assert_eq!(judge(22, &[(1000, 1040)], &[(1000, 1040)]).sched_cs, 22);
        assert_eq!(judge(22, &[], &[]).sched_cs, 22);
    }

    #[test]
    fn spans_parse_and_skip_bad_lines() {
        let s = parse_spans("10 20\n30\nx y\n40 50 60\n70 60\n80 90");
        assert_eq!(s, vec![(10, 20), (80, 90)]);
    }
}
