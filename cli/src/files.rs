//! The files a user names on the command line: what is read (contact
//! files, specs, do-not-call files) and what is written (`--output`,
//! `generate FILE`). Every failure names the path and what was being done.

use std::fmt;
use std::fs::{self, File, FileType};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::failure::{BadInput, Unwritable};

/// The largest spec file read: a spec is a few hundred bytes of JSON, and
/// unlike a contact file it is read whole.
pub const MAX_SPEC_BYTES: u64 = 1024 * 1024;

/// Opens `path` for reading, once, if it is a regular file. Anything else
/// is refused before it is opened: opening a named pipe waits for a writer
/// that may never come, and a device such as /dev/zero never ends.
pub fn open_regular(path: &Path) -> Result<Input, BadInput> {
    let unreadable = |e: io::Error| BadInput::unreadable(path, &e);
    refuse_special(path, fs::metadata(path).map_err(unreadable)?.file_type())?;
    let file = File::open(path).map_err(unreadable)?;
    // The path may name another file by now.
    refuse_special(path, file.metadata().map_err(unreadable)?.file_type())?;
    Ok(Input::named(file, path.display()))
}

/// Something read, a regular file by default. Read through it, a failure
/// names what was read: the stores that copy a file name only where the
/// copy goes.
#[derive(Debug)]
pub struct Input<R = File> {
    inner: R,
    name: String,
}

impl<R> Input<R> {
    pub fn named(inner: R, name: impl fmt::Display) -> Self {
        Input {
            inner,
            name: name.to_string(),
        }
    }
}

impl Input {
    /// The file itself, for readers whose failures already name the path.
    pub fn as_file(&self) -> &File {
        &self.inner
    }

    /// Back to the start, to read again what was read.
    pub fn rewind(&mut self) -> Result<(), BadInput> {
        self.inner
            .rewind()
            .map_err(|e| BadInput::unreadable(Path::new(&self.name), &e))
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("reading {}: {e}", self.name)))
    }
}

fn refuse_special(path: &Path, kind: FileType) -> Result<(), BadInput> {
    if kind.is_file() {
        return Ok(());
    }
    if kind.is_dir() {
        return Err(BadInput::unreadable(
            path,
            &io::ErrorKind::IsADirectory.into(),
        ));
    }
    let what = special_kind(kind);
    Err(BadInput::unreadable(
        path,
        &io::Error::other(format!(
            "it is {what}, not a regular file; save the data to a file and give its path"
        )),
    ))
}

#[cfg(unix)]
fn special_kind(kind: FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: FileType) -> &'static str {
    "not a file"
}

/// The text of the spec file at `path`, at most [`MAX_SPEC_BYTES`].
pub fn read_spec(path: &Path) -> Result<String, BadInput> {
    let too_large = || {
        BadInput::other(
            path.display(),
            "invalid_spec",
            format!(
                "the spec is larger than {} KiB; a spec is one small JSON object: \
                 check that this is the spec file",
                MAX_SPEC_BYTES / 1024
            ),
        )
    };
    let input = open_regular(path)?;
    let size = input
        .as_file()
        .metadata()
        .map_err(|e| BadInput::unreadable(path, &e))?
        .len();
    if size > MAX_SPEC_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    // Bounded again as it is read: the file may have grown since.
    input
        .as_file()
        .take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| BadInput::unreadable(path, &e))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| {
        BadInput::other(
            path.display(),
            "invalid_spec",
            "the spec is not UTF-8 text; save it as UTF-8",
        )
    })
}

/// A file the command writes: a failed write names the file and what was
/// being written, and reads as the user's to fix ([`Unwritable`]).
pub struct Output {
    file: BufWriter<File>,
    path: PathBuf,
    what: &'static str,
}

impl Output {
    /// Creates (or truncates) `path` for `what`, e.g. "the report".
    pub fn create(path: &Path, what: &'static str) -> Result<Self, BadInput> {
        Output::open(path, what, File::create(path))
    }

    /// Creates `path`, which must not exist yet.
    pub fn create_new(path: &Path, what: &'static str) -> Result<Self, BadInput> {
        Output::open(path, what, File::create_new(path))
    }

    fn open(path: &Path, what: &'static str, file: io::Result<File>) -> Result<Self, BadInput> {
        let file = file.map_err(|e| Unwritable::new(path, what, "created", e).to_bad_input())?;
        Ok(Output {
            file: BufWriter::new(file),
            path: path.to_owned(),
            what,
        })
    }

    /// Flushes everything to disk and gives the file's size.
    pub fn finish(mut self) -> io::Result<u64> {
        self.flush()?;
        let file = self.file.get_ref();
        let size = file
            .sync_all()
            .and_then(|()| file.metadata())
            .map_err(|e| self.failed(e))?
            .len();
        Ok(size)
    }

    fn failed(&self, error: io::Error) -> io::Error {
        let kind = error.kind();
        io::Error::new(
            kind,
            Unwritable::new(&self.path, self.what, "written", error),
        )
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.file.write(bytes).map_err(|e| self.failed(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush().map_err(|e| self.failed(e))
    }
}
