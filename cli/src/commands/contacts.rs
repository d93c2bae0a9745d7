//! `contact-import contacts list|export`: the tenant's stored contacts,
//! read page by page, never all at once.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use contact_import_core::ports::{ContactFilter, ContactStore, StoredContact};
use contact_import_core::rules::echo::echo;
use contact_import_core::rules::report::neutralise;
use contact_import_core::rules::spec::check_identifier;
use serde_json::Value;

use crate::backends::{find_import, Backend, BackendArgs};
use crate::failure::{BadInput, Failure};
use crate::files::Output;
use crate::output::layout::{fit, plural};

/// Contacts read from the store at a time.
const PAGE: usize = 1_000;

#[derive(Debug, clap::Subcommand)]
pub enum ContactsCommand {
    /// Show the contacts as a table: phone, name, email, scope, import, row.
    List(ContactsArgs),
    /// Write the contacts as CSV (one column per field, custom fields as
    /// custom:<key> columns), or JSON Lines with --json.
    Export(ContactsArgs),
}

impl ContactsCommand {
    pub fn args(&self) -> &ContactsArgs {
        match self {
            ContactsCommand::List(args) | ContactsCommand::Export(args) => args,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ContactsArgs {
    /// Only the contacts of one destination: campaign:ID, agent:ID,
    /// list:NAME or contacts.
    #[arg(long, value_name = "DESTINATION")]
    pub destination: Option<String>,
    /// Only the contacts last written by this import.
    #[arg(long = "import", value_name = "IMPORT_ID")]
    pub import_id: Option<String>,
    /// JSON Lines: one stored contact per line, with its scope, import and row.
    #[arg(long)]
    pub json: bool,
    /// Write to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// The scope a `--destination` names, as the store keeps it.
pub fn scope_of(destination: &str) -> Result<String, BadInput> {
    let refuse = |message: &str| {
        BadInput::other(
            format!("--destination {}", echo(destination)),
            "bad_destination",
            message,
        )
    };
    match destination.split_once(':') {
        None if destination == "contacts" => Ok(destination.to_owned()),
        Some(("campaign" | "agent", id)) => {
            check_identifier("id", id).map_err(|e| refuse(&e.message))?;
            Ok(destination.to_owned())
        }
        Some(("list", name)) if !name.trim().is_empty() => Ok(destination.to_owned()),
        _ => Err(refuse(
            "a destination is campaign:ID, agent:ID, list:NAME or contacts",
        )),
    }
}

pub async fn run<B: Backend>(
    backend: &B,
    command: &ContactsCommand,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let args = command.args();
    let scope = args.destination.as_deref().map(scope_of).transpose()?;
    if let Some(import_id) = &args.import_id {
        find_import(backend, import_id).await?;
    }
    let filter = ContactFilter {
        scope,
        import_id: args.import_id.clone(),
    };
    let pages = Pages {
        backend,
        filter: &filter,
    };
    match &args.output {
        None => write(command, &pages, out).await,
        Some(path) => {
            let mut file = Output::create(path, "the contacts")?;
            write(command, &pages, &mut file).await?;
            file.finish()?;
            Ok(())
        }
    }
}

async fn write<B: Backend>(
    command: &ContactsCommand,
    pages: &Pages<'_, B>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    match command {
        _ if command.args().json => json_lines(pages, out).await,
        ContactsCommand::List(_) => table(pages, out).await,
        ContactsCommand::Export(_) => csv(pages, out).await,
    }
}

/// The tenant's contacts under a filter, one page at a time.
struct Pages<'a, B> {
    backend: &'a B,
    filter: &'a ContactFilter,
}

impl<B: Backend> Pages<'_, B> {
    /// Calls `each` with every contact, in the store's order; returns how many.
    async fn each(
        &self,
        mut each: impl FnMut(&StoredContact) -> Result<(), Failure>,
    ) -> Result<u64, Failure> {
        let mut after: Option<String> = None;
        let mut count = 0;
        loop {
            let page = self
                .backend
                .store()
                .list_contacts(self.backend.tenant(), self.filter, after.as_deref(), PAGE)
                .await?;
            for contact in &page.contacts {
                each(contact)?;
                count += 1;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(count),
            }
        }
    }
}

async fn json_lines<B: Backend>(pages: &Pages<'_, B>, out: &mut impl Write) -> Result<(), Failure> {
    pages
        .each(|contact| {
            serde_json::to_writer(&mut *out, contact)?;
            writeln!(out)?;
            Ok(())
        })
        .await?;
    Ok(())
}

const PHONE_WIDTH: usize = 16;
const NAME_WIDTH: usize = 22;
const EMAIL_WIDTH: usize = 28;
const SCOPE_WIDTH: usize = 18;
const IMPORT_WIDTH: usize = 24;

async fn table<B: Backend>(pages: &Pages<'_, B>, out: &mut impl Write) -> Result<(), Failure> {
    writeln!(
        out,
        "{} {} {} {} {} {:>7}",
        fit("phone", PHONE_WIDTH),
        fit("name", NAME_WIDTH),
        fit("email", EMAIL_WIDTH),
        fit("scope", SCOPE_WIDTH),
        fit("import", IMPORT_WIDTH),
        "row"
    )?;
    let count = pages
        .each(|stored| {
            let contact = &stored.contact;
            let name = contact.full_name();
            writeln!(
                out,
                "{} {} {} {} {} {:>7}",
                fit(&contact.phone, PHONE_WIDTH),
                fit(&name, NAME_WIDTH),
                fit(contact.email.as_deref().unwrap_or(""), EMAIL_WIDTH),
                fit(&stored.scope, SCOPE_WIDTH),
                fit(&stored.import_id, IMPORT_WIDTH),
                stored.row
            )?;
            Ok(())
        })
        .await?;
    writeln!(out, "{}", plural(count, "contact", "contacts"))?;
    Ok(())
}

/// The fixed columns of the CSV export, before the custom fields.
const COLUMNS: [&str; 22] = [
    "contact_id",
    "scope",
    "import_id",
    "row",
    "phone",
    "phone_raw",
    "extension",
    "first_name",
    "last_name",
    "email",
    "company",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "timezone",
    "priority",
    "scheduled_at",
    "tags",
    "secondary",
    "data",
];

/// CSV with a column per custom field: a first pass collects the custom
/// keys (a small set), a second writes the rows. Cells a spreadsheet would
/// read as formulas are neutralised as in the error report, but for the
/// phone columns, which are numbers that start with `+`.
async fn csv<B: Backend>(pages: &Pages<'_, B>, out: &mut impl Write) -> Result<(), Failure> {
    let mut custom = BTreeSet::new();
    pages
        .each(|stored| {
            custom.extend(stored.contact.custom.keys().cloned());
            Ok(())
        })
        .await?;
    let header = COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(custom.iter().map(|key| format!("custom:{key}")));
    csv_line(out, header)?;
    pages
        .each(|stored| {
            if let Some(key) = stored.contact.custom.keys().find(|k| !custom.contains(*k)) {
                return Err(Failure::Internal(anyhow::anyhow!(
                    "custom field `{key}` appeared while exporting: an import is running; \
                     export again when it has finished"
                )));
            }
            csv_line(out, csv_cells(stored, &custom))?;
            Ok(())
        })
        .await?;
    Ok(())
}

fn csv_cells(stored: &StoredContact, custom: &BTreeSet<String>) -> Vec<String> {
    let contact = &stored.contact;
    let text = |value: &Option<String>| neutralise(value.as_deref().unwrap_or("")).into_owned();
    let json = |value: Option<Value>| value.map(|v| v.to_string()).unwrap_or_default();
    let mut cells = vec![
        stored.contact_id.clone(),
        stored.scope.clone(),
        stored.import_id.clone(),
        stored.row.to_string(),
        contact.phone.clone(),
        contact.phone_raw.clone(),
        contact.extension.clone().unwrap_or_default(),
        text(&contact.first_name),
        text(&contact.last_name),
        text(&contact.email),
        text(&contact.company),
        text(&contact.address),
        text(&contact.city),
        text(&contact.state),
        text(&contact.zip),
        text(&contact.country),
        text(&contact.timezone),
        contact.priority.map(|p| p.to_string()).unwrap_or_default(),
        text(&contact.scheduled_at),
        neutralise(&contact.tags.join(";")).into_owned(),
        json((!contact.secondary.is_empty()).then(|| serde_json::json!(contact.secondary))),
        json(contact.data.clone().map(Value::Object)),
    ];
    cells.extend(custom.iter().map(|key| match contact.custom.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => neutralise(s).into_owned(),
        Some(other) => other.to_string(),
    }));
    cells
}

/// One CSV record: cells with a comma, quote or line break are quoted.
fn csv_line<S: AsRef<str>>(
    out: &mut impl Write,
    cells: impl IntoIterator<Item = S>,
) -> std::io::Result<()> {
    let mut first = true;
    for cell in cells {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        let cell = cell.as_ref();
        if cell.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", cell.replace('"', "\"\""))?;
        } else {
            out.write_all(cell.as_bytes())?;
        }
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_scopes() {
        assert_eq!(scope_of("contacts").unwrap(), "contacts");
        assert_eq!(scope_of("campaign:c-1").unwrap(), "campaign:c-1");
        assert_eq!(scope_of("agent:a1").unwrap(), "agent:a1");
        assert_eq!(
            scope_of("list:Spring outreach").unwrap(),
            "list:Spring outreach"
        );
        for bad in ["campaign:", "campaign:a b", "list: ", "team:x", "Contacts"] {
            assert!(scope_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut out = Vec::new();
        csv_line(&mut out, ["a", "b,c", "say \"hi\"", "x\ny", ""]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\",\n"
        );
    }

    #[test]
    fn cells_follow_the_columns_and_neutralise_text() {
        let stored = StoredContact {
            contact_id: "imp-1-2".into(),
            scope: "contacts".into(),
            import_id: "imp-1".into(),
            row: 2,
            contact: contact_import_core::Contact {
                phone: "+14155552671".into(),
                phone_raw: "+1 415 555 2671".into(),
                first_name: Some("=HYPERLINK(\"x\")".into()),
                tags: vec!["a".into(), "b".into()],
                custom: [("score".to_owned(), serde_json::json!(7))].into(),
                ..Default::default()
            },
        };
        let custom = BTreeSet::from(["plan".to_owned(), "score".to_owned()]);
        let cells = csv_cells(&stored, &custom);
        assert_eq!(cells.len(), COLUMNS.len() + 2);
        assert_eq!(cells[4], "+14155552671");
        assert_eq!(cells[7], "'=HYPERLINK(\"x\")");
        assert_eq!(cells[19], "a;b");
        assert_eq!(&cells[COLUMNS.len()..], ["", "7"]);
    }
}
