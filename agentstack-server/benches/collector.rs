//! The collector's CPU per span, stage by stage (criterion): what `POST /v1/traces` does to the
//! load tools' 64-span gzip request of LLM spans before the bus has it. The collector is the
//! largest CPU user of both modes' pipelines, and the one role that every span goes through.
//! `cargo bench -p agentstack-server --bench collector`.
//!
//! - `decode`: gunzip and protobuf decode (`collector::decode_request`);
//! - `normalize`: the decoded request into the server's span model (`normalize_request`);
//! - `encode`: the normalized batch as the Redis stream entry (MessagePack, distributed mode).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use agentstack_server::bus::SpanBatch;
use agentstack_server::collector::{Encoding, Format, decode_request};
use agentstack_server::normalize::normalize_request;

mod load;

/// The binary's allocator (`main.rs`), so that the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAX_DECOMPRESSED: usize = 64 * 1024 * 1024;

fn collector(c: &mut Criterion) {
    let body = load::request(7);
    let decoded =
        decode_request(&body, Format::Protobuf, Encoding::Gzip, MAX_DECOMPRESSED).unwrap();
    let batch = SpanBatch {
        spans: normalize_request(decoded.clone(), "default").spans,
    };
    assert_eq!(batch.spans.len(), load::BATCH);

    let mut group = c.benchmark_group("collector");
    group.throughput(Throughput::Elements(load::BATCH as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            decode_request(&body, Format::Protobuf, Encoding::Gzip, MAX_DECOMPRESSED).unwrap()
        })
    });
    group.bench_function("normalize", |b| {
        b.iter_batched(
            || decoded.clone(),
            |request| normalize_request(request, "default"),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("encode", |b| {
        b.iter(|| agentstack_server::bus::redis::encode(&batch).unwrap())
    });
    group.finish();
}

criterion_group!(benches, collector);
criterion_main!(benches);
