//! The progress bar of an import, on stderr, and only on a terminal.

use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use contact_import_core::imports::{ImportRecord, ImportStatus};
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Rows done of the file's data rows. Until the splitter has counted the
/// rows it is a spinner with a counter; then a bar.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar on stderr when stderr is a terminal; otherwise nothing is drawn.
    pub fn on_stderr() -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<10} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("uploading");
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    pub fn hidden() -> Self {
        Progress {
            bar: ProgressBar::hidden(),
        }
    }

    /// Whether anything is drawn: a hidden bar needs no one to feed it.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// What the import is doing: uploading, scanning, importing, …
    pub fn stage(&self, stage: &'static str) {
        self.bar.set_message(stage);
    }

    /// The data rows of the file, once known: the spinner becomes a bar.
    pub fn total(&self, rows: u64) {
        if self.bar.length().is_some() {
            return;
        }
        self.bar.set_length(rows);
        self.bar.set_style(
            ProgressStyle::with_template(
                "{msg:<10} [{bar:30}] {human_pos}/{human_len} rows  {rate}  eta {eta}",
            )
            .map(|style| {
                style.progress_chars("=> ").with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn fmt::Write| {
                        let _ = write!(w, "{} rows/s", HumanCount(state.per_sec() as u64));
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }

    /// What an import record tells: the stage, and the rows to do once
    /// the splitter has counted them.
    pub fn show_record(&self, record: &ImportRecord) {
        if record.chunks_total > 0 {
            self.total(record.rows);
        }
        self.stage(match record.status {
            ImportStatus::Accepted | ImportStatus::Splitting => "scanning",
            ImportStatus::Importing => "importing",
            _ => "finishing",
        });
    }

    /// Rows done, as the pipeline reports them after each chunk.
    pub fn rows_done(&self) -> Arc<dyn Fn(u64) + Send + Sync> {
        let bar = self.bar.clone();
        Arc::new(move |rows| bar.inc(rows))
    }

    /// Rows done, as an import record counts them.
    pub fn position(&self, rows: u64) {
        self.bar.set_position(rows);
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
