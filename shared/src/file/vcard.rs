//! Converting a vCard file (.vcf, versions 2.1, 3.0 and 4.0) into the CSV
//! the importer reads, as a stream: a header row, then one row per card.
//!
//! The columns carry Google Contacts' CSV names ([`HEADERS`]), so the
//! importer's header recognition maps them as it maps a Google export.
//!
//! Memory stays bounded whatever the input: a physical line is read up to
//! [`MAX_CARD_BYTES`] (the rest of it is dropped), a card's text up to
//! [`MAX_CARD_BYTES`], and binary properties (PHOTO, LOGO, SOUND, KEY, or
//! any base64 value) are dropped line by line as they are read.
//!
//! Bad input still yields a row for every card, so that nothing disappears
//! without a report line:
//! - a card longer than [`MAX_CARD_BYTES`] keeps what was read before the
//!   limit, its `vCard` text ends with `… (card cut at 256 KiB)`, and the
//!   rest of it is skipped up to its `END:VCARD`;
//! - a card without `END:VCARD` ends before the next `BEGIN:VCARD` or at the
//!   end of the file, and its `Card` cell says `no END:VCARD`;
//! - non-blank lines outside any card, from the first to the last between
//!   two cards, become one row whose `Card` cell says
//!   `lines 5-7, outside any card` and whose `vCard` cell holds them;
//! - a `BEGIN:VCARD` inside a card starts the next card, except right after
//!   an empty `AGENT` property (2.1 nests the agent's card there): then the
//!   nested card's lines stay in the outer card's text and are not read as
//!   the outer card's properties.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};

use encoding_rs::{Encoding, WINDOWS_1252};

/// The most text of one card that is kept, decoded, binary properties not
/// counted; also the longest physical line that is read.
pub(crate) const MAX_CARD_BYTES: usize = 256 * 1024;

const PHONE_SLOTS: usize = 10;
const EMAIL_SLOTS: usize = 3;
/// Google's separator of several values in one cell; the importer splits it.
const MULTI_VALUE_SEPARATOR: &str = " ::: ";

/// The CSV's columns, in Google Contacts' CSV naming.
pub const HEADERS: [&str; 46] = [
    "Card",
    "Name",
    "Given Name",
    "Family Name",
    "Additional Name",
    "Name Prefix",
    "Name Suffix",
    "Nickname",
    "Phone 1 - Label",
    "Phone 1 - Value",
    "Phone 2 - Label",
    "Phone 2 - Value",
    "Phone 3 - Label",
    "Phone 3 - Value",
    "Phone 4 - Label",
    "Phone 4 - Value",
    "Phone 5 - Label",
    "Phone 5 - Value",
    "Phone 6 - Label",
    "Phone 6 - Value",
    "Phone 7 - Label",
    "Phone 7 - Value",
    "Phone 8 - Label",
    "Phone 8 - Value",
    "Phone 9 - Label",
    "Phone 9 - Value",
    "Phone 10 - Label",
    "Phone 10 - Value",
    "E-mail 1 - Label",
    "E-mail 1 - Value",
    "E-mail 2 - Label",
    "E-mail 2 - Value",
    "E-mail 3 - Label",
    "E-mail 3 - Value",
    "Organization Name",
    "Organization Title",
    "Address 1 - Label",
    "Address 1 - Street",
    "Address 1 - City",
    "Address 1 - Region",
    "Address 1 - Postal Code",
    "Address 1 - Country",
    "Birthday",
    "Notes",
    "Labels",
    "vCard",
];

/// True when the first non-blank line (after a UTF-8 byte-order mark) is
/// `BEGIN:VCARD`, in any case.
pub(crate) fn looks_like_vcard(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    let rest = &head[start..];
    let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
    is_line(&rest[..end], b"BEGIN:VCARD")
}

/// The CSV form of a vCard file, read as it is pulled from `source`.
pub struct VcardToCsv<R: Read> {
    properties: Unfolder<R>,
    line: Unfolded,
    place: Place,
    /// CSV bytes of the last row written, for `read` to hand out.
    output: Vec<u8>,
    /// How much of `output` `read` has handed out.
    handed_out: usize,
    header_written: bool,
    finished: bool,
    cards: u64,
}

enum Place {
    Outside(Option<Outside>),
    InCard(Box<Card>),
}

impl<R: Read> VcardToCsv<R> {
    pub fn new(source: R) -> Self {
        VcardToCsv {
            properties: Unfolder::new(source),
            line: Unfolded::default(),
            place: Place::Outside(None),
            output: Vec::new(),
            handed_out: 0,
            header_written: false,
            finished: false,
            cards: 0,
        }
    }

    /// Cards read so far.
    #[cfg(test)]
    pub(crate) fn cards(&self) -> u64 {
        self.cards
    }

    /// Writes the next row (the header first) into the output, or marks the
    /// end of the file.
    fn write_next_row(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            return self.write_row(&HEADERS);
        }
        loop {
            if !self.properties.next_into(&mut self.line)? {
                self.finished = true;
                return match std::mem::replace(&mut self.place, Place::Outside(None)) {
                    Place::InCard(card) => {
                        self.cards += 1;
                        self.write_row(&card.cells())
                    }
                    Place::Outside(Some(outside)) => self.write_row(&outside.cells()),
                    Place::Outside(None) => Ok(()),
                };
            }
            let line = &self.line;
            let begins = is_line(&line.text, b"BEGIN:VCARD");
            let ends = is_line(&line.text, b"END:VCARD");
            let finished_row = match std::mem::replace(&mut self.place, Place::Outside(None)) {
                Place::Outside(before) if begins => {
                    let card = Card::new(self.cards + 1, line.first_line);
                    self.place = Place::InCard(Box::new(card));
                    before.map(|outside| outside.cells())
                }
                Place::Outside(mut outside) => {
                    if !is_blank(&line.text) {
                        outside
                            .get_or_insert_with(|| Outside::new(line.first_line))
                            .add(line);
                    }
                    self.place = Place::Outside(outside);
                    None
                }
                Place::InCard(mut card)
                    if card.nested_cards > 0 || (begins && card.agent_follows) =>
                {
                    card.add_nested(line, begins, ends);
                    self.place = Place::InCard(card);
                    None
                }
                Place::InCard(mut card) if ends => {
                    card.end(line.last_line);
                    self.cards += 1;
                    Some(card.cells())
                }
                Place::InCard(card) if begins => {
                    self.cards += 1;
                    let next = Card::new(self.cards + 1, line.first_line);
                    self.place = Place::InCard(Box::new(next));
                    Some(card.cells())
                }
                Place::InCard(mut card) => {
                    card.add(line);
                    self.place = Place::InCard(card);
                    None
                }
            };
            if let Some(cells) = finished_row {
                return self.write_row(&cells);
            }
        }
    }

    fn write_row<S: AsRef<[u8]>>(&mut self, cells: &[S]) -> io::Result<()> {
        // csv's Writer has no way to drain what it wrote, so each row gets its own.
        let mut writer = csv::Writer::from_writer(&mut self.output);
        writer.write_record(cells).map_err(io::Error::other)?;
        writer.flush()
    }
}

impl<R: Read> Read for VcardToCsv<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.handed_out == self.output.len() && !self.finished {
            self.output.clear();
            self.handed_out = 0;
            self.write_next_row()?;
        }
        let pending = &self.output[self.handed_out..];
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.handed_out += n;
        Ok(n)
    }
}

/// Physical lines of the source, ended by CR LF, LF or CR, each kept up to
/// one byte past [`MAX_CARD_BYTES`] (so that a longer one shows it is long).
struct Lines<R> {
    source: BufReader<R>,
    /// The last line ended with CR: an LF right after it belongs to it.
    after_cr: bool,
    /// The 1-based number of the last line read.
    number: u64,
}

const MAX_LINE_BYTES: usize = MAX_CARD_BYTES + 1;

impl<R: Read> Lines<R> {
    /// Reads the next line, without its ending, into `line`; false at the
    /// end of the source.
    fn next_into(&mut self, line: &mut Vec<u8>) -> io::Result<bool> {
        line.clear();
        let mut read_any = false;
        loop {
            let available = match self.source.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if read_any {
                    self.number += 1;
                }
                break;
            }
            if std::mem::take(&mut self.after_cr) && available[0] == b'\n' {
                self.source.consume(1);
                continue;
            }
            read_any = true;
            let end = memchr::memchr2(b'\n', b'\r', available);
            let content = &available[..end.unwrap_or(available.len())];
            let room = MAX_LINE_BYTES.saturating_sub(line.len());
            line.extend_from_slice(&content[..content.len().min(room)]);
            let Some(end) = end else {
                let consumed = available.len();
                self.source.consume(consumed);
                continue;
            };
            self.after_cr = available[end] == b'\r';
            self.source.consume(end + 1);
            self.number += 1;
            break;
        }
        if self.number == 1 && line.starts_with(b"\xEF\xBB\xBF") {
            line.drain(..3);
        }
        Ok(read_any)
    }
}

/// One logical line: a physical line with its continuation lines joined.
#[derive(Default)]
struct Unfolded {
    /// The unfolded bytes, at most [`MAX_LINE_BYTES`]; for a binary
    /// property only its name and parameters.
    text: Vec<u8>,
    /// Where the property's name and parameters end (at the colon), when
    /// the line is a property.
    head: Option<(usize, Head)>,
    first_line: u64,
    last_line: u64,
}

impl Unfolded {
    fn binary(&self) -> Option<&'static str> {
        self.head.as_ref().and_then(|(_, head)| head.binary())
    }

    fn quoted_printable(&self) -> bool {
        self.head
            .as_ref()
            .is_some_and(|(_, head)| head.encoding == ValueEncoding::QuotedPrintable)
    }

    /// Finds the property's head if not yet found; drops a binary value.
    fn find_head(&mut self) {
        if self.head.is_some() {
            return;
        }
        if let Some(colon) = head_end(&self.text) {
            let head = Head::parse(&self.text[..colon]);
            if head.binary().is_some() {
                self.text.truncate(colon);
            }
            self.head = Some((colon, head));
        }
    }

    fn append(&mut self, more: &[u8]) {
        let room = MAX_LINE_BYTES.saturating_sub(self.text.len());
        self.text.extend_from_slice(&more[..more.len().min(room)]);
    }

    /// The line as the `vCard` column shows it: values decoded to UTF-8,
    /// binary values replaced by a note.
    fn display(&self) -> String {
        let Some((colon, head)) = &self.head else {
            return decode_text(&self.text, None);
        };
        let shown_head = decode_text(&self.text[..*colon], None);
        match head.binary() {
            Some(what) => {
                let name = shown_head.split(';').next().unwrap_or_default();
                format!("{name}:({what} left out)")
            }
            None => format!(
                "{shown_head}:{}",
                head.decode_value(&self.text[colon + 1..])
            ),
        }
    }
}

/// Joins folded lines (a line that starts with a space or tab continues the
/// one before; so does any line after a quoted-printable value ending in
/// `=`) and drops binary values as they are read.
struct Unfolder<R> {
    lines: Lines<R>,
    /// The physical line read ahead, to see whether it continues the last.
    ahead: Vec<u8>,
    has_ahead: bool,
    started: bool,
}

impl<R: Read> Unfolder<R> {
    fn new(source: R) -> Self {
        Unfolder {
            lines: Lines {
                source: BufReader::new(source),
                after_cr: false,
                number: 0,
            },
            ahead: Vec::new(),
            has_ahead: false,
            started: false,
        }
    }

    /// Reads the next logical line into `line`; false at the end of the source.
    fn next_into(&mut self, line: &mut Unfolded) -> io::Result<bool> {
        if !self.started {
            self.started = true;
            self.has_ahead = self.lines.next_into(&mut self.ahead)?;
        }
        if !self.has_ahead {
            return Ok(false);
        }
        std::mem::swap(&mut line.text, &mut self.ahead);
        line.head = None;
        line.first_line = self.lines.number;
        line.last_line = self.lines.number;
        line.find_head();
        loop {
            self.has_ahead = self.lines.next_into(&mut self.ahead)?;
            if !self.has_ahead {
                break;
            }
            let folded = matches!(self.ahead.first(), Some(b' ' | b'\t'));
            let binary = line.binary().is_some();
            let soft_break = !folded
                && !binary
                && line.quoted_printable()
                && line.text.ends_with(b"=")
                && !is_line(&self.ahead, b"END:VCARD")
                && !is_line(&self.ahead, b"BEGIN:VCARD");
            // 2.1 writers may start base64 lines at the margin.
            let base64_run = binary && is_base64_line(&self.ahead);
            if !(folded || soft_break || base64_run) {
                break;
            }
            line.last_line = self.lines.number;
            if binary {
                continue;
            }
            if soft_break {
                line.text.pop();
                line.append(&self.ahead);
            } else {
                line.append(&self.ahead[1..]);
            }
            line.find_head();
        }
        Ok(true)
    }
}

fn is_base64_line(line: &[u8]) -> bool {
    !line.is_empty()
        && line
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

fn is_blank(line: &[u8]) -> bool {
    line.trim_ascii().is_empty()
}

/// `line`, trimmed, is `expected` in any case.
fn is_line(line: &[u8], expected: &[u8]) -> bool {
    line.trim_ascii().eq_ignore_ascii_case(expected)
}

/// Where a property's name and parameters end: the first colon outside
/// double quotes, or, when quotes never close, the first colon.
fn head_end(line: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b':' if !quoted => return Some(i),
            _ => {}
        }
    }
    memchr::memchr(b':', line)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ValueEncoding {
    #[default]
    Plain,
    QuotedPrintable,
    Base64,
}

/// A property's group, name and the parameters the conversion uses.
#[derive(Debug, Default)]
struct Head {
    /// Lower case, e.g. `item1` of Apple's `item1.TEL`.
    group: Option<String>,
    /// Upper case.
    name: String,
    /// Lower case, from `TYPE=` lists and bare 2.1 parameters, `pref` excepted.
    types: Vec<String>,
    /// 1 is the most preferred; `TYPE=pref` and bare `PREF` count as 1.
    pref: Option<u32>,
    encoding: ValueEncoding,
    charset: Option<String>,
}

impl Head {
    fn parse(head: &[u8]) -> Head {
        let head = decode_text(head, None);
        let mut parts = split_outside_quotes(&head, ';').into_iter();
        let full_name = parts.next().unwrap_or_default().trim();
        let (group, name) = match full_name.split_once('.') {
            Some((group, name)) => (Some(group.to_ascii_lowercase()), name),
            None => (None, full_name),
        };
        let mut parsed = Head {
            group,
            name: name.to_ascii_uppercase(),
            ..Head::default()
        };
        for param in parts {
            match param.split_once('=') {
                Some((key, value)) => parsed.add_param(key.trim(), value),
                None => parsed.add_bare_param(param),
            }
        }
        parsed
    }

    fn add_param(&mut self, key: &str, value: &str) {
        let value = value.trim().trim_matches('"');
        if key.eq_ignore_ascii_case("TYPE") {
            for kind in list_param(value) {
                self.add_type(kind);
            }
        } else if key.eq_ignore_ascii_case("PREF") {
            self.pref = Some(value.parse().unwrap_or(1));
        } else if key.eq_ignore_ascii_case("ENCODING") {
            self.set_encoding(&value.to_ascii_lowercase());
        } else if key.eq_ignore_ascii_case("CHARSET") {
            self.charset = Some(value.to_owned());
        }
    }

    /// 2.1 parameters without a name: `TEL;CELL;PREF:`, `NOTE;QUOTED-PRINTABLE:`.
    fn add_bare_param(&mut self, param: &str) {
        for value in list_param(param) {
            if !self.set_encoding(&value) {
                self.add_type(value);
            }
        }
    }

    /// Takes a lower-case value that names an encoding; false when it names none.
    fn set_encoding(&mut self, value: &str) -> bool {
        match value {
            "quoted-printable" => self.encoding = ValueEncoding::QuotedPrintable,
            "base64" | "b" => self.encoding = ValueEncoding::Base64,
            "8bit" | "7bit" => {}
            _ => return false,
        }
        true
    }

    fn add_type(&mut self, kind: String) {
        if kind == "pref" {
            self.pref = self.pref.or(Some(1));
        } else {
            self.types.push(kind);
        }
    }

    fn has_type(&self, kinds: &[&str]) -> bool {
        self.types.iter().any(|t| kinds.contains(&t.as_str()))
    }

    /// What a binary property holds, for the note that replaces it.
    fn binary(&self) -> Option<&'static str> {
        match self.name.as_str() {
            "PHOTO" | "LOGO" => Some("image"),
            "SOUND" => Some("sound"),
            "KEY" => Some("key"),
            _ if self.encoding == ValueEncoding::Base64 => Some("data"),
            _ => None,
        }
    }

    /// The value as text: quoted-printable decoded, then its charset.
    fn decode_value(&self, raw: &[u8]) -> String {
        let charset = self.charset.as_deref();
        match self.encoding {
            ValueEncoding::QuotedPrintable => decode_text(&decode_quoted_printable(raw), charset),
            _ => decode_text(raw, charset),
        }
    }
}

/// `cell,voice` or `"cell","voice"`, lower case, without empty items.
fn list_param(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|item| item.trim().trim_matches('"').trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Bytes as text: in `charset` when it names one encoding_rs knows, else
/// as UTF-8 when they are, else as Windows-1252, which maps every byte.
fn decode_text(bytes: &[u8], charset: Option<&str>) -> String {
    if let Some(encoding) = charset.and_then(|label| Encoding::for_label(label.as_bytes())) {
        return encoding.decode_without_bom_handling(bytes).0.into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// `=XX` to the byte XX; an `=` not followed by two hex digits stays. Soft
/// line breaks are gone by now: unfolding joined them.
fn decode_quoted_printable(raw: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            if let (Some(high), Some(low)) = (hex(raw.get(i + 1)), hex(raw.get(i + 2))) {
                decoded.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        decoded.push(raw[i]);
        i += 1;
    }
    decoded
}

/// Splits `value` at each `separator` that no backslash escapes; the parts
/// keep their escapes for [`unescape`].
fn split_unescaped(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(&value[start..i]);
            start = i + 1;
        }
    }
    parts.push(&value[start..]);
    parts
}

/// `\n` `\N` `\,` `\;` `\:` `\\` as what they stand for; any other backslash stays.
fn unescape(value: &str) -> String {
    let mut text = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => text.push('\n'),
            Some(c @ (',' | ';' | ':' | '\\')) => text.push(c),
            Some(other) => {
                text.push('\\');
                text.push(other);
            }
            None => text.push('\\'),
        }
    }
    text
}

/// A list value's items (`,`-separated), unescaped and trimmed, empty ones left out.
fn list_items(value: &str) -> impl Iterator<Item = String> + '_ {
    split_unescaped(value, ',')
        .into_iter()
        .map(|item| unescape(item).trim().to_owned())
        .filter(|item| !item.is_empty())
}

/// The text of a single-valued property, unescaped and trimmed.
fn text_value(value: &str) -> String {
    unescape(value).trim().to_owned()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A TEL's number; a 4.0 `tel:` URI loses its scheme and keeps an extension
/// as ` ext. N`.
fn phone_number(value: &str) -> String {
    let text = text_value(value);
    let Some(uri) = strip_prefix_ignore_case(&text, "tel:") else {
        return text;
    };
    let mut parts = uri.split(';');
    let number = parts.next().unwrap_or_default().trim();
    let extension = parts.find_map(|p| strip_prefix_ignore_case(p.trim(), "ext="));
    match extension {
        Some(extension) if !extension.is_empty() => format!("{number} ext. {extension}"),
        _ => number.to_owned(),
    }
}

/// The label of a number to dial; None for fax and pager numbers.
fn phone_label(head: &Head) -> Option<&'static str> {
    if head.has_type(&["fax", "pager"]) {
        None
    } else if head.has_type(&["cell", "mobile", "iphone"]) {
        Some("Mobile")
    } else if head.has_type(&["main"]) {
        Some("Main")
    } else if head.has_type(&["work"]) {
        Some("Work")
    } else if head.has_type(&["home"]) {
        Some("Home")
    } else {
        Some("Other")
    }
}

/// The label of an e-mail address or a postal address.
fn place_label(head: &Head) -> &'static str {
    if head.has_type(&["work"]) {
        "Work"
    } else if head.has_type(&["home"]) {
        "Home"
    } else {
        "Other"
    }
}

/// Apple's label (`X-ABLabel`) without its `_$!<`…`>!$_` wrapper, and
/// whether it names a number not to dial.
fn apple_label(value: &str) -> (String, bool) {
    let label = text_value(value);
    match label
        .strip_prefix("_$!<")
        .and_then(|rest| rest.strip_suffix(">!$_"))
    {
        Some(standard) => {
            let lower = standard.to_ascii_lowercase();
            let not_dialable = lower.contains("fax") || lower == "pager";
            (standard.to_owned(), not_dialable)
        }
        None => (label, false),
    }
}

/// `--0415` as `--04-15` and `19900415` as `1990-04-15`; anything else as given.
fn birthday(value: &str) -> String {
    let text = text_value(value);
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match text.strip_prefix("--") {
        Some(month_day) if month_day.len() == 4 && digits(month_day) => {
            format!("--{}-{}", &month_day[..2], &month_day[2..])
        }
        None if text.len() == 8 && digits(&text) => {
            format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..])
        }
        _ => text,
    }
}

/// Lines kept for the `vCard` column, up to [`MAX_CARD_BYTES`].
#[derive(Default)]
struct Excerpt {
    text: String,
    cut: bool,
}

impl Excerpt {
    /// Adds a line; false when it did not fit (its start is kept and the
    /// excerpt is full).
    fn push_line(&mut self, line: &str) -> bool {
        if self.cut {
            return false;
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        let room = MAX_CARD_BYTES.saturating_sub(self.text.len());
        if line.len() <= room {
            self.text.push_str(line);
            return true;
        }
        let mut end = room;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&line[..end]);
        self.cut = true;
        false
    }

    fn shown(&self, what: &str) -> String {
        if self.cut {
            format!(
                "{}\n… ({what} cut at {} KiB)",
                self.text,
                MAX_CARD_BYTES / 1024
            )
        } else {
            self.text.clone()
        }
    }
}

/// A run of non-blank lines outside any card.
struct Outside {
    first_line: u64,
    last_line: u64,
    text: Excerpt,
}

impl Outside {
    fn new(first_line: u64) -> Self {
        Outside {
            first_line,
            last_line: first_line,
            text: Excerpt::default(),
        }
    }

    fn add(&mut self, line: &Unfolded) {
        self.last_line = line.last_line;
        if !self.text.cut {
            self.text.push_line(&line.display());
        }
    }

    fn cells(&self) -> Vec<String> {
        let mut cells = vec![String::new(); HEADERS.len()];
        cells[0] = format!(
            "{}, outside any card",
            line_span(self.first_line, self.last_line)
        );
        cells[HEADERS.len() - 1] = self.text.shown("text");
        cells
    }
}

fn line_span(first: u64, last: u64) -> String {
    if first == last {
        format!("line {first}")
    } else {
        format!("lines {first}-{last}")
    }
}

/// A phone number or e-mail address with what orders and labels it.
struct Entry {
    value: String,
    label: &'static str,
    group: Option<String>,
    pref: Option<u32>,
}

struct Address {
    label: &'static str,
    group: Option<String>,
    street: String,
    city: String,
    region: String,
    postal_code: String,
    country: String,
}

/// One card as read so far.
#[derive(Default)]
struct Card {
    number: u64,
    first_line: u64,
    last_line: u64,
    ended: bool,
    text: Excerpt,
    /// The previous property was an empty AGENT: a BEGIN:VCARD next is its card.
    agent_follows: bool,
    /// How deep inside an AGENT's cards the reading is.
    nested_cards: u32,
    name: String,
    given_name: String,
    family_name: String,
    additional_name: String,
    name_prefix: String,
    name_suffix: String,
    nicknames: Vec<String>,
    phones: Vec<Entry>,
    emails: Vec<Entry>,
    organization: String,
    title: String,
    address: Option<Address>,
    birthday: String,
    notes: Vec<String>,
    categories: Vec<String>,
    /// Apple's `itemN.X-ABLabel` by group: the label and whether it names
    /// a number not to dial.
    group_labels: HashMap<String, (String, bool)>,
}

impl Card {
    fn new(number: u64, first_line: u64) -> Self {
        let mut card = Card {
            number,
            first_line,
            last_line: first_line,
            ..Card::default()
        };
        card.text.push_line("BEGIN:VCARD");
        card
    }

    fn end(&mut self, last_line: u64) {
        self.last_line = last_line;
        self.text.push_line("END:VCARD");
        self.ended = true;
    }

    fn add(&mut self, line: &Unfolded) {
        if is_blank(&line.text) {
            return;
        }
        self.last_line = line.last_line;
        if self.text.cut || !self.text.push_line(&line.display()) {
            return;
        }
        self.agent_follows = false;
        let Some((colon, head)) = &line.head else {
            return;
        };
        if head.binary().is_none() {
            let value = head.decode_value(&line.text[colon + 1..]);
            self.take(head, &value);
        }
    }

    /// A line of an AGENT's card: kept as text, not read as properties.
    fn add_nested(&mut self, line: &Unfolded, begins: bool, ends: bool) {
        self.agent_follows = false;
        if begins {
            self.nested_cards += 1;
        } else if ends {
            self.nested_cards -= 1;
        }
        if !is_blank(&line.text) {
            self.last_line = line.last_line;
            if !self.text.cut {
                self.text.push_line(&line.display());
            }
        }
    }

    fn take(&mut self, head: &Head, value: &str) {
        let first = |field: &mut String, text: String| {
            if field.is_empty() {
                *field = text;
            }
        };
        match head.name.as_str() {
            "FN" => first(&mut self.name, text_value(value)),
            "N" if self.family_name.is_empty() && self.given_name.is_empty() => {
                let parts = split_unescaped(value, ';');
                let part = |i: usize, separator: &str| {
                    parts
                        .get(i)
                        .map(|p| list_items(p).collect::<Vec<_>>().join(separator))
                        .unwrap_or_default()
                };
                self.family_name = part(0, " ");
                self.given_name = part(1, " ");
                self.additional_name = part(2, " ");
                self.name_prefix = part(3, ", ");
                self.name_suffix = part(4, ", ");
            }
            "NICKNAME" => self.nicknames.extend(list_items(value)),
            "TEL" => {
                let number = phone_number(value);
                if let (Some(label), false) = (phone_label(head), number.is_empty()) {
                    self.phones.push(Entry {
                        value: number,
                        label,
                        group: head.group.clone(),
                        pref: head.pref,
                    });
                }
            }
            "EMAIL" => {
                let text = text_value(value);
                let address = strip_prefix_ignore_case(&text, "mailto:").unwrap_or(&text);
                if !address.is_empty() {
                    self.emails.push(Entry {
                        value: address.to_owned(),
                        label: place_label(head),
                        group: head.group.clone(),
                        pref: head.pref,
                    });
                }
            }
            "ORG" => {
                let company = split_unescaped(value, ';')[0];
                first(&mut self.organization, text_value(company));
            }
            "TITLE" => first(&mut self.title, text_value(value)),
            "ADR" if self.address.is_none() => {
                let parts: Vec<String> = split_unescaped(value, ';')
                    .into_iter()
                    .map(text_value)
                    .collect();
                let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
                let street = [part(2), part(1)]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                self.address = Some(Address {
                    label: place_label(head),
                    group: head.group.clone(),
                    street,
                    city: part(3),
                    region: part(4),
                    postal_code: part(5),
                    country: part(6),
                });
            }
            "BDAY" => first(&mut self.birthday, birthday(value)),
            "NOTE" => {
                let note = text_value(value);
                if !note.is_empty() {
                    self.notes.push(note);
                }
            }
            "CATEGORIES" => self.categories.extend(list_items(value)),
            "X-ABLABEL" => {
                if let Some(group) = &head.group {
                    self.group_labels.insert(group.clone(), apple_label(value));
                }
            }
            "AGENT" => self.agent_follows = value.trim().is_empty(),
            _ => {}
        }
    }

    /// The label Apple gave the entry's group, if any.
    fn group_label(&self, group: &Option<String>) -> Option<&(String, bool)> {
        group.as_ref().and_then(|g| self.group_labels.get(g))
    }

    /// Labels and values in order: preferred ones first (`PREF=1` before
    /// `PREF=2`), then the others as the card lists them.
    fn ordered(&self, entries: &[Entry]) -> Vec<(String, String)> {
        let mut kept: Vec<(Option<u32>, String, String)> = entries
            .iter()
            .filter_map(|entry| {
                let label = match self.group_label(&entry.group) {
                    Some((_, true)) => return None,
                    Some((label, false)) => label.clone(),
                    None => entry.label.to_owned(),
                };
                Some((entry.pref, label, entry.value.clone()))
            })
            .collect();
        kept.sort_by_key(|(pref, _, _)| pref.unwrap_or(u32::MAX));
        kept.into_iter()
            .map(|(_, label, value)| (label, value))
            .collect()
    }

    fn cells(&self) -> Vec<String> {
        let mut location = format!(
            "card {}, {}",
            self.number,
            line_span(self.first_line, self.last_line)
        );
        if !self.ended {
            location.push_str(", no END:VCARD");
        }
        let mut cells = vec![
            location,
            self.name.clone(),
            self.given_name.clone(),
            self.family_name.clone(),
            self.additional_name.clone(),
            self.name_prefix.clone(),
            self.name_suffix.clone(),
            self.nicknames.join(", "),
        ];
        push_slots(&mut cells, self.ordered(&self.phones), PHONE_SLOTS);
        push_slots(&mut cells, self.ordered(&self.emails), EMAIL_SLOTS);
        cells.push(self.organization.clone());
        cells.push(self.title.clone());
        match &self.address {
            Some(address) => {
                let label = match self.group_label(&address.group) {
                    Some((label, _)) => label.clone(),
                    None => address.label.to_owned(),
                };
                cells.extend([
                    label,
                    address.street.clone(),
                    address.city.clone(),
                    address.region.clone(),
                    address.postal_code.clone(),
                    address.country.clone(),
                ]);
            }
            None => cells.extend(std::iter::repeat_n(String::new(), 6)),
        }
        cells.push(self.birthday.clone());
        cells.push(self.notes.join("\n"));
        cells.push(self.categories.join(MULTI_VALUE_SEPARATOR));
        cells.push(self.text.shown("card"));
        cells
    }
}

/// Label and value cells for `slots` entries; the last slot takes every
/// entry left, joined by Google's ` ::: `.
fn push_slots(cells: &mut Vec<String>, entries: Vec<(String, String)>, slots: usize) {
    let mut entries = entries.into_iter();
    for _ in 1..slots {
        let (label, value) = entries.next().unwrap_or_default();
        cells.push(label);
        cells.push(value);
    }
    let (labels, values): (Vec<String>, Vec<String>) = entries.unzip();
    cells.push(labels.join(MULTI_VALUE_SEPARATOR));
    cells.push(values.join(MULTI_VALUE_SEPARATOR));
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = HashMap<&'static str, String>;

    /// The CSV's rows by column name, checking the header and that every
    /// row has every column.
    fn rows(vcf: &[u8]) -> Vec<Row> {
        let mut csv = Vec::new();
        VcardToCsv::new(vcf).read_to_end(&mut csv).unwrap();
        let text = String::from_utf8(csv).expect("the CSV is UTF-8");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap(), &HEADERS[..]);
        reader
            .records()
            .map(|record| {
                let record = record.unwrap();
                assert_eq!(record.len(), HEADERS.len());
                HEADERS
                    .into_iter()
                    .zip(record.iter().map(str::to_owned))
                    .collect()
            })
            .collect()
    }

    fn phones(row: &Row) -> Vec<(String, String)> {
        (1..=PHONE_SLOTS)
            .map(|n| {
                let cell = |part: &str| {
                    row[HEADERS
                        .iter()
                        .find(|h| **h == format!("Phone {n} - {part}"))
                        .unwrap()]
                    .clone()
                };
                (cell("Label"), cell("Value"))
            })
            .filter(|(_, value)| !value.is_empty())
            .collect()
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn card(lines: &[&str]) -> Vec<u8> {
        let mut text = String::from("BEGIN:VCARD\r\n");
        for line in lines {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("END:VCARD\r\n");
        text.into_bytes()
    }

    /// A reader that hands out one byte at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.is_empty()) {
                (Some((&b, rest)), false) => {
                    buf[0] = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn a_vcard_is_told_by_its_first_line() {
        assert!(looks_like_vcard(b"BEGIN:VCARD\r\nVERSION:3.0"));
        assert!(looks_like_vcard(b"\xEF\xBB\xBF\r\n\n  begin:vcard \n"));
        assert!(looks_like_vcard(b"BEGIN:VCARD"));
        assert!(!looks_like_vcard(b"Name,Phone\nBEGIN:VCARD\n"));
        assert!(!looks_like_vcard(b"BEGIN:VCALENDAR\n"));
        assert!(!looks_like_vcard(b"BEGIN:VC"));
        assert!(!looks_like_vcard(b"  \r\n"));
    }

    #[test]
    fn every_row_has_every_column_and_no_input_gives_only_the_header() {
        assert_eq!(HEADERS.len(), 46);
        assert!(rows(b"").is_empty());
        let mut csv = Vec::new();
        let mut converter = VcardToCsv::new(&b""[..]);
        converter.read_to_end(&mut csv).unwrap();
        assert_eq!(csv, format!("{}\n", HEADERS.join(",")).into_bytes());
        assert_eq!(converter.cards(), 0);
    }

    #[test]
    fn version_21_bare_parameters_and_quoted_printable_with_charsets() {
        let rows = rows(include_bytes!("../../../tests/data/vcard_21.vcf"));
        assert_eq!(rows.len(), 3);
        let juergen = &rows[0];
        assert_eq!(juergen["Card"], "card 1, lines 1-13");
        assert_eq!(juergen["Name"], "Jürgen Müller");
        assert_eq!(juergen["Family Name"], "Müller");
        assert_eq!(juergen["Given Name"], "Jürgen");
        // PREF first; fax and pager left out.
        assert_eq!(
            phones(juergen),
            pairs(&[
                ("Mobile", "+1 415 555 0100"),
                ("Work", "+1 415 555 0101"),
                ("Home", "+1 415 555 0102"),
            ])
        );
        // A soft line break at the margin joins the next line.
        assert_eq!(
            juergen["Notes"],
            "Met at the trade fair in Köln.\r\nCall mornings only, please."
        );
        assert!(juergen["vCard"].contains("TEL;FAX;WORK:+1 415 555 0103"));
        assert_eq!(juergen["E-mail 1 - Label"], "Work");

        let maria = &rows[1];
        assert_eq!(maria["Name"], "María José García");
        assert_eq!(maria["Additional Name"], "José");
        assert_eq!(phones(maria), pairs(&[("Mobile", "+44 20 7946 0958")]));
        assert_eq!(maria["E-mail 1 - Value"], "maria.garcia@example.org");
        assert_eq!(maria["E-mail 1 - Label"], "Home");
        assert_eq!(maria["Address 1 - Label"], "Work");
        assert_eq!(maria["Address 1 - Street"], "Calle Mayor 5, Planta 3");
        assert_eq!(maria["Address 1 - Region"], "Andalucía");
        assert_eq!(maria["Address 1 - Country"], "España");
        assert_eq!(maria["Organization Name"], "Example Tiles Ltd");
        assert_eq!(maria["Organization Title"], "Sales Manager");
        assert_eq!(maria["Birthday"], "1980-02-29");

        let nora = &rows[2];
        assert!(phones(nora).is_empty());
        // No charset and not UTF-8: Windows-1252.
        assert_eq!(nora["Notes"], "Café owner");
        // A 2.1 base64 photo ends at the blank line after it.
        assert!(nora["vCard"].ends_with("PHOTO:(image left out)\nEND:VCARD"));
        assert!(nora["vCard"].len() < 200, "{}", nora["vCard"]);
        assert_eq!(nora["Card"], "card 3, lines 25-56");
    }

    #[test]
    fn version_30_apple_groups_labels_and_photo() {
        let rows = rows(include_bytes!("../../../tests/data/vcard_30.vcf"));
        assert_eq!(rows.len(), 3);
        let johnny = &rows[0];
        assert_eq!(johnny["Name"], "Dr. Johnny Quincy Appleseed Jr.");
        assert_eq!(
            [
                &johnny["Family Name"],
                &johnny["Given Name"],
                &johnny["Additional Name"],
                &johnny["Name Prefix"],
                &johnny["Name Suffix"],
            ],
            ["Appleseed", "Johnny", "Quincy", "Dr.", "Jr."]
        );
        assert_eq!(johnny["Nickname"], "Johnny, JQ");
        assert_eq!(
            phones(johnny),
            pairs(&[
                ("Mobile", "+1 (415) 555-0111"),
                ("Mobile", "+1 (415) 555-0110"),
                ("Assistant", "+1 (415) 555-0112"),
                ("Main", "+1 (415) 555-0113"),
            ])
        );
        assert_eq!(johnny["E-mail 1 - Value"], "johnny@example.com");
        assert_eq!(johnny["E-mail 1 - Label"], "Work");
        assert_eq!(johnny["E-mail 2 - Value"], "jq@example.net");
        assert_eq!(johnny["Organization Name"], "Example Orchard, Inc.");
        assert_eq!(johnny["Address 1 - Street"], "1 Orchard Way\nBuilding 2");
        assert_eq!(johnny["Address 1 - Label"], "Home");
        assert_eq!(johnny["Address 1 - Postal Code"], "95014");
        assert_eq!(
            johnny["Notes"],
            "Prefers texts, not calls. This note is folded across two lines by the exporter."
        );
        assert_eq!(johnny["Birthday"], "1984-01-24");
        assert_eq!(johnny["Labels"], "Customers ::: VIP");
        assert!(johnny["vCard"].contains("\nPHOTO:(image left out)\nEND:VCARD"));
        assert!(!johnny["vCard"].contains("/9j/") && johnny["vCard"].len() < 2000);

        let li = &rows[1];
        assert_eq!(phones(li), pairs(&[("Home", "+44 20 7946 0959")]));
        assert_eq!(li["E-mail 1 - Label"], "Other");
        let bakery = &rows[2];
        assert!(phones(bakery).is_empty());
        assert_eq!(bakery["Name"], "Orchard Bakery");
        assert_eq!(bakery["Organization Name"], "Orchard Bakery");
    }

    #[test]
    fn version_40_uris_pref_and_quoted_type_lists() {
        let rows = rows(include_bytes!("../../../tests/data/vcard_40.vcf"));
        assert_eq!(rows.len(), 3);
        let amara = &rows[0];
        assert_eq!(
            phones(amara),
            pairs(&[
                ("Work", "+1-415-555-0121 ext. 12"),
                ("Mobile", "+1-415-555-0120"),
                ("Home", "+44-20-7946-0960"),
            ])
        );
        assert_eq!(amara["Name Prefix"], "Ms.");
        assert_eq!(amara["Address 1 - Street"], "100 Market Street, Suite 400");
        assert_eq!(amara["Address 1 - City"], "San Francisco");
        assert_eq!(amara["Birthday"], "--04-15");
        assert_eq!(amara["Labels"], "myContacts ::: Starred");
        assert_eq!(amara["Notes"], "Speaks Igbo, Yoruba and English");

        let kenji = &rows[1];
        assert_eq!(
            phones(kenji),
            pairs(&[("Home", "+1-415-555-0125"), ("Mobile", "+1-415-555-0124")])
        );
        assert_eq!(kenji["Birthday"], "1990-04-15");
        let sam = &rows[2];
        assert!(phones(sam).is_empty());
        assert_eq!(sam["E-mail 1 - Value"], "sam@example.org");
        assert_eq!(sam["E-mail 1 - Label"], "Home");
        assert_eq!(sam["E-mail 2 - Label"], "Work");
        assert!(sam["vCard"].contains("PHOTO:(image left out)\nREV:"));
    }

    #[test]
    fn folded_lines_join_whatever_the_whitespace_and_line_endings() {
        for ending in ["\r\n", "\n", "\r"] {
            let vcf = [
                "BEGIN:VCARD",
                "FN:Ada Lo",
                " velace",
                "NOTE:one",
                "\t two",
                "TEL;TYPE=ce",
                " ll:+1 415",
                "  555 0100",
                "END:VCARD",
                "",
            ]
            .join(ending);
            let rows = rows(vcf.as_bytes());
            assert_eq!(rows.len(), 1, "{ending:?}");
            assert_eq!(rows[0]["Name"], "Ada Lovelace");
            assert_eq!(rows[0]["Notes"], "one two");
            assert_eq!(phones(&rows[0]), pairs(&[("Mobile", "+1 415 555 0100")]));
            assert_eq!(rows[0]["Card"], "card 1, lines 1-9");
        }
    }

    #[test]
    fn escapes_and_structured_values() {
        let rows = rows(&card(&[
            r"FN:Smith\, Jane\; PhD",
            r"N:O\;Neil;Jane,Ann;;;",
            r"NOTE:line one\nline two\Nline three\\ back\slash",
            r"CATEGORIES:a\,b,c",
            r"ORG:Acme\; Sons;R&D",
        ]));
        let row = &rows[0];
        assert_eq!(row["Name"], "Smith, Jane; PhD");
        assert_eq!(row["Family Name"], "O;Neil");
        assert_eq!(row["Given Name"], "Jane Ann");
        assert_eq!(row["Notes"], "line one\nline two\nline three\\ back\\slash");
        assert_eq!(row["Labels"], "a,b ::: c");
        assert_eq!(row["Organization Name"], "Acme; Sons");
    }

    #[test]
    fn quoted_printable_soft_breaks_and_iso_8859_1() {
        let rows = rows(&card(&[
            "FN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Fran=E7ois Lef=",
            "=E8vre",
            "NOTE;QUOTED-PRINTABLE;CHARSET=UTF-8:caf=C3=A9 =3D ok=",
            "",
            "TEL;CELL:+33 1 55 55 01 00",
        ]));
        assert_eq!(rows[0]["Name"], "François Lefèvre");
        assert_eq!(rows[0]["Notes"], "café = ok");
        assert_eq!(phones(&rows[0]), pairs(&[("Mobile", "+33 1 55 55 01 00")]));
        // The vCard column shows the decoded text.
        assert!(rows[0]["vCard"].contains(":François Lefèvre\n"));
    }

    #[test]
    fn a_soft_break_does_not_swallow_the_end_of_the_card() {
        let rows = rows(
            b"BEGIN:VCARD\nNOTE;QUOTED-PRINTABLE:cut=\nEND:VCARD\nBEGIN:VCARD\nFN:B\nEND:VCARD\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Card"], "card 1, lines 1-3");
        assert_eq!(rows[1]["Name"], "B");
    }

    #[test]
    fn phone_types_of_each_version_give_labels() {
        let rows = rows(&card(&[
            "TEL;VOICE:1",
            "tel;type=HOME:2",
            "TEL;TYPE=work,voice:3",
            "TEL;TYPE=\"main\":4",
            "TEL;TYPE=mobile:5",
            "TEL:6",
            "TEL;TYPE=textphone:7",
            "TEL;TYPE=HOME;TYPE=FAX:8",
            "TEL;TYPE=x-custom;TYPE=cell:9",
        ]));
        assert_eq!(
            phones(&rows[0]),
            pairs(&[
                ("Other", "1"),
                ("Home", "2"),
                ("Work", "3"),
                ("Main", "4"),
                ("Mobile", "5"),
                ("Other", "6"),
                ("Other", "7"),
                ("Mobile", "9"),
            ])
        );
    }

    #[test]
    fn preferred_numbers_come_first_in_pref_order() {
        let rows = rows(&card(&[
            "TEL;TYPE=home:1",
            "TEL;PREF=3;TYPE=work:2",
            "TEL;TYPE=cell:3",
            "TEL;PREF=1;TYPE=cell:4",
            "TEL;TYPE=cell,pref:5",
        ]));
        let order: Vec<String> = phones(&rows[0]).into_iter().map(|p| p.1).collect();
        assert_eq!(order, ["4", "5", "2", "1", "3"]);
    }

    #[test]
    fn apple_group_labels_name_numbers_and_drop_faxes() {
        let rows = rows(&card(&[
            "item1.TEL:+1 415 555 0100",
            "item2.TEL;type=pref:+1 415 555 0101",
            "item3.TEL:+1 415 555 0102",
            "ITEM1.X-ABLABEL:_$!<Mobile>!$_",
            "item2.X-ABLabel:Assistant",
            "item3.X-ABLabel:_$!<WorkFAX>!$_",
            "item4.TEL;type=CELL:+1 415 555 0103",
        ]));
        assert_eq!(
            phones(&rows[0]),
            pairs(&[
                ("Assistant", "+1 415 555 0101"),
                ("Mobile", "+1 415 555 0100"),
                ("Mobile", "+1 415 555 0103"),
            ])
        );
    }

    #[test]
    fn more_numbers_than_columns_share_the_last_one() {
        let tels: Vec<String> = (0..13)
            .map(|n| {
                format!(
                    "TEL;TYPE={}:+1 415 555 01{n:02}",
                    if n % 2 == 0 { "home" } else { "work" }
                )
            })
            .collect();
        let mut lines: Vec<&str> = tels.iter().map(String::as_str).collect();
        lines.extend([
            "EMAIL:a@example.com",
            "EMAIL:b@example.com",
            "EMAIL;TYPE=work:c@example.com",
            "EMAIL;TYPE=home:d@example.com",
        ]);
        let rows = rows(&card(&lines));
        let phones = phones(&rows[0]);
        assert_eq!(phones.len(), PHONE_SLOTS);
        assert_eq!(phones[8], ("Home".into(), "+1 415 555 0108".into()));
        assert_eq!(
            phones[9],
            (
                "Work ::: Home ::: Work ::: Home".into(),
                "+1 415 555 0109 ::: +1 415 555 0110 ::: +1 415 555 0111 ::: +1 415 555 0112"
                    .into()
            )
        );
        assert_eq!(rows[0]["E-mail 2 - Value"], "b@example.com");
        assert_eq!(
            rows[0]["E-mail 3 - Value"],
            "c@example.com ::: d@example.com"
        );
        assert_eq!(rows[0]["E-mail 3 - Label"], "Work ::: Home");
    }

    /// A photo of `bytes` base64 characters, folded with `indent`.
    fn photo(bytes: usize, indent: &str) -> String {
        let mut text = String::from("PHOTO;ENCODING=BASE64;TYPE=JPEG:");
        let line = "QUJDRA".repeat(12);
        for _ in 0..bytes / line.len() {
            text.push_str(&line);
            text.push_str("\r\n");
            text.push_str(indent);
        }
        text.push_str("QUJD");
        text
    }

    #[test]
    fn a_huge_photo_is_skipped_and_kept_out_of_the_row() {
        for indent in [" ", ""] {
            let photo = photo(5_000_000, indent);
            let vcf = card(&["FN:Big Picture", &photo, "", "TEL;CELL:+1 415 555 0100"]);
            assert!(vcf.len() > 5_000_000);
            let mut csv = Vec::new();
            VcardToCsv::new(&vcf[..]).read_to_end(&mut csv).unwrap();
            assert!(csv.len() < 2_000, "{} bytes of CSV", csv.len());
            let rows = rows(&vcf);
            assert_eq!(phones(&rows[0]), pairs(&[("Mobile", "+1 415 555 0100")]));
            assert_eq!(
                rows[0]["vCard"],
                "BEGIN:VCARD\nFN:Big Picture\nPHOTO:(image left out)\nTEL;CELL:+1 415 555 0100\nEND:VCARD"
            );
        }
        // One unfolded line of 5 MB, too.
        let line = format!("PHOTO;ENCODING=b:{}", "A".repeat(5_000_000));
        let rows = rows(&card(&[&line, "TEL:1"]));
        assert_eq!(phones(&rows[0]), pairs(&[("Other", "1")]));
        assert!(rows[0]["vCard"].len() < 100);
    }

    #[test]
    fn a_card_without_end_is_kept_with_what_it_had() {
        let rows = rows(b"BEGIN:VCARD\nFN:First\nTEL:1\n\nBEGIN:VCARD\nFN:Second\nEND:VCARD\nBEGIN:VCARD\nFN:Third\nTEL:3");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0]["Card"], "card 1, lines 1-3, no END:VCARD");
        assert_eq!(rows[0]["Name"], "First");
        assert_eq!(phones(&rows[0]), pairs(&[("Other", "1")]));
        assert_eq!(rows[1]["Card"], "card 2, lines 5-7");
        assert_eq!(rows[2]["Card"], "card 3, lines 8-10, no END:VCARD");
        assert_eq!(phones(&rows[2]), pairs(&[("Other", "3")]));
    }

    #[test]
    fn lines_outside_cards_become_rows_of_their_own() {
        let vcf = b"\xEF\xBB\xBFjunk before\n\nBEGIN:VCARD\nFN:A\nEND:VCARD\n\n\nstray one\n\nstray two\nEND:VCARD\nBEGIN:VCARD\nFN:B\nEND:VCARD\n\ntrailing words\n\n";
        let mut converter = VcardToCsv::new(&vcf[..]);
        std::io::copy(&mut converter, &mut io::sink()).unwrap();
        assert_eq!(converter.cards(), 2);
        let rows = rows(vcf);
        let cards: Vec<&str> = rows.iter().map(|r| r["Card"].as_str()).collect();
        assert_eq!(
            cards,
            [
                "line 1, outside any card",
                "card 1, lines 3-5",
                "lines 8-11, outside any card",
                "card 2, lines 12-14",
                "line 16, outside any card",
            ]
        );
        assert_eq!(rows[0]["vCard"], "junk before");
        assert_eq!(rows[2]["vCard"], "stray one\nstray two\nEND:VCARD");
        assert!(rows[2]["Name"].is_empty() && phones(&rows[2]).is_empty());
    }

    #[test]
    fn a_card_over_the_limit_keeps_what_came_before_it() {
        let note = format!("NOTE:{}", "n".repeat(70));
        let mut lines = vec!["FN:Long Card", "TEL;CELL:+1 415 555 0100"];
        let notes = vec![note.as_str(); MAX_CARD_BYTES / 70 + 10];
        lines.extend(notes);
        lines.push("TEL;WORK:+1 415 555 0199");
        let mut vcf = card(&lines);
        vcf.extend(card(&["FN:Next", "TEL:2"]));
        let rows = rows(&vcf);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Name"], "Long Card");
        assert_eq!(phones(&rows[0]), pairs(&[("Mobile", "+1 415 555 0100")]));
        let text = &rows[0]["vCard"];
        assert!(
            text.ends_with("\n… (card cut at 256 KiB)"),
            "{}",
            &text[text.len() - 80..]
        );
        assert!(text.len() <= MAX_CARD_BYTES + 40);
        assert!(rows[0]["Card"].starts_with("card 1, lines 1-"));
        assert!(!rows[0]["Card"].contains("no END"));
        assert_eq!(rows[1]["Name"], "Next");
        assert_eq!(
            rows[1]["Card"],
            format!("card 2, lines {}-{}", lines.len() + 3, lines.len() + 6)
        );
    }

    #[test]
    fn one_endless_line_is_cut_not_held() {
        let note = format!("NOTE:{}", "é".repeat(MAX_CARD_BYTES));
        let rows = rows(&card(&["FN:Endless", &note, "TEL:1"]));
        assert_eq!(rows[0]["Name"], "Endless");
        assert!(phones(&rows[0]).is_empty());
        assert!(rows[0]["vCard"].ends_with("… (card cut at 256 KiB)"));
    }

    #[test]
    fn an_agents_nested_card_stays_inside_its_card() {
        let rows = rows(b"BEGIN:VCARD\nVERSION:2.1\nFN:Boss\nAGENT:\nBEGIN:VCARD\nFN:Assistant\nTEL:2\nEND:VCARD\nTEL;CELL:1\nEND:VCARD\n");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["Name"], "Boss");
        assert_eq!(phones(&rows[0]), pairs(&[("Mobile", "1")]));
        assert!(rows[0]["vCard"].contains("FN:Assistant"));
        assert_eq!(rows[0]["Card"], "card 1, lines 1-10");
    }

    #[test]
    fn reading_a_byte_at_a_time_gives_the_same_csv() {
        for vcf in [
            &include_bytes!("../../../tests/data/vcard_21.vcf")[..],
            include_bytes!("../../../tests/data/vcard_30.vcf"),
            include_bytes!("../../../tests/data/vcard_40.vcf"),
            b"junk\rBEGIN:VCARD\rFN:Cr\r TL\rTEL:1\rEND:VCARD\r\rBEGIN:VCARD\r\nFN:x",
        ] {
            let mut whole = Vec::new();
            VcardToCsv::new(vcf).read_to_end(&mut whole).unwrap();
            let mut trickled = Vec::new();
            let mut converter = VcardToCsv::new(Trickle(vcf));
            let mut byte = [0u8; 1];
            while converter.read(&mut byte).unwrap() == 1 {
                trickled.push(byte[0]);
            }
            assert_eq!(
                String::from_utf8(trickled).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
    }

    #[test]
    fn cr_only_line_endings_number_lines_as_lines() {
        let rows = rows(b"junk\rBEGIN:VCARD\rFN:Cr\r TL\rTEL:1\rEND:VCARD\r\rBEGIN:VCARD\r\nFN:x");
        let cards: Vec<&str> = rows.iter().map(|r| r["Card"].as_str()).collect();
        assert_eq!(
            cards,
            [
                "line 1, outside any card",
                "card 1, lines 2-6",
                "card 2, lines 8-9, no END:VCARD"
            ]
        );
        assert_eq!(rows[1]["Name"], "CrTL");
    }
}
