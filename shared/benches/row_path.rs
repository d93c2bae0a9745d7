//! The row path on generated 100,000-row files: decode, map, validate,
//! normalise and screen, on one core. Criterion reports rows (elements) per
//! second, for a plain file with one phone column and for a Google Contacts
//! export with two labelled phone columns and cells of several numbers.
//!
//!     cargo bench -p contact-import-core --bench row_path

use std::collections::HashSet;

use contact_import_core::file::synthetic::{
    write_synthetic_file, SyntheticLayout, SyntheticOptions,
};
use contact_import_core::{ContactFile, ImportSpec, RowOutcome, Screen};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROWS: u64 = 100_000;

fn row_path(c: &mut Criterion) {
    let spec = ImportSpec::default();
    let do_not_call: HashSet<String> = HashSet::new();
    let mut group = c.benchmark_group("row_path");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(10);
    for (name, layout) in [
        ("100k_realistic_rows", SyntheticLayout::Plain),
        ("100k_google_contacts_rows", SyntheticLayout::GoogleContacts),
    ] {
        let mut file = Vec::new();
        let options = SyntheticOptions::realistic(ROWS).in_layout(layout);
        write_synthetic_file(&mut file, options).expect("writes to memory");
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut contacts =
                    ContactFile::open(file.as_slice(), &spec).expect("the file opens");
                let mut screen = Screen::new(&spec, &do_not_call);
                let mut accepted = 0u64;
                while let Some(outcome) = contacts
                    .next_outcome(&mut screen)
                    .expect("reads from memory")
                {
                    if let RowOutcome::Accepted(_) = outcome {
                        accepted += 1;
                    }
                }
                assert!(accepted > ROWS * 9 / 10, "a realistic file mostly imports");
                accepted
            })
        });
    }
    group.finish();
}

criterion_group!(benches, row_path);
criterion_main!(benches);
