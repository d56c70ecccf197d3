//! PELT constants, derived at compile time.
//!
//! The decay factor `y` is defined by `y^32 = 1/2`: a contribution loses half of its weight
//! after [`LOAD_AVG_PERIOD`] periods of 1024 µs-ish units (1024 × 1024 ns). The kernel keeps
//! `y^n` for `n < 32` as 32-bit fixed-point multipliers ([`RUNNABLE_AVG_YN_INV`]) and the
//! truncated limit of the geometric series as [`LOAD_AVG_MAX`]. Both are computed here by
//! `const fn`s with integer arithmetic only, and the unit tests compare them with the values the
//! kernel publishes.
//!
//! ```
//! use scx_pelt::consts::{LOAD_AVG_MAX, PELT_MIN_DIVIDER, RUNNABLE_AVG_YN_INV};
//! assert_eq!(LOAD_AVG_MAX, 47742);
//! assert_eq!(PELT_MIN_DIVIDER, 46718);
//! assert_eq!(RUNNABLE_AVG_YN_INV[0], 0xffff_ffff);
//! assert_eq!(RUNNABLE_AVG_YN_INV[31], 0x82cd_8698);
//! ```

/// Number of periods after which a contribution is worth half: `y^LOAD_AVG_PERIOD = 1/2`.
pub const LOAD_AVG_PERIOD: u32 = 32;

/// Largest number of periods `decay_load` handles; beyond `LOAD_AVG_PERIOD * 63` every value
/// decays to zero.
pub const LOAD_AVG_MAX_PERIODS: u64 = (LOAD_AVG_PERIOD as u64) * 63;

/// Fixed-point shift of capacities and utilization: `1 << 10 = 1024` is a full CPU.
pub const SCHED_CAPACITY_SHIFT: u32 = 10;

/// A full CPU's capacity, `1 << SCHED_CAPACITY_SHIFT`.
pub const SCHED_CAPACITY_SCALE: u64 = 1 << SCHED_CAPACITY_SHIFT;

/// Length of one PELT period in clock units (1024 units of 1024 ns each).
pub const PERIOD_UNITS: u32 = 1024;

/// Length of one PELT period in nanoseconds: 1024 × 1024 = 1,048,576 ns.
pub const PERIOD_NS: u64 = 1024 * 1024;

/// Fractional bits of the fixed-point numbers used while deriving `y` (more than the 32 kept).
const FRAC_BITS: u32 = 64;

/// `x^32` for a fixed-point `x` with 64 fractional bits (`x < 1`).
const fn pow32_q64(x: u128) -> u128 {
    let mut r = x;
    let mut i = 0;
    while i < 5 {
        r = (r * r) >> FRAC_BITS;
        i += 1;
    }
    r
}

/// `y = 2^(-1/32)` with 64 fractional bits: the largest `y` with `y^32 <= 1/2`, by bisection.
const fn y_q64() -> u128 {
    let half: u128 = 1 << (FRAC_BITS - 1);
    let mut lo: u128 = half; // y^32 <= 1/2 holds here
    let mut hi: u128 = 1 << FRAC_BITS; // and fails here
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if pow32_q64(mid) <= half {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Computes `(u32)((2^32 - 1) * y^i)` for `i` in `0..32`.
const fn compute_yn_inv() -> [u32; LOAD_AVG_PERIOD as usize] {
    let y = y_q64();
    let mut table = [0u32; LOAD_AVG_PERIOD as usize];
    let mut p: u128 = 1 << FRAC_BITS; // y^0
    let mut i = 0;
    while i < LOAD_AVG_PERIOD as usize {
        table[i] = ((0xffff_ffff_u128 * p) >> FRAC_BITS) as u32;
        p = (p * y) >> FRAC_BITS;
        i += 1;
    }
    table
}

/// `runnable_avg_yN_inv[i] = (u32)((2^32 - 1) * y^i)` for `i` in `0..32`, computed at compile
/// time.
pub const RUNNABLE_AVG_YN_INV: [u32; LOAD_AVG_PERIOD as usize] = compute_yn_inv();

/// Iterates `max = ((max * y_inv) >> 32) + 1024` from zero until it stops moving: the truncated
/// fixed point of the series `1024 * (1 + y + y^2 + ...)`.
const fn compute_load_avg_max() -> u32 {
    let y_inv = RUNNABLE_AVG_YN_INV[1] as u64;
    let mut max: u64 = 0;
    loop {
        let next = ((max * y_inv) >> 32) + PERIOD_UNITS as u64;
        if next == max {
            return max as u32;
        }
        max = next;
    }
}

/// Maximum value of a PELT sum of a full-time contributor (truncated fixed point): 47742.
pub const LOAD_AVG_MAX: u32 = compute_load_avg_max();

/// Smallest divider used to turn sums into averages: `LOAD_AVG_MAX - 1024` = 46718. The divider
/// of a state is `PELT_MIN_DIVIDER + period_contrib`.
pub const PELT_MIN_DIVIDER: u32 = LOAD_AVG_MAX - PERIOD_UNITS;

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as printed in the kernel's generated header.
    const PUBLISHED: [u32; 32] = [
        0xffffffff, 0xfa83b2da, 0xf5257d14, 0xefe4b99a, 0xeac0c6e6, 0xe5b906e6, 0xe0ccdeeb,
        0xdbfbb796, 0xd744fcc9, 0xd2a81d91, 0xce248c14, 0xc9b9bd85, 0xc5672a10, 0xc12c4cc9,
        0xbd08a39e, 0xb8fbaf46, 0xb504f333, 0xb123f581, 0xad583ee9, 0xa9a15ab4, 0xa5fed6a9,
        0xa2704302, 0x9ef5325f, 0x9b8d39b9, 0x9837f050, 0x94f4efa8, 0x91c3d373, 0x8ea4398a,
        0x8b95c1e3, 0x88980e80, 0x85aac367, 0x82cd8698,
    ];

    #[test]
    fn table_matches_published() {
        assert_eq!(RUNNABLE_AVG_YN_INV, PUBLISHED);
    }

    #[test]
    fn load_avg_max_matches_published() {
        assert_eq!(LOAD_AVG_MAX, 47742);
        assert_eq!(PELT_MIN_DIVIDER, 46718);
        assert_eq!(LOAD_AVG_MAX_PERIODS, 2016);
    }

    #[test]
    fn half_life() {
        // y^16 ≈ 1/sqrt(2): 0xb504f333 is 2^31.5 truncated.
        assert_eq!(RUNNABLE_AVG_YN_INV[16], 0xb504f333);
    }
}
