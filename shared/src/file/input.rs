//! Turning whatever bytes a spreadsheet wrote into one UTF-8 stream, and
//! finding the delimiter its header uses.

use std::fmt;
use std::io::{self, BufReader, Chain, Cursor, Read};

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};
use serde::{Deserialize, Serialize};

use crate::file::vcard::{looks_like_vcard, VcardToCsv};
use crate::rules::refusal::{NotText, Refusal};

/// How much of the file is looked at to tell what it is: its kind, its
/// encoding, its delimiter.
pub(crate) const HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }

    /// The decoder needed to reach UTF-8, or None when the bytes already are.
    fn transcoder(self) -> Option<&'static Encoding> {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => None,
            TextEncoding::Utf16Le => Some(UTF_16LE),
            TextEncoding::Utf16Be => Some(UTF_16BE),
            TextEncoding::Windows1252 => Some(WINDOWS_1252),
        }
    }

    /// Bytes of byte-order mark at the start of the file.
    fn bom_len(self, head: &[u8]) -> usize {
        match self {
            TextEncoding::Utf8Bom => 3,
            TextEncoding::Utf16Le if head.starts_with(&[0xFF, 0xFE]) => 2,
            TextEncoding::Utf16Be if head.starts_with(&[0xFE, 0xFF]) => 2,
            _ => 0,
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Recognises, from its first bytes, a file that is not text to read as CSV.
pub(crate) fn sniff_not_text(head: &[u8]) -> Option<NotText> {
    const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    const ARCHIVES: [&[u8]; 4] = [
        &[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C],
        b"BZh",
        &[0xFD, b'7', b'z', b'X', b'Z', 0x00],
        b"Rar!\x1A\x07",
    ];
    let contains = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(if contains(b"opendocument.spreadsheet") {
            NotText::OpenDocument
        } else if contains(b"xl/") {
            NotText::ExcelWorkbook
        } else {
            NotText::ZipArchive
        });
    }
    if head.starts_with(OLE2) {
        return Some(NotText::LegacyOffice);
    }
    if head.starts_with(&[0x1F, 0x8B]) {
        return Some(NotText::Gzip);
    }
    if ARCHIVES.iter().any(|magic| head.starts_with(magic)) {
        return Some(NotText::OtherArchive);
    }
    if head.starts_with(b"%PDF-") {
        return Some(NotText::Pdf);
    }
    if head.starts_with(&[0xFF, 0xFE, 0, 0])
        || head.starts_with(&[0, 0, 0xFE, 0xFF])
        || looks_utf32(head)
    {
        return Some(NotText::Utf32);
    }
    if sniff_utf16_without_bom(head).is_none()
        && !head.starts_with(&[0xFF, 0xFE])
        && !head.starts_with(&[0xFE, 0xFF])
        && mostly_control_bytes(head)
    {
        return Some(NotText::Binary);
    }
    None
}

/// ASCII in UTF-32 has three NULs in every four bytes.
fn looks_utf32(head: &[u8]) -> bool {
    let units = head.len() / 4;
    if units < 2 {
        return false;
    }
    let zero_pairs = head
        .chunks_exact(4)
        .filter(|unit| unit[1] == 0 && unit[2] == 0 && (unit[0] == 0) != (unit[3] == 0))
        .count();
    zero_pairs * 10 >= units * 9
}

/// Text, in any encoding read here, has almost no control bytes; binary
/// data (an image, a database, random bytes, /dev/zero) has many.
fn mostly_control_bytes(head: &[u8]) -> bool {
    let control = head
        .iter()
        .filter(|&&b| matches!(b, 0..=8 | 0x0E..=0x1F | 0x7F))
        .count();
    control > 0 && control * 100 >= head.len()
}

/// Chooses the encoding from the first bytes of a file. `complete` says the
/// head is the whole file, so a multi-byte character cut at its end is an error.
pub(crate) fn sniff_encoding(head: &[u8], complete: bool) -> TextEncoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return TextEncoding::Utf8Bom;
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return TextEncoding::Utf16Le;
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return TextEncoding::Utf16Be;
    }
    if let Some(utf16) = sniff_utf16_without_bom(head) {
        return utf16;
    }
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        // Only the last character is cut short by the sniffing window.
        Err(e) if e.error_len().is_none() && !complete => TextEncoding::Utf8,
        Err(_) => TextEncoding::Windows1252,
    }
}

/// Text in UTF-16 has a NUL in every other byte; which half tells the order.
fn sniff_utf16_without_bom(head: &[u8]) -> Option<TextEncoding> {
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let zeros_at = |parity: usize| {
        head.iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zeros_at(0), zeros_at(1));
    if odd * 10 >= pairs * 9 && even == 0 {
        Some(TextEncoding::Utf16Le)
    } else if even * 10 >= pairs * 9 && odd == 0 {
        Some(TextEncoding::Utf16Be)
    } else {
        None
    }
}

/// A reader that yields the file as UTF-8 without a byte-order mark; a
/// vCard file as the CSV it converts to.
pub struct Utf8Reader<R: Read> {
    inner: Utf8Inner<R>,
}

impl<R: Read> Utf8Reader<R> {
    /// Whether the bytes read differ from the file's (other than a BOM):
    /// the pipeline then stages the converted text for its chunks.
    pub(crate) fn is_converted(&self) -> bool {
        !matches!(self.inner, Utf8Inner::Plain(_))
    }
}

/// The sniffed head, then the rest of the input.
pub(crate) type HeadThenRest<R> = Chain<Cursor<Vec<u8>>, R>;

enum Utf8Inner<R: Read> {
    Plain(HeadThenRest<R>),
    /// Buffered: the decoder drops the end of a character that does not fit
    /// a small read (as `read_to_end` makes near the end of the file), so it
    /// is only ever asked for whole blocks.
    Transcoded(Box<BufReader<DecodeReaderBytes<HeadThenRest<R>, Vec<u8>>>>),
    /// A vCard file decodes its own charsets, card by card.
    Vcard(Box<VcardToCsv<HeadThenRest<R>>>),
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Utf8Inner::Plain(reader) => reader.read(buf),
            Utf8Inner::Transcoded(reader) => reader.read(buf),
            Utf8Inner::Vcard(reader) => reader.read(buf),
        }
    }
}

/// Sniffs the encoding from the head of `input` and returns it with a
/// reader of the whole file as UTF-8. Memory stays constant whatever the size.
/// A file that is not text is refused here, before a byte is decoded.
pub fn utf8_reader<R: Read>(mut input: R) -> Result<(TextEncoding, Utf8Reader<R>), Refusal> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    let complete = (&mut input)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map(|n| n < HEAD_BYTES)
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    if let Some(kind) = sniff_not_text(&head) {
        return Err(Refusal::NotText(kind));
    }
    if looks_like_vcard(&head) {
        let cards = VcardToCsv::new(Cursor::new(head).chain(input));
        let inner = Utf8Inner::Vcard(Box::new(cards));
        return Ok((TextEncoding::Utf8, Utf8Reader { inner }));
    }
    let encoding = sniff_encoding(&head, complete);
    let inner = match encoding.transcoder() {
        None => {
            let bom = encoding.bom_len(&head);
            let mut head = Cursor::new(head);
            head.set_position(bom as u64);
            Utf8Inner::Plain(head.chain(input))
        }
        Some(transcoder) => {
            let decoder = DecodeReaderBytesBuilder::new()
                .encoding(Some(transcoder))
                .bom_override(true)
                .strip_bom(true)
                .build(Cursor::new(head).chain(input));
            Utf8Inner::Transcoded(Box::new(BufReader::with_capacity(HEAD_BYTES, decoder)))
        }
    };
    Ok((encoding, Utf8Reader { inner }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Delimiter {
    Comma,
    Semicolon,
    Tab,
    Pipe,
}

impl Delimiter {
    /// In order of preference when a header has as many of two kinds.
    pub const ALL: [Delimiter; 4] = [
        Delimiter::Comma,
        Delimiter::Semicolon,
        Delimiter::Tab,
        Delimiter::Pipe,
    ];

    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
            Delimiter::Pipe => b'|',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Delimiter::Comma => ",",
            Delimiter::Semicolon => ";",
            Delimiter::Tab => "\t",
            Delimiter::Pipe => "|",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Delimiter::Comma => "comma",
            Delimiter::Semicolon => "semicolon",
            Delimiter::Tab => "tab",
            Delimiter::Pipe => "pipe",
        }
    }
}

impl From<Delimiter> for String {
    fn from(delimiter: Delimiter) -> Self {
        delimiter.as_str().to_owned()
    }
}

impl TryFrom<String> for Delimiter {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Delimiter::ALL
            .into_iter()
            .find(|d| d.as_str() == value || d.name() == value)
            .ok_or_else(|| format!("`{value}` is not one of , ; tab |"))
    }
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The delimiter that occurs most often, outside quotes, in the first line
/// of `utf8_head`; comma when the header is a single column.
pub(crate) fn detect_delimiter(utf8_head: &[u8]) -> Delimiter {
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &byte in utf8_head {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = Delimiter::ALL.iter().position(|d| d.byte() == byte) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..4).fold(0, |best, i| if counts[i] > counts[best] { i } else { best });
    Delimiter::ALL[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (TextEncoding, String) {
        let (encoding, mut reader) = utf8_reader(bytes).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        (encoding, text)
    }

    fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend(if little_endian {
                [0xFF, 0xFE]
            } else {
                [0xFE, 0xFF]
            });
        }
        for unit in text.encode_utf16() {
            bytes.extend(if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        bytes
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(
            decode("phone\nJosé\n".as_bytes()),
            (TextEncoding::Utf8, "phone\nJosé\n".into())
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend("phone\n".as_bytes());
        assert_eq!(decode(&bom), (TextEncoding::Utf8Bom, "phone\n".into()));
    }

    #[test]
    fn utf16_both_orders_with_bom() {
        let text = "phone\tname\n+14155550123\tZoë\n";
        assert_eq!(
            decode(&utf16(text, true, true)),
            (TextEncoding::Utf16Le, text.into())
        );
        assert_eq!(
            decode(&utf16(text, false, true)),
            (TextEncoding::Utf16Be, text.into())
        );
    }

    #[test]
    fn utf16_without_bom_is_recognised() {
        let text = "phone\tname\n+14155550123\tAnn\n";
        assert_eq!(
            decode(&utf16(text, true, false)),
            (TextEncoding::Utf16Le, text.into())
        );
    }

    #[test]
    fn a_character_cut_at_the_end_decodes_whole_whatever_the_reads() {
        // UTF-16 with an odd last byte: the decoder ends with U+FFFD.
        let mut bytes = utf16("phone\nZoë", true, true);
        bytes.push(0x41);
        let (_, text) = decode(&bytes);
        assert_eq!(text, "phone\nZoë\u{fffd}");
        let (_, mut reader) = utf8_reader(bytes.as_slice()).unwrap();
        let mut bytewise = Vec::new();
        let mut byte = [0u8; 1];
        while reader.read(&mut byte).unwrap() == 1 {
            bytewise.push(byte[0]);
        }
        assert_eq!(String::from_utf8(bytewise).unwrap(), text);
    }

    #[test]
    fn windows_1252_when_not_utf8() {
        // "José;Müller;€" as Excel on Windows writes it.
        let bytes = b"name;city\nJos\xe9;M\xfcller \x80\n";
        assert_eq!(
            decode(bytes),
            (
                TextEncoding::Windows1252,
                "name;city\nJosé;Müller €\n".into()
            )
        );
    }

    #[test]
    fn a_character_cut_by_the_sniff_window_is_still_utf8() {
        let head = "abc é".as_bytes();
        assert_eq!(
            sniff_encoding(&head[..head.len() - 1], false),
            TextEncoding::Utf8
        );
        assert_eq!(
            sniff_encoding(&head[..head.len() - 1], true),
            TextEncoding::Windows1252
        );
    }

    #[test]
    fn large_files_decode_past_the_sniff_window() {
        let mut bytes = b"name\n".to_vec();
        bytes.extend(std::iter::repeat_n(b"Jos\xe9\n".as_slice(), 30_000).flatten());
        let (encoding, text) = decode(&bytes);
        assert_eq!(encoding, TextEncoding::Windows1252);
        assert_eq!(text.matches("José").count(), 30_000);
    }

    #[test]
    fn delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(detect_delimiter(b"phone,name,email\n"), Delimiter::Comma);
        assert_eq!(
            detect_delimiter(b"phone;name;\"a,b,c,d\"\n"),
            Delimiter::Semicolon
        );
        assert_eq!(detect_delimiter(b"phone\tname\n1,2,3,4,5"), Delimiter::Tab);
        assert_eq!(detect_delimiter(b"phone|name|city"), Delimiter::Pipe);
        assert_eq!(detect_delimiter(b"phone\n"), Delimiter::Comma);
    }
}
