//! Criterion benchmark of the Rust update step.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use scx_pelt::{SchedAvg, TaskPelt};

fn bench_update(c: &mut Criterion) {
    // Steps of ~0.7 ms: most cross a period boundary, so the averages are recomputed too.
    c.bench_function("SchedAvg::update (period crossed most steps)", |b| {
        let mut sa = SchedAvg::new();
        let mut now = 0u64;
        let mut i = 0u64;
        b.iter(|| {
            now += 700_000 + (i & 0xffff);
            i += 1;
            black_box(sa.update(black_box(now), 1, 1, i & 1 == 0, 1024))
        })
    });
    c.bench_function("SchedAvg::update (within a period)", |b| {
        let mut sa = SchedAvg::new();
        let mut now = 0u64;
        b.iter(|| {
            now += 2048;
            if now % (1 << 20) < 4096 {
                now += 8192;
            }
            black_box(sa.update(black_box(now), 1, 1, true, 1024))
        })
    });
    c.bench_function("TaskPelt running+stopping", |b| {
        let mut t = TaskPelt::new();
        t.runnable(0, 1024);
        let mut now = 0u64;
        b.iter(|| {
            now += 500_000;
            t.running(black_box(now));
            now += 500_000;
            t.stopping(black_box(now));
        })
    });
}

criterion_group!(benches, bench_update);
criterion_main!(benches);
