//! Layer sizing (how many CPUs each Confined/Grouped layer should own, from its utilisation)
//! and placement (which CPUs, following the topology). Pure logic: the tests drive it with
//! made-up topologies and loads.

/// Number of consecutive intervals a layer must be under its utilisation range (on the slow
/// average) before it shrinks: growing is immediate (a saturated layer suffers), shrinking waits
/// (no flapping on a momentary dip, e.g. when a measurement interval saw few ticks).
pub const SHRINK_AFTER: u32 = 5;

/// What the sizer needs to know about a layer.
#[derive(Debug, Clone)]
pub struct LayerShape {
    /// Open layers own no CPUs.
    pub owns: bool,
    /// Confined layers cannot use more than their own CPUs.
    pub confined: bool,
    pub cpus_range: (usize, usize),
    pub util_range: (f64, f64),
    pub exclusive: bool,
    pub weight: u64,
}

/// Per-layer sizing state: two utilisation averages and the shrink countdown.
#[derive(Debug, Clone, Default)]
pub struct Sizer {
    /// Utilisation in CPUs (1.0 = one CPU busy all the time), EWMA with a half-life of one
    /// interval: decides growth.
    pub util: Vec<f64>,
    /// The same with a half-life of about 7 intervals: decides shrinking.
    pub util_slow: Vec<f64>,
    below: Vec<u32>,
}

impl Sizer {
    pub fn new(nr_layers: usize) -> Self {
        Self {
            util: vec![0.0; nr_layers],
            util_slow: vec![0.0; nr_layers],
            below: vec![0; nr_layers],
        }
    }

    /// Feed one interval's measured utilisation (CPUs) per layer, each capped at what the layer
    /// could have used (`cap`): a late measurement must not look like more CPUs than exist.
    pub fn observe(&mut self, sample: &[f64], cap: &[f64]) {
        for (i, s) in sample.iter().enumerate() {
            let s = s.max(0.0).min(cap.get(i).copied().unwrap_or(f64::INFINITY));
            self.util[i] = 0.5 * self.util[i] + 0.5 * s;
            self.util_slow[i] = 0.9 * self.util_slow[i] + 0.1 * s;
        }
    }

    /// The CPU count each layer should own next, given what it owns now.
    pub fn targets(&mut self, shapes: &[LayerShape], cur: &[usize]) -> Vec<usize> {
        shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if !s.owns {
                    return 0;
                }
                let (min, max) = s.cpus_range;
                let (lo, hi) = s.util_range;
                let (fast, slow) = (self.util[i], self.util_slow[i]);
                let n = cur[i];
                let per = |u: f64| if n == 0 { f64::INFINITY } else { u / n as f64 };
                let t = if n == 0 && fast <= 0.0 {
                    0
                } else if per(fast) > hi {
                    self.below[i] = 0;
                    // The count that brings it under the high bound, at least one more.
                    ((fast / hi).ceil() as usize).max(n + 1)
                } else if per(fast.max(slow)) < lo {
                    self.below[i] += 1;
                    if self.below[i] >= SHRINK_AFTER {
                        self.below[i] = 0;
                        let need = (fast.max(slow) / hi).ceil() as usize;
                        // Half the gap per step, at least one CPU.
                        n - ((n.saturating_sub(need)) / 2).max(1).min(n)
                    } else {
                        n
                    }
                } else {
                    self.below[i] = 0;
                    n
                };
                t.clamp(min, max)
            })
            .collect()
    }
}

/// A core of the machine: its CPUs, LLC and node (dense indices).
#[derive(Debug, Clone)]
pub struct CoreInfo {
    pub cpus: Vec<usize>,
    pub llc: usize,
    pub node: usize,
}

/// Where each CPU id lives.
#[derive(Debug, Clone)]
pub struct Topo {
    pub cores: Vec<CoreInfo>,
    /// Per CPU id: index into cores, or None when offline / unknown.
    pub cpu_core: Vec<Option<usize>>,
}

impl Topo {
    pub fn nr_cpus(&self) -> usize {
        self.cores.iter().map(|c| c.cpus.len()).sum()
    }
}

/// Place `targets` CPUs per layer, starting from `owner` (per CPU id: Some(layer) or None) and
/// keeping what each layer has where it can. Layers may end up with fewer than their target when
/// CPUs run out (heavier layers are served first); `reserve` CPUs always stay unowned.
pub fn place(
    topo: &Topo,
    shapes: &[LayerShape],
    owner: &[Option<usize>],
    targets: &[usize],
    reserve: usize,
) -> Vec<Option<usize>> {
    let mut own = owner.to_vec();
    own.resize(topo.cpu_core.len(), None);
    // Ownership by layers that no longer own anything (Open) is dropped.
    for o in own.iter_mut() {
        if let Some(l) = *o {
            if l >= shapes.len() || !shapes[l].owns {
                *o = None;
            }
        }
    }
    let count = |own: &[Option<usize>], l: usize| own.iter().filter(|o| **o == Some(l)).count();

    // Shrink: give back CPUs from the layer's emptiest LLC, partial cores first.
    for (l, s) in shapes.iter().enumerate() {
        while count(&own, l) > targets[l] {
            let Some(cpu) = release_candidate(topo, &own, l) else {
                break;
            };
            if s.exclusive {
                let core = topo.cpu_core[cpu].expect("owned CPUs have a core");
                for &c in &topo.cores[core].cpus {
                    own[c] = None;
                }
                // Whole cores only: stop once at or below target.
            } else {
                own[cpu] = None;
            }
        }
    }

    // Grow: heavier layers first, minimums before anything else.
    let mut order: Vec<usize> = (0..shapes.len()).filter(|l| shapes[*l].owns).collect();
    order.sort_by_key(|l| (std::cmp::Reverse(shapes[*l].weight), *l));
    let budget = topo.nr_cpus().saturating_sub(reserve);
    for pass in 0..2 {
        for &l in &order {
            let want = if pass == 0 {
                targets[l].min(shapes[l].cpus_range.0)
            } else {
                targets[l]
            };
            while count(&own, l) < want {
                let owned_total = own.iter().filter(|o| o.is_some()).count();
                if owned_total >= budget {
                    break;
                }
                let Some(cpus) = grow_candidate(topo, &own, l, shapes[l].exclusive) else {
                    break;
                };
                if owned_total + cpus.len() > budget {
                    break;
                }
                for c in cpus {
                    own[c] = Some(l);
                }
            }
        }
    }
    own
}

fn layer_llc_counts(topo: &Topo, own: &[Option<usize>], l: usize) -> Vec<usize> {
    let nr_llcs = topo.cores.iter().map(|c| c.llc + 1).max().unwrap_or(0);
    let mut n = vec![0; nr_llcs];
    for (cpu, o) in own.iter().enumerate() {
        if *o == Some(l) {
            if let Some(core) = topo.cpu_core[cpu] {
                n[topo.cores[core].llc] += 1;
            }
        }
    }
    n
}

fn release_candidate(topo: &Topo, own: &[Option<usize>], l: usize) -> Option<usize> {
    let per_llc = layer_llc_counts(topo, own, l);
    own.iter()
        .enumerate()
        .filter(|(_, o)| **o == Some(l))
        .filter_map(|(cpu, _)| topo.cpu_core[cpu].map(|core| (cpu, core)))
        .min_by_key(|(cpu, core)| {
            let c = &topo.cores[*core];
            let mine = c.cpus.iter().filter(|x| own[**x] == Some(l)).count();
            // Emptiest LLC of the layer, partial cores, lowest CPU id (CPU 0 goes back first).
            (per_llc[c.llc], mine, *cpu)
        })
        .map(|(cpu, _)| cpu)
}

/// The CPUs to add to layer `l`: one CPU, or a whole free core for an exclusive layer.
fn grow_candidate(
    topo: &Topo,
    own: &[Option<usize>],
    l: usize,
    exclusive: bool,
) -> Option<Vec<usize>> {
    let per_llc = layer_llc_counts(topo, own, l);
    let nodes: Vec<usize> = own
        .iter()
        .enumerate()
        .filter(|(_, o)| **o == Some(l))
        .filter_map(|(cpu, _)| topo.cpu_core[cpu].map(|c| topo.cores[c].node))
        .collect();
    let free_in_llc = |llc: usize| {
        topo.cores
            .iter()
            .filter(|c| c.llc == llc)
            .flat_map(|c| c.cpus.iter())
            .filter(|x| own[**x].is_none())
            .count()
    };
    if exclusive {
        return topo
            .cores
            .iter()
            .filter(|c| c.cpus.iter().all(|x| own[*x].is_none()))
            .max_by_key(|c| {
                (
                    per_llc[c.llc],
                    nodes.contains(&c.node),
                    free_in_llc(c.llc),
                    c.cpus.iter().max().copied(),
                )
            })
            .map(|c| c.cpus.clone());
    }
    topo.cores
        .iter()
        .flat_map(|c| c.cpus.iter().map(move |cpu| (*cpu, c)))
        // Exclusive layers own whole cores, so a free CPU never shares a core with one.
        .filter(|(cpu, _)| own[*cpu].is_none())
        .max_by_key(|(cpu, c)| {
            let mine = c.cpus.iter().filter(|x| own[**x] == Some(l)).count();
            let others = c
                .cpus
                .iter()
                .filter(|x| own[**x].is_some() && own[**x] != Some(l))
                .count();
            (
                // Complete a core the layer already has a CPU of, then wholly free cores.
                mine > 0,
                others == 0,
                // LLC- then node-local growth.
                per_llc[c.llc],
                nodes.contains(&c.node),
                free_in_llc(c.llc),
                // High CPU ids first: CPU 0 takes most interrupts and housekeeping.
                *cpu,
            )
        })
        .map(|(cpu, _)| vec![cpu])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `llcs` LLCs of `cores` cores of `smt` CPUs each, numbered core-major.
    fn topo(llcs: usize, cores: usize, smt: usize) -> Topo {
        let mut t = Topo {
            cores: Vec::new(),
            cpu_core: Vec::new(),
        };
        let mut cpu = 0;
        for llc in 0..llcs {
            for _ in 0..cores {
                let cpus: Vec<usize> = (cpu..cpu + smt).collect();
                for _ in &cpus {
                    t.cpu_core.push(Some(t.cores.len()));
                }
                cpu += smt;
                t.cores.push(CoreInfo {
                    cpus,
                    llc,
                    node: llc,
                });
            }
        }
        t
    }

    fn shape(min: usize, max: usize) -> LayerShape {
        LayerShape {
            owns: true,
            confined: true,
            cpus_range: (min, max),
            util_range: (0.5, 0.8),
            exclusive: false,
            weight: 100,
        }
    }

    #[test]
    fn grows_when_saturated_and_shrinks_with_hysteresis() {
        let shapes = vec![shape(1, 3)];
        let mut s = Sizer::new(1);
        let mut n = 1;
        let mut seen = vec![n];
        // Three hogs: the layer uses every CPU it owns.
        for _ in 0..20 {
            s.observe(&[n.min(3) as f64], &[8.0]);
            n = s.targets(&shapes, &[n])[0];
            seen.push(n);
        }
        assert_eq!(n, 3, "{seen:?}");
        assert!(
            seen.windows(2).all(|w| w[1] >= w[0]),
            "monotonic growth {seen:?}"
        );
        // Load gone: shrinks, but not in the first intervals.
        s.observe(&[0.0], &[8.0]);
        assert_eq!(s.targets(&shapes, &[3])[0], 3);
        // A dip of a few intervals under load does not shrink it.
        let mut d = s.clone();
        for _ in 0..3 {
            d.observe(&[0.0], &[8.0]);
            assert_eq!(d.targets(&shapes, &[3])[0], 3);
        }
        for _ in 0..60 {
            s.observe(&[0.0], &[8.0]);
            n = s.targets(&shapes, &[n])[0];
        }
        assert_eq!(n, 1);
    }

    #[test]
    fn stays_inside_the_util_range() {
        let shapes = vec![shape(1, 8)];
        let mut s = Sizer::new(1);
        // 1.3 CPUs of load on 2 CPUs: 0.65 per CPU, inside [0.5, 0.8]: no change.
        for _ in 0..60 {
            s.observe(&[1.3], &[8.0]);
        }
        assert_eq!(s.targets(&shapes, &[2])[0], 2);
        // On 4 CPUs it is 0.325 per CPU: shrink (after the hysteresis) towards ceil(1.3/0.8) = 2.
        let mut n = 4;
        for _ in 0..40 {
            s.observe(&[1.3], &[8.0]);
            n = s.targets(&shapes, &[n])[0];
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn places_whole_cores_and_llc_local() {
        // 2 LLCs x 2 cores x 2 SMT = 8 CPUs.
        let t = topo(2, 2, 2);
        let shapes = vec![shape(1, 4), shape(1, 4)];
        let own = place(&t, &shapes, &[None; 8], &[2, 2], 1);
        let a: Vec<usize> = (0..8).filter(|c| own[*c] == Some(0)).collect();
        let b: Vec<usize> = (0..8).filter(|c| own[*c] == Some(1)).collect();
        assert_eq!(a.len(), 2);
        assert_eq!(b.len(), 2);
        // Each layer got one whole core.
        assert_eq!(t.cpu_core[a[0]], t.cpu_core[a[1]], "{own:?}");
        assert_eq!(t.cpu_core[b[0]], t.cpu_core[b[1]], "{own:?}");
        // Growing layer 0 to 4 stays in its LLC.
        let own2 = place(&t, &shapes, &own, &[4, 2], 1);
        let a2: Vec<usize> = (0..8).filter(|c| own2[*c] == Some(0)).collect();
        assert_eq!(a2.len(), 4);
        assert!(
            a.iter().all(|c| a2.contains(c)),
            "sticky: {own:?} -> {own2:?}"
        );
        let llcs: std::collections::BTreeSet<usize> = a2
            .iter()
            .map(|c| t.cores[t.cpu_core[*c].unwrap()].llc)
            .collect();
        assert_eq!(llcs.len(), 1, "{own2:?}");
    }

    #[test]
    fn keeps_the_reserve_and_exclusive_cores() {
        let t = topo(1, 4, 1);
        let mut ex = shape(1, 4);
        ex.exclusive = true;
        let own = place(&t, &[ex.clone()], &[None; 4], &[4], 1);
        assert_eq!(own.iter().filter(|o| o.is_some()).count(), 3);
        assert!(own[0].is_none(), "CPU 0 stays unowned: {own:?}");
        // Exclusive on SMT: whole cores, no sharing.
        let t2 = topo(1, 2, 2);
        let own = place(&t2, &[ex, shape(1, 2)], &[None; 4], &[1, 1], 0);
        let ex_cpus: Vec<usize> = (0..4).filter(|c| own[*c] == Some(0)).collect();
        assert_eq!(ex_cpus.len(), 2, "{own:?}");
        assert_eq!(t2.cpu_core[ex_cpus[0]], t2.cpu_core[ex_cpus[1]]);
        let other: Vec<usize> = (0..4).filter(|c| own[*c] == Some(1)).collect();
        assert_eq!(other.len(), 1);
        assert_ne!(t2.cpu_core[other[0]], t2.cpu_core[ex_cpus[0]]);
    }

    #[test]
    fn shrink_releases_cpus() {
        let t = topo(1, 4, 1);
        let shapes = vec![shape(1, 3)];
        let own = place(&t, &shapes, &[None; 4], &[3], 1);
        assert_eq!(own.iter().filter(|o| o.is_some()).count(), 3);
        let own = place(&t, &shapes, &own, &[1], 1);
        assert_eq!(own.iter().filter(|o| o.is_some()).count(), 1);
    }
}
