//! Snapshot -> bytes at 1,000 and 10,000 users: `cargo bench --bench encode`.
//! The snapshot comes from a real poll of the demo simulator (setup, not
//! timed); only encoding (and gzip) is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gong_exporter::config::Config;
use gong_exporter::encoding::encode_snapshot;
use gong_exporter::published::Exposition;
use gong_exporter::snapshot::DataSnapshot;

fn demo_snapshot(users: u32) -> Arc<DataSnapshot> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut config = Config::demo(users);
        config.client.rate_limit = 1_000_000.0;
        config.listen_addresses = vec!["127.0.0.1:0".parse().unwrap()];
        let exporter = gong_exporter::start(config).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        while !exporter.shared().is_ready() {
            assert!(Instant::now() < deadline, "demo poll did not finish");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let snapshot = Arc::clone(&exporter.shared().exposition.load().snapshot);
        exporter.shutdown().await;
        snapshot
    })
}

fn encode(c: &mut Criterion) {
    let sizes: Vec<u32> = std::env::var("GONG_BENCH_USERS")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![1_000, 10_000]);
    for users in sizes {
        let full = demo_snapshot(users);
        // The gauges alone are what the Python peer (bench/python_peer.py)
        // builds from a non-demo exporter; the demo adds 28 days of
        // counters and the coaching collector.
        let gauges = Arc::new(DataSnapshot { counters: None, coaching: None, ..(*full).clone() });
        for (name, snapshot) in [("", gauges), ("_with_counters_and_coaching", full)] {
            let series = snapshot.series_count() as u64;
            let text = encode_snapshot(Arc::clone(&snapshot), true);
            let gz = gong_exporter::gzip::compress(text.as_bytes());
            let what = if name.is_empty() { "" } else { " with counters and coaching" };
            eprintln!("{users} users{what}: {series} series, {} bytes of text, {} bytes gzipped", text.len(), gz.len());
            let mut group = c.benchmark_group(format!("{users}_users{name}"));
            group.sample_size(10).throughput(Throughput::Elements(series));
            group.bench_function("encode", |b| b.iter(|| encode_snapshot(Arc::clone(&snapshot), true)));
            group.bench_function("encode_and_gzip", |b| b.iter(|| Exposition::build(Arc::clone(&snapshot), true)));
            group.finish();
        }
    }
}

criterion_group!(benches, encode);
criterion_main!(benches);
