//! User-space side of `<scx/counters.bpf.h>`: per-CPU counters summed over CPUs.

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags};

/// Sum each of the first `nr` counters of a `SCX_COUNTERS_DEFINE` map over every possible CPU.
pub fn percpu_counters(map: &dyn MapCore, nr: usize) -> Result<Vec<u64>> {
    (0..nr as u32)
        .map(|idx| {
            let slots = map
                .lookup_percpu(&idx.to_ne_bytes(), MapFlags::ANY)
                .with_context(|| {
                    format!(
                        "reading counter {idx} of map {}",
                        map.name().to_string_lossy()
                    )
                })?
                .unwrap_or_default();
            Ok(sum_slots(&slots))
        })
        .collect()
}

fn sum_slots(slots: &[Vec<u8>]) -> u64 {
    slots
        .iter()
        .filter_map(|v| v.get(..8))
        .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
        .fold(0u64, |a, b| a.wrapping_add(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_every_cpu_and_ignores_short_slots() {
        let slots = vec![
            5u64.to_ne_bytes().to_vec(),
            7u64.to_ne_bytes().to_vec(),
            vec![1, 2],
        ];
        assert_eq!(super::sum_slots(&slots), 12);
    }
}
