//! `contact-import generate`: a synthetic contact file of any size, to try
//! the importer at scale.

use std::io::Write;
use std::path::PathBuf;

use contact_import_core::file::synthetic::{
    write_synthetic_file, SyntheticLayout, SyntheticOptions,
};
use serde_json::json;

use crate::failure::Failure;
use crate::files::Output;

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
    /// The columns: one phone column, or Google Contacts' export with two
    /// labelled phone columns and cells of several numbers.
    #[arg(long, value_enum, default_value_t = Layout::Plain)]
    pub layout: Layout,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Layout {
    Plain,
    GoogleContacts,
}

pub fn run(args: &GenerateArgs, out: &mut impl Write) -> Result<(), Failure> {
    let mut file = Output::create_new(&args.file, "the file")?;
    let options = if args.clean {
        SyntheticOptions::clean(args.rows)
    } else {
        SyntheticOptions::realistic(args.rows)
    }
    .in_layout(match args.layout {
        Layout::Plain => SyntheticLayout::Plain,
        Layout::GoogleContacts => SyntheticLayout::GoogleContacts,
    });
    write_synthetic_file(&mut file, options)?;
    let bytes = file.finish()?;
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
