//! WAL benchmarks (in progress).
fn main() {}
