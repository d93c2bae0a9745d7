//! The split stage alone, as the deployed splitter runs it: the pipeline's
//! splitter over the local adapters (the redb store, an objects folder, a
//! queue in memory), with the system allocator, and no importer taking
//! chunks. Prints the rows, chunks, wall time, rows/s and peak RSS.
//!
//!     cargo bench -p contact-import-local --bench split_stage -- FILE
//!
//! FILE is best given as an absolute path: cargo runs a bench from its
//! package's folder.
//! `scripts/bench --split-stage` runs it over the generated files.

use std::fs::{self, File};
use std::io::BufReader;
use std::sync::Arc;
use std::time::Instant;

use contact_import_core::imports::keys;
use contact_import_core::pipeline::{
    Pipeline, PipelineConfig, SplitOutcome, Upload, DEFAULT_CHUNK_ROWS,
};
use contact_import_core::ports::memory::MemoryQueue;
use contact_import_core::ports::ImportStore;
use contact_import_local::{DirObjects, RedbStore};

/// The tenant of the upload, which the splitter takes from its key.
const TENANT: &str = "bench";

fn main() {
    // `cargo bench` passes `--bench` after the arguments given after `--`.
    let Some(file) = std::env::args().skip(1).find(|arg| !arg.starts_with("--")) else {
        eprintln!("usage: cargo bench -p contact-import-local --bench split_stage -- FILE");
        std::process::exit(2);
    };
    let work = tempfile::tempdir().expect("a scratch folder");
    let store = RedbStore::open(work.path().join("store.redb")).expect("the store opens");
    let objects = DirObjects::open(work.path().join("objects")).expect("the objects folder opens");
    let key = format!("{}{TENANT}/contacts.csv", keys::UPLOADS);
    let body = BufReader::new(File::open(&file).expect("the file opens"));
    let info = objects
        .upload(&key, body, None)
        .expect("the upload is copied");
    let pipeline = Pipeline::new(
        Arc::new(store),
        Arc::new(objects),
        Arc::new(MemoryQueue::default()),
        PipelineConfig {
            bucket: "bench".to_owned(),
            chunk_rows: DEFAULT_CHUNK_ROWS,
        },
    );
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let start = Instant::now();
    let upload = Upload {
        key,
        version: Some(info.version),
    };
    let outcome = runtime
        .block_on(pipeline.split(upload))
        .expect("the split runs");
    let wall = start.elapsed().as_secs_f64();
    let SplitOutcome::Split { import_id, chunks } = outcome else {
        panic!("the file was not split: {outcome:?}");
    };
    let record = runtime
        .block_on(pipeline.store().get_import(TENANT, &import_id))
        .expect("the record reads")
        .expect("the import has a record");
    println!(
        "split {} rows in {chunks} chunks: {wall:.2} s, {:.0} rows/s, peak RSS {} MB",
        record.rows,
        record.rows as f64 / wall,
        peak_rss_kib() / 1024
    );
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status reads");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM is in /proc/self/status")
}
