//! Event queue throughput: the twin's `(time, seq)` heap under the mix of a large run (many
//! events at distinct times, many at equal times). Run with `cargo bench -p kscale-twin`.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kscale_model::SimTime;
use kscale_twin::queue::EventQueue;

fn throughput(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut g = c.benchmark_group("event queue");
    g.throughput(Throughput::Elements(N));
    g.bench_function("push then pop 100,000 events", |b| {
        b.iter(|| {
            let mut q = EventQueue::default();
            for i in 0..N {
                // Ticks every second plus bursts at equal times.
                q.push(
                    SimTime::from_millis((i * 7919) % 86_400_000 / 1000 * 1000),
                    i,
                );
            }
            let mut sum = 0u64;
            while let Some((_, e)) = q.pop() {
                sum = sum.wrapping_add(e);
            }
            sum
        })
    });
    g.bench_function("steady state: 1,000 queued, 100,000 pop+push", |b| {
        b.iter(|| {
            let mut q = EventQueue::default();
            for i in 0..1000u64 {
                q.push(SimTime::from_millis(i * 1000), i);
            }
            let mut sum = 0u64;
            for _ in 0..N {
                let (t, e) = q.pop().expect("non-empty");
                sum = sum.wrapping_add(e);
                q.push(t.plus_millis(1000 + e % 50), e);
            }
            sum
        })
    });
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
