//! Objects as files under one directory: the key is the relative path.
//!
//! Keys are relative paths of names that do not start with a dot, so a key
//! can neither leave the directory nor meet the hidden names this store keeps
//! for itself: temporary files, and the `.meta` folder of spec metadata.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use contact_import_core::ports::{ObjectInfo, ObjectStore, PortError, PortResult};
use serde::{Deserialize, Serialize};

use crate::io_error;

/// The hidden folder of metadata sidecars, one per uploaded object.
const META: &str = ".meta";

/// What S3 keeps as object metadata, tied to the upload it came with.
#[derive(Serialize, Deserialize)]
struct Meta {
    /// The version of the object the metadata belongs to: a later `put`
    /// of the same key makes a new version, which has no metadata, as on S3.
    version: String,
    import_spec: String,
}

/// Objects in a directory.
pub struct DirObjects {
    root: PathBuf,
}

impl DirObjects {
    /// Objects under `root`, which is created if missing.
    pub fn open(root: impl Into<PathBuf>) -> PortResult<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| {
            io_error(
                &format!("creating the object directory {}", root.display()),
                &e,
            )
        })?;
        Ok(DirObjects { root })
    }

    /// The file that holds `key`, to show a user where a report is.
    pub fn path(&self, key: &str) -> PortResult<PathBuf> {
        let plain = key
            .split('/')
            .all(|name| !name.is_empty() && !name.starts_with('.'))
            && !key.contains('\\')
            && Path::new(key)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(PortError::Permanent(format!(
                "refusing object key `{key}`: a key is a relative path of names \
                 separated by `/`, none empty or starting with a dot"
            )));
        }
        Ok(self.root.join(key))
    }

    /// Where `key`'s metadata lives: inside `.meta`, which no key can name.
    fn meta_path(&self, key: &str) -> PortResult<PathBuf> {
        self.path(key)?;
        Ok(self.root.join(META).join(format!("{key}.json")))
    }

    /// Stores an object as an uploader would, with the spec metadata an S3
    /// upload would carry, and returns its facts.
    pub fn upload(
        &self,
        key: &str,
        mut body: impl Read,
        import_spec: Option<String>,
    ) -> PortResult<ObjectInfo> {
        let path = self.path(key)?;
        let what = format!("uploading object {key} to {}", path.display());
        let written = write_atomically(&path, &what, |file| io::copy(&mut body, file))?;
        let version = version(&written);
        if let Some(spec) = &import_spec {
            let meta = serde_json::to_vec(&Meta {
                version: version.clone(),
                import_spec: spec.clone(),
            })
            .map_err(|e| PortError::Permanent(format!("{what}: encoding its metadata: {e}")))?;
            write_atomically(&self.meta_path(key)?, &what, |file| file.write_all(&meta))?;
        }
        Ok(ObjectInfo {
            size: written.len(),
            version,
            import_spec,
        })
    }
}

/// What makes one write of a key distinct from a later one: the size, the
/// modification time and, where there is one, the inode, which every
/// write-then-rename renews even within one clock tick.
fn version(stat: &fs::Metadata) -> String {
    let nanos = stat
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!("{}-{nanos}-{}", stat.len(), stat.ino())
    }
    #[cfg(not(unix))]
    {
        format!("{}-{nanos}", stat.len())
    }
}

/// Writes `body` to a temporary file beside `path`, flushes it to disk and
/// renames it over `path`, so that a reader or a crash sees the old object
/// or the whole new one. Returns the facts of the written file.
fn write_atomically<T>(
    path: &Path,
    what: &str,
    fill: impl FnOnce(&mut File) -> io::Result<T>,
) -> PortResult<fs::Metadata> {
    let fail = |e: io::Error| io_error(what, &e);
    let dir = path
        .parent()
        .expect("an object path lies under the root directory");
    fs::create_dir_all(dir).map_err(fail)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    fill(file.as_file_mut()).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    let stat = file.as_file().metadata().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(stat)
}

/// Opens an object's file; `None` when there is no object under that key
/// (a missing file, or a folder that only prefixes other keys).
fn open_object(path: &Path) -> io::Result<Option<(File, fs::Metadata)>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let stat = file.metadata()?;
    Ok(stat.is_file().then_some((file, stat)))
}

fn missing(key: &str) -> PortError {
    PortError::Permanent(format!("no object {key}"))
}

impl ObjectStore for DirObjects {
    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        let (path, meta_path) = (self.path(key)?, self.meta_path(key)?);
        let what = format!("reading the facts of object {key} at {}", path.display());
        crate::blocking(move || {
            let fail = |e: io::Error| io_error(&what, &e);
            let Some((_, stat)) = open_object(&path).map_err(fail)? else {
                return Ok(None);
            };
            let version = version(&stat);
            let meta = match fs::read(&meta_path) {
                Ok(json) => Some(serde_json::from_slice::<Meta>(&json).map_err(|e| {
                    PortError::Permanent(format!(
                        "{what}: its metadata {} is not valid: {e}",
                        meta_path.display()
                    ))
                })?),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(fail(e)),
            };
            let import_spec = meta.filter(|m| m.version == version).map(|m| m.import_spec);
            Ok(Some(ObjectInfo {
                size: stat.len(),
                version,
                import_spec,
            }))
        })
        .await
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let path = self.path(key)?;
        let what = format!("reading object {key} at {}", path.display());
        crate::blocking(move || {
            let fail = |e: io::Error| io_error(&what, &e);
            let Some((mut file, stat)) = open_object(&path).map_err(fail)? else {
                return Ok(None);
            };
            let mut body = Vec::with_capacity(usize::try_from(stat.len()).unwrap_or(0));
            file.read_to_end(&mut body).map_err(fail)?;
            Ok(Some(body))
        })
        .await
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> PortResult<Vec<u8>> {
        let path = self.path(key)?;
        let (key, what) = (
            key.to_owned(),
            format!(
                "reading bytes {start}..{end} of object {key} at {}",
                path.display()
            ),
        );
        crate::blocking(move || {
            let fail = |e: io::Error| io_error(&what, &e);
            let (mut file, stat) = open_object(&path)
                .map_err(fail)?
                .ok_or_else(|| missing(&key))?;
            let end = end.min(stat.len());
            let start = start.min(end);
            file.seek(SeekFrom::Start(start)).map_err(fail)?;
            let mut bytes = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
            file.take(end - start)
                .read_to_end(&mut bytes)
                .map_err(fail)?;
            Ok(bytes)
        })
        .await
    }

    async fn reader(&self, key: &str) -> PortResult<Box<dyn Read + Send>> {
        let path = self.path(key)?;
        let what = format!("opening object {key} at {}", path.display());
        let key = key.to_owned();
        crate::blocking(move || {
            let (file, _) = open_object(&path)
                .map_err(|e| io_error(&what, &e))?
                .ok_or_else(|| missing(&key))?;
            Ok(Box::new(BufReader::with_capacity(1 << 16, file)) as Box<dyn Read + Send>)
        })
        .await
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> PortResult<()> {
        let path = self.path(key)?;
        let what = format!("writing object {key} to {}", path.display());
        crate::blocking(move || {
            write_atomically(&path, &what, |file| file.write_all(&body)).map(drop)
        })
        .await
    }

    fn put_from_reader(&self, key: &str, mut body: Box<dyn Read + Send>) -> PortResult<u64> {
        let path = self.path(key)?;
        let what = format!("writing object {key} to {}", path.display());
        write_atomically(&path, &what, |file| io::copy(&mut body, file)).map(|stat| stat.len())
    }

    /// Copies each part's file into the object's: file to file, `io::copy`
    /// has the kernel copy the bytes (`copy_file_range` on Linux), which
    /// for a report of a million rows took a fraction of reading and writing
    /// them through a buffer (docs/decisions.md).
    fn put_joined(
        self: Arc<Self>,
        key: &str,
        head: Vec<u8>,
        parts: Vec<String>,
    ) -> PortResult<u64> {
        let path = self.path(key)?;
        let what = format!("writing object {key} to {}", path.display());
        let sources = parts
            .iter()
            .map(|part| self.path(part).map(|source| (part, source)))
            .collect::<PortResult<Vec<_>>>()?;
        let mut missing_part = None;
        let written = write_atomically(&path, &what, |file| {
            file.write_all(&head)?;
            for (part, source) in &sources {
                let Some((mut source, _)) = open_object(source)? else {
                    missing_part = Some(*part);
                    return Err(io::Error::from(io::ErrorKind::NotFound));
                };
                io::copy(&mut source, file)?;
            }
            Ok(())
        });
        match (written, missing_part) {
            (_, Some(part)) => Err(missing(part)),
            (written, None) => written.map(|stat| stat.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn fresh() -> (DirObjects, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let objects = DirObjects::open(dir.path().join("objects")).unwrap();
        (objects, dir)
    }

    fn read_all(mut reader: Box<dyn Read + Send>) -> Vec<u8> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).unwrap();
        bytes
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn parts_are_joined_file_to_file() {
        let (objects, _dir) = fresh();
        contact_import_core::ports::contract::objects_join_parts_in_order(Arc::new(objects)).await;
    }

    #[tokio::test]
    async fn put_then_get_range_and_read() {
        let (objects, _dir) = fresh();
        let key = "work/acme/imp-a/utf8.csv";
        objects
            .put(key, b"phone\n+14155552671\n".to_vec())
            .await
            .unwrap();
        assert_eq!(
            objects.get(key).await.unwrap().as_deref(),
            Some(&b"phone\n+14155552671\n"[..])
        );
        assert_eq!(
            objects.get_range(key, 6, 18).await.unwrap(),
            b"+14155552671"
        );
        assert_eq!(
            objects.get_range(key, 6, 1000).await.unwrap(),
            b"+14155552671\n"
        );
        assert!(objects.get_range(key, 50, 60).await.unwrap().is_empty());
        assert_eq!(
            read_all(objects.reader(key).await.unwrap()),
            b"phone\n+14155552671\n"
        );
        assert_eq!(
            fs::read(objects.path(key).unwrap()).unwrap(),
            b"phone\n+14155552671\n"
        );
    }

    #[tokio::test]
    async fn a_missing_object_is_absent_or_refused() {
        let (objects, _dir) = fresh();
        objects
            .put("reports/acme/x.csv", b"x".to_vec())
            .await
            .unwrap();
        for key in ["reports/acme/y.csv", "reports/acme", "reports/acme/x.csv/z"] {
            assert_eq!(objects.head(key).await.unwrap(), None, "{key}");
            assert_eq!(objects.get(key).await.unwrap(), None, "{key}");
            assert_eq!(
                objects.get_range(key, 0, 1).await.unwrap_err(),
                PortError::Permanent(format!("no object {key}"))
            );
            assert!(!objects.reader(key).await.err().unwrap().is_retryable());
        }
    }

    #[tokio::test]
    async fn writes_replace_whole_objects_and_leave_no_temporary_file() {
        let (objects, _dir) = fresh();
        let key = "reports/acme/imp-a/errors.csv";
        objects.put(key, b"first".to_vec()).await.unwrap();
        let size = objects
            .put_from_reader(key, Box::new(Cursor::new(b"second, longer".to_vec())))
            .unwrap();
        assert_eq!(size, 14);
        assert_eq!(objects.get(key).await.unwrap().unwrap(), b"second, longer");
        let folder = objects.path(key).unwrap().parent().unwrap().to_owned();
        let names: Vec<_> = fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["errors.csv"]);
    }

    #[tokio::test]
    async fn head_tells_uploads_apart_and_keeps_their_spec() {
        let (objects, _dir) = fresh();
        let key = "uploads/acme/list.csv";
        let spec = r#"{"destination":"contacts"}"#.to_owned();
        let uploaded = objects
            .upload(key, Cursor::new(b"phone\n1\n"), Some(spec.clone()))
            .unwrap();
        let head = objects.head(key).await.unwrap().unwrap();
        assert_eq!(head, uploaded);
        assert_eq!((head.size, head.import_spec), (8, Some(spec)));
        let again = objects
            .upload(key, Cursor::new(b"phone\n2\n"), None)
            .unwrap();
        assert_ne!(
            again.version, uploaded.version,
            "the same size, a new upload"
        );
        assert_eq!(objects.head(key).await.unwrap().unwrap(), again);
        objects
            .upload(key, Cursor::new(b"phone\n3\n"), Some("{}".into()))
            .unwrap();
        objects.put(key, b"phone\n4\n".to_vec()).await.unwrap();
        assert_eq!(
            objects.head(key).await.unwrap().unwrap().import_spec,
            None,
            "metadata belongs to the upload that carried it"
        );
    }

    #[tokio::test]
    async fn keys_that_leave_the_folder_or_reach_hidden_names_are_refused() {
        let (objects, dir) = fresh();
        for key in [
            "../escape.csv",
            "uploads/../../escape.csv",
            "/etc/passwd",
            "",
            "uploads//list.csv",
            "uploads/",
            "./list.csv",
            ".meta/uploads/list.csv.json",
            "uploads\\list.csv",
        ] {
            let error = objects.put(key, b"x".to_vec()).await.unwrap_err();
            assert!(
                matches!(&error, PortError::Permanent(m) if m.contains("refusing object key")),
                "{key}: {error}"
            );
            assert!(objects.head(key).await.is_err(), "{key}");
            assert!(
                objects.upload(key, Cursor::new(b"x"), None).is_err(),
                "{key}"
            );
        }
        assert!(!dir.path().join("escape.csv").exists());
    }
}
