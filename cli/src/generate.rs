//! `contact-import generate`: a synthetic contact file of any size, to try
//! the importer at scale.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use contact_import_core::synthetic::{write_synthetic_file, SyntheticOptions};
use serde_json::json;

use crate::failure::{describe_io, BadInput, Failure};

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Where to write the file; it must not exist yet.
    pub file: PathBuf,
    /// Data rows to write.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub rows: u64,
    /// Every row imports; by default about 4% break a rule, as in a real export.
    #[arg(long)]
    pub clean: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &GenerateArgs, out: &mut impl Write) -> Result<(), Failure> {
    let file = File::create_new(&args.file).map_err(|e| {
        let advice = match e.kind() {
            io::ErrorKind::AlreadyExists => {
                "it already exists; choose another path or delete it".to_owned()
            }
            _ => format!("it cannot be created: {}", describe_io(&e)),
        };
        BadInput::other(args.file.display(), "unwritable_output", advice)
    })?;
    let options = if args.clean {
        SyntheticOptions::clean(args.rows)
    } else {
        SyntheticOptions::realistic(args.rows)
    };
    write_synthetic_file(&file, options)?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    if args.json {
        let object = json!({
            "file": args.file.display().to_string(),
            "rows": args.rows,
            "bytes": bytes,
        });
        writeln!(out, "{object}")?;
    } else {
        writeln!(
            out,
            "Wrote {} data rows ({bytes} bytes) to {}",
            args.rows,
            args.file.display()
        )?;
    }
    Ok(())
}
