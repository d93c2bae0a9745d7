//! The import record: one per uploaded file, from acceptance to its final state.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::engine::FileFacts;
use crate::rules::outcome::Tally;
use crate::rules::plan::ColumnPlan;
use crate::rules::spec::{check_identifier, ImportSpec, SpecError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportStatus {
    Accepted,
    Splitting,
    Importing,
    Finalizing,
    Completed,
    CompletedWithErrors,
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Accepted => "ACCEPTED",
            ImportStatus::Splitting => "SPLITTING",
            ImportStatus::Importing => "IMPORTING",
            ImportStatus::Finalizing => "FINALIZING",
            ImportStatus::Completed => "COMPLETED",
            ImportStatus::CompletedWithErrors => "COMPLETED_WITH_ERRORS",
            ImportStatus::Failed => "FAILED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            ImportStatus::Completed | ImportStatus::CompletedWithErrors | ImportStatus::Failed
        )
    }
}

impl std::fmt::Display for ImportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub tenant: String,
    pub import_id: String,
    /// The uploaded object.
    pub source_key: String,
    pub status: ImportStatus,
    /// Why the import failed, for a FAILED one: a code and a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<ImportFailure>,
    pub spec: ImportSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<FileFacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<ColumnPlan>,
    /// The UTF-8 object the chunks read: the upload itself, or a transcoded copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_key: Option<String>,
    pub rows: u64,
    pub bytes: u64,
    pub tally: Tally,
    pub chunks_total: u32,
    pub chunks_done: u32,
    /// Rows per chunk, as the splitter cut the file: a resumed import is
    /// cut the same way.
    #[serde(default)]
    pub chunk_rows: u64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportFailure {
    pub code: String,
    pub message: String,
}

/// Overwrites `field` only when the update carries a value for it.
fn set<T: Clone>(field: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        field.clone_from(value);
    }
}

impl ImportRecord {
    /// A new import, as the splitter records it before reading the file.
    pub fn accepted(
        tenant: &str,
        import_id: &str,
        source_key: &str,
        bytes: u64,
        spec: ImportSpec,
        now: &str,
    ) -> Self {
        ImportRecord {
            tenant: tenant.to_owned(),
            import_id: import_id.to_owned(),
            source_key: source_key.to_owned(),
            status: ImportStatus::Accepted,
            failure: None,
            spec,
            facts: None,
            plan: None,
            data_key: None,
            rows: 0,
            bytes,
            tally: Tally::default(),
            chunks_total: 0,
            chunks_done: 0,
            chunk_rows: 0,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            finished_at: None,
            report_key: None,
            summary_key: None,
        }
    }

    /// Applies an update; the stores call this so that they cannot disagree
    /// on what an update means. Counters are left to `commit_chunk`.
    pub fn apply(&mut self, update: &ImportUpdate) {
        self.status = update.status;
        self.updated_at = update.now.clone();
        if update.status.is_final() {
            self.finished_at = Some(update.now.clone());
        }
        set(&mut self.failure, &update.failure);
        set(&mut self.facts, &update.facts);
        set(&mut self.plan, &update.plan);
        set(&mut self.data_key, &update.data_key);
        set(&mut self.report_key, &update.report_key);
        set(&mut self.summary_key, &update.summary_key);
        if let Some(rows) = update.rows {
            self.rows = rows;
        }
        if let Some(chunks) = update.chunks_total {
            self.chunks_total = chunks;
        }
        if let Some(chunk_rows) = update.chunk_rows {
            self.chunk_rows = chunk_rows;
        }
    }
}

/// A change of status, with what the step that makes it has learnt.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportUpdate {
    pub status: ImportStatus,
    pub now: String,
    pub failure: Option<ImportFailure>,
    pub facts: Option<FileFacts>,
    pub plan: Option<ColumnPlan>,
    pub data_key: Option<String>,
    pub rows: Option<u64>,
    pub chunks_total: Option<u32>,
    pub chunk_rows: Option<u64>,
    pub report_key: Option<String>,
    pub summary_key: Option<String>,
}

impl ImportUpdate {
    pub fn to(status: ImportStatus, now: &str) -> Self {
        ImportUpdate {
            status,
            now: now.to_owned(),
            failure: None,
            facts: None,
            plan: None,
            data_key: None,
            rows: None,
            chunks_total: None,
            chunk_rows: None,
            report_key: None,
            summary_key: None,
        }
    }
}

/// What one chunk of rows came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkResult {
    pub index: u32,
    pub tally: Tally,
    /// The chunk's report lines, when it rejected any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_part: Option<String>,
}

/// The id of the import of one upload: the same for every delivery of the
/// event about it, different for a new upload under the same key.
pub fn import_id_for(bucket: &str, key: &str, version: &str) -> String {
    let digest = Sha256::new()
        .chain_update(bucket.as_bytes())
        .chain_update([0])
        .chain_update(key.as_bytes())
        .chain_update([0])
        .chain_update(version.as_bytes())
        .finalize();
    format!("imp-{}", hex(&digest[..10]))
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        write!(text, "{byte:02x}").expect("writing to a String cannot fail");
    }
    text
}

/// Where each object of an import lives. Every key starts with a fixed
/// prefix and the tenant, so IAM can scope each function to its prefixes.
pub mod keys {
    use super::*;

    pub const UPLOADS: &str = "uploads/";
    /// Staging copies and report parts, which the finalizer joins.
    pub(crate) const WORK: &str = "work/";
    /// Reports and summaries, which users download.
    pub(crate) const REPORTS: &str = "reports/";
    /// The first folder of every key the pipeline builds.
    pub const PREFIXES: [&str; 3] = [UPLOADS, WORK, REPORTS];
    /// File types the splitter accepts: delimited text, and vCard files.
    pub const ACCEPTED_SUFFIXES: [&str; 4] = [".csv", ".tsv", ".txt", ".vcf"];
    /// The longest file name, in bytes, that [`upload_name`] keeps. With
    /// the `.spec.json` of its sidecar it stays within the 255 bytes a file
    /// system allows one name, and a whole upload key (a tenant of up to 128
    /// bytes and a time folder) well within the 1,024 of an S3 key.
    pub const MAX_NAME_BYTES: usize = 200;

    /// A user's file name as the last part of an upload key: the name
    /// itself when it has at most [`MAX_NAME_BYTES`], else its start, cut
    /// between characters, a hash of the whole name, so that two long names
    /// that start alike stay apart, and its extension.
    pub fn upload_name(name: &str) -> Cow<'_, str> {
        if name.len() <= MAX_NAME_BYTES {
            return Cow::Borrowed(name);
        }
        let extension = name
            .rfind('.')
            .map(|dot| &name[dot..])
            .filter(|extension| extension.len() <= 16)
            .unwrap_or("");
        let hash = hex(&Sha256::digest(name.as_bytes())[..6]);
        let mut cut = MAX_NAME_BYTES - extension.len() - hash.len() - 1;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        Cow::Owned(format!("{}-{hash}{extension}", &name[..cut]))
    }

    /// The tenant of an upload key `uploads/<tenant>/...`, checked.
    pub fn upload_tenant(key: &str) -> Result<&str, SpecError> {
        let refuse = |message: String| SpecError {
            key: "upload key".to_owned(),
            message,
        };
        let rest = key
            .strip_prefix(UPLOADS)
            .ok_or_else(|| refuse(format!("`{key}` is not under {UPLOADS}<tenant>/")))?;
        let (tenant, name) = rest.split_once('/').ok_or_else(|| {
            refuse(format!(
                "`{key}` has no tenant folder: upload to {UPLOADS}<tenant>/<file>"
            ))
        })?;
        check_identifier("tenant", tenant)?;
        let lower = name.to_ascii_lowercase();
        if name.is_empty() || !ACCEPTED_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
            return Err(refuse(format!(
                "`{key}` is not a contact file; upload a .csv, .tsv, .txt or .vcf file"
            )));
        }
        Ok(tenant)
    }

    pub fn spec_sidecar(upload_key: &str) -> String {
        format!("{upload_key}.spec.json")
    }

    pub fn staging(tenant: &str, import_id: &str) -> String {
        format!("{WORK}{tenant}/{import_id}/utf8.csv")
    }

    pub fn report_part(tenant: &str, import_id: &str, chunk: u32) -> String {
        format!("{WORK}{tenant}/{import_id}/parts/{chunk:06}.csv")
    }

    pub fn report(tenant: &str, import_id: &str) -> String {
        format!("{REPORTS}{tenant}/{import_id}/errors.csv")
    }

    pub fn summary(tenant: &str, import_id: &str) -> String {
        format!("{REPORTS}{tenant}/{import_id}/summary.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_id_is_stable_per_upload_and_distinct_across_versions() {
        let a = import_id_for("bucket", "uploads/acme/list.csv", "v1");
        assert_eq!(a, import_id_for("bucket", "uploads/acme/list.csv", "v1"));
        assert_ne!(a, import_id_for("bucket", "uploads/acme/list.csv", "v2"));
        assert_ne!(a, import_id_for("bucket", "uploads/acme/list.csv2", "v1"));
        assert!(a.starts_with("imp-") && a.len() == 24, "{a}");
    }

    #[test]
    fn long_names_are_shortened_keeping_their_extension() {
        assert_eq!(keys::upload_name("list.csv"), "list.csv");
        let exact = format!("{}.csv", "a".repeat(keys::MAX_NAME_BYTES - 4));
        assert_eq!(keys::upload_name(&exact), exact);
        let long = format!("{}.csv", "a".repeat(250));
        let short = keys::upload_name(&long);
        assert!(short.len() <= keys::MAX_NAME_BYTES, "{short}");
        assert!(
            short.starts_with("aaaa") && short.ends_with(".csv"),
            "{short}"
        );
        assert_eq!(short, keys::upload_name(&long), "the same name every time");
        let other = format!("{}b.csv", "a".repeat(250));
        assert_ne!(short, keys::upload_name(&other), "names that start alike");
        // Three-byte characters: cut between two, never inside one.
        let wide = format!("{}.TXT", "日".repeat(83));
        let short = keys::upload_name(&wide);
        assert!(short.len() <= keys::MAX_NAME_BYTES && short.ends_with(".TXT"));
        assert!(short.starts_with("日日日"));
    }

    #[test]
    fn upload_keys_name_their_tenant() {
        assert_eq!(
            keys::upload_tenant("uploads/acme/2026/list.CSV"),
            Ok("acme")
        );
        assert_eq!(keys::upload_tenant("uploads/acme/list.tsv"), Ok("acme"));
        for bad in [
            "other/acme/list.csv",
            "uploads/list.csv",
            "uploads/ac#me/list.csv",
            "uploads/acme/list.xlsx",
            "uploads/acme/list.csv.spec.json",
        ] {
            assert!(keys::upload_tenant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn updates_change_only_what_they_carry() {
        let mut record = ImportRecord::accepted(
            "acme",
            "imp-1",
            "uploads/acme/a.csv",
            10,
            ImportSpec::default(),
            "2026-01-01T00:00:00Z",
        );
        let mut update = ImportUpdate::to(ImportStatus::Importing, "2026-01-01T00:00:05Z");
        update.rows = Some(42);
        update.chunks_total = Some(3);
        update.chunk_rows = Some(15);
        record.apply(&update);
        assert_eq!(
            (
                record.status,
                record.rows,
                record.chunks_total,
                record.chunk_rows
            ),
            (ImportStatus::Importing, 42, 3, 15)
        );
        assert_eq!(record.finished_at, None);
        record.apply(&ImportUpdate::to(
            ImportStatus::Completed,
            "2026-01-01T00:01:00Z",
        ));
        assert_eq!(
            (record.rows, record.finished_at.as_deref()),
            (42, Some("2026-01-01T00:01:00Z"))
        );
    }
}
