//! Criterion bench of the library on Elixir's stdlib ebin (253 modules), the
//! same input `cargo xtask bench pack` times end to end. Files are read once,
//! outside the measurement.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;

const EBIN: &str = "/usr/lib/elixir/lib/elixir/ebin";
const START: &str = "Elixir.GenEvent.beam";

fn inputs() -> Option<Vec<avm::PackInput>> {
    let dir = std::env::var("AVM_BENCH_EBIN").unwrap_or_else(|_| EBIN.into());
    let mut v = Vec::new();
    for e in std::fs::read_dir(Path::new(&dir)).ok()? {
        let path = e.ok()?.path();
        if path.extension().is_some_and(|x| x == "beam") {
            let start = path.file_name().is_some_and(|n| n == START);
            v.push(avm::PackInput {
                bytes: std::fs::read(&path).ok()?,
                path,
                start,
            });
        }
    }
    Some(v)
}

fn bench(c: &mut Criterion) {
    let Some(inputs) = inputs() else {
        eprintln!("SKIPPED: {EBIN} not found (apt-get install elixir, or set AVM_BENCH_EBIN)");
        return;
    };
    let total: usize = inputs.iter().map(|i| i.bytes.len()).sum();
    let mut g = c.benchmark_group(format!("elixir ebin ({} modules)", inputs.len()));
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("pack", |b| {
        b.iter(|| avm::pack(&inputs, &avm::PackOptions::default()).unwrap())
    });
    g.bench_function("pack, 1 thread", |b| {
        let opts = avm::PackOptions {
            threads: 1,
            ..Default::default()
        };
        b.iter(|| avm::pack(&inputs, &opts).unwrap())
    });
    g.bench_function("parse + strip", |b| {
        b.iter(|| {
            for i in &inputs {
                let beam = avm::Beam::parse(&i.bytes).unwrap();
                std::hint::black_box(beam.strip(avm::DEFAULT_INFLATE_CAP).unwrap());
            }
        })
    });
    g.bench_function("module refs (graph input)", |b| {
        b.iter(|| {
            for i in &inputs {
                let beam = avm::Beam::parse(&i.bytes).unwrap();
                std::hint::black_box(
                    avm::ModuleRefs::from_beam(&beam, avm::DEFAULT_INFLATE_CAP).unwrap(),
                );
            }
        })
    });
    let packed = avm::pack(&inputs, &avm::PackOptions::default())
        .unwrap()
        .bytes;
    g.bench_function("read archive", |b| {
        b.iter(|| avm::Archive::parse(&packed).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
