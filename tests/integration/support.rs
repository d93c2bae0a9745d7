//! Helpers shared by the test modules: open a fixture, run every record
//! through `Screen`, and write or read back the error report.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use contact_import_core::rules::engine::AcceptedRow;
use contact_import_core::rules::headers::Target;
use contact_import_core::rules::plan::{ColumnPlan, MappingSource};
use contact_import_core::rules::report::ReportWriter;
use contact_import_core::{
    Contact, ContactFile, FileFacts, ImportSpec, Refusal, Rejection, RowOutcome, Screen, Tally,
    WriteOutcome,
};

/// The path of a fixture in `tests/data/`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// The exact bytes of a fixture.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

pub fn spec(json: &str) -> ImportSpec {
    ImportSpec::from_json(json).unwrap_or_else(|e| panic!("test spec {json} is invalid: {e}"))
}

/// Opens a fixture as the engine would; a refusal is returned as is.
pub fn open(name: &str, spec_json: &str) -> Result<ContactFile<File>, Refusal> {
    let path = fixture_path(name);
    let file =
        File::open(&path).unwrap_or_else(|e| panic!("cannot open fixture {}: {e}", path.display()));
    ContactFile::open(file, &spec(spec_json))
}

/// The refusal a fixture must get; panics when the file opens.
pub fn refusal(name: &str, spec_json: &str) -> Refusal {
    match open(name, spec_json) {
        Ok(file) => panic!(
            "{name} should be refused but opened with headers {:?}",
            file.facts().headers
        ),
        Err(refusal) => refusal,
    }
}

/// Everything one import of a file produced.
pub struct Import {
    pub facts: FileFacts,
    pub plan: ColumnPlan,
    pub outcomes: Vec<RowOutcome>,
}

/// Imports a fixture with an empty do-not-call list.
pub fn import(name: &str, spec_json: &str) -> Import {
    import_with_dnc(name, spec_json, &[])
}

/// Imports a fixture with the given do-not-call numbers (E.164).
pub fn import_with_dnc(name: &str, spec_json: &str, do_not_call: &[&str]) -> Import {
    let path = fixture_path(name);
    let file =
        File::open(&path).unwrap_or_else(|e| panic!("cannot open fixture {}: {e}", path.display()));
    import_reader(file, spec_json, do_not_call)
}

/// Imports any bytes (a report written by a test, a fixture changed by a test).
pub fn import_bytes(bytes: &[u8], spec_json: &str, do_not_call: &[&str]) -> Import {
    import_reader(bytes, spec_json, do_not_call)
}

pub fn import_reader<R: Read>(input: R, spec_json: &str, do_not_call: &[&str]) -> Import {
    let spec = spec(spec_json);
    let mut file = match ContactFile::open(input, &spec) {
        Ok(file) => file,
        Err(refusal) => panic!("the file was refused: {refusal}"),
    };
    let do_not_call: HashSet<String> = do_not_call.iter().map(|n| n.to_string()).collect();
    let mut screen = Screen::new(&spec, &do_not_call);
    let mut outcomes = Vec::new();
    while let Some(outcome) = file
        .next_outcome(&mut screen)
        .unwrap_or_else(|refusal| panic!("reading a record failed: {refusal}"))
    {
        outcomes.push(outcome);
    }
    Import {
        facts: file.facts().clone(),
        plan: file.plan().clone(),
        outcomes,
    }
}

impl Import {
    pub fn accepted(&self) -> Vec<&AcceptedRow> {
        self.outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                RowOutcome::Accepted(accepted) => Some(accepted),
                RowOutcome::Rejected(_) => None,
            })
            .collect()
    }

    pub fn rejected(&self) -> Vec<&Rejection> {
        self.outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                RowOutcome::Accepted(_) => None,
                RowOutcome::Rejected(rejection) => Some(rejection),
            })
            .collect()
    }

    /// Each record as (row, "imported" or its error code), in file order.
    pub fn summary(&self) -> Vec<(u64, &'static str)> {
        self.outcomes
            .iter()
            .map(|outcome| match outcome {
                RowOutcome::Accepted(accepted) => (accepted.row, "imported"),
                RowOutcome::Rejected(rejection) => (rejection.row, rejection.code.as_str()),
            })
            .collect()
    }

    /// The contact imported from spreadsheet row `row`.
    pub fn contact(&self, row: u64) -> &Contact {
        self.accepted()
            .into_iter()
            .find(|accepted| accepted.row == row)
            .map(|accepted| &accepted.contact)
            .unwrap_or_else(|| panic!("row {row} was not imported; outcomes: {:?}", self.summary()))
    }

    /// The rejection of spreadsheet row `row`.
    pub fn rejection(&self, row: u64) -> &Rejection {
        self.rejected()
            .into_iter()
            .find(|rejection| rejection.row == row)
            .unwrap_or_else(|| panic!("row {row} was not rejected; outcomes: {:?}", self.summary()))
    }

    /// The counters, with every accepted row counted as inserted.
    pub fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        for outcome in &self.outcomes {
            match outcome {
                RowOutcome::Accepted(_) => tally.record_write(WriteOutcome::Inserted),
                RowOutcome::Rejected(rejection) => tally.record_rejection(rejection.code),
            }
        }
        tally
    }

    /// The error report of this import, as the bytes a user downloads.
    pub fn report(&self) -> Vec<u8> {
        let mut writer =
            ReportWriter::new(Vec::new(), &self.plan.source_headers()).expect("report header");
        for rejection in self.rejected() {
            writer.write(rejection).expect("report line");
        }
        assert_eq!(writer.rows(), self.rejected().len() as u64);
        writer.finish().expect("report bytes")
    }

    /// Where a header's column goes and why.
    pub fn target(&self, header: &str) -> (&Target, MappingSource) {
        let column = self
            .plan
            .columns()
            .iter()
            .find(|column| column.header == header)
            .unwrap_or_else(|| panic!("no column `{header}` in {:?}", self.facts.headers));
        (&column.target, column.source)
    }
}

/// A CSV read back as its header and records, every cell as text.
pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub fn read_csv(bytes: &[u8]) -> Csv {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .expect("csv header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| {
            record
                .expect("csv record")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    Csv { header, rows }
}

pub fn write_csv(csv: &Csv) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    writer.write_record(&csv.header).expect("csv header");
    for row in &csv.rows {
        writer.write_record(row).expect("csv record");
    }
    writer.into_inner().expect("csv bytes")
}

impl Csv {
    /// The record whose `row` column (a report's first column) is `row`.
    pub fn report_line(&self, row: u64) -> &Vec<String> {
        self.rows
            .iter()
            .find(|line| line[0] == row.to_string())
            .unwrap_or_else(|| panic!("no report line for row {row}: {:?}", self.rows))
    }

    pub fn report_line_mut(&mut self, row: u64) -> &mut Vec<String> {
        let row = row.to_string();
        self.rows
            .iter_mut()
            .find(|line| line[0] == row)
            .expect("report line")
    }

    pub fn column(&self, header: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == header)
            .unwrap_or_else(|| panic!("no column `{header}` in {:?}", self.header))
    }
}
