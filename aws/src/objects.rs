//! [`ObjectStore`] on S3.

use futures_util::FutureExt;
use std::io::Read;

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use contact_import_core::ports::{ObjectInfo, ObjectStore, PortError, PortResult};
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use crate::error::{sdk_error, service_code};

/// The size of each part of a multipart upload (S3 wants at least 5 MiB
/// for every part but the last).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// The user metadata key of the import spec (`x-amz-meta-import-spec`).
pub(crate) const IMPORT_SPEC_METADATA: &str = "import-spec";

/// The bucket tag naming the stack's table, which the template sets, so
/// that the bucket alone leads an operator's tools to the whole stack.
pub const TABLE_TAG: &str = "contact-import:table";

/// One bucket of S3.
#[derive(Debug, Clone)]
pub struct AwsObjects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl AwsObjects {
    /// `client` should use path-style addressing (see [`crate::Clients`]).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        AwsObjects {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The value of the bucket's tag `name`, or `Ok(None)` when it has no such tag.
    pub async fn bucket_tag(&self, name: &str) -> PortResult<Option<String>> {
        let what = format!("s3://{}", self.bucket);
        match self
            .client
            .get_bucket_tagging()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .tag_set()
                .iter()
                .find(|tag| tag.key() == name)
                .map(|tag| tag.value().to_owned())),
            Err(err) if service_code(&err) == Some("NoSuchTagSet") => Ok(None),
            Err(err) => Err(sdk_error("GetBucketTagging", &what, err)),
        }
    }

    /// The names an S3 event may give the object now at `key`: its version
    /// id when the bucket keeps versions, and its ETag. The splitter derives
    /// the import id from what the event carries, so a client that uploaded
    /// the object finds its import under one of these.
    pub async fn event_versions(&self, key: &str) -> PortResult<Vec<String>> {
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("HeadObject", &self.what(key), e))?;
        let version = output
            .version_id()
            .filter(|v| !v.is_empty() && *v != "null");
        let etag = output.e_tag().map(|e| e.trim_matches('"'));
        Ok(version.into_iter().chain(etag).map(str::to_owned).collect())
    }

    fn what(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn missing(&self, key: &str) -> PortError {
        PortError::Permanent(format!("no object {}", self.what(key)))
    }

    /// The body of `key`, or `Ok(None)` when there is no such object.
    async fn open(&self, key: &str, range: Option<String>) -> PortResult<Option<ByteStream>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output.body)),
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                Ok(None)
            }
            Err(err) => Err(sdk_error("GetObject", &self.what(key), err)),
        }
    }

    async fn collect(&self, key: &str, body: ByteStream) -> PortResult<Vec<u8>> {
        body.collect()
            .await
            .map(|data| data.to_vec())
            .map_err(|e| PortError::Transient(format!("reading {}: {e}", self.what(key))))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        part: Vec<u8>,
    ) -> PortResult<CompletedPart> {
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|e| sdk_error("UploadPart", &self.what(key), e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(output.e_tag)
            .build())
    }

    /// Uploads the parts of an open multipart upload, `first` then the rest
    /// of `body`; returns the parts and the size.
    fn upload_parts(
        &self,
        handle: &Handle,
        key: &str,
        upload_id: &str,
        mut part: Vec<u8>,
        body: &mut dyn Read,
    ) -> PortResult<(Vec<CompletedPart>, u64)> {
        let mut parts = Vec::new();
        let mut size = 0u64;
        loop {
            let len = part.len();
            size += len as u64;
            let number = i32::try_from(parts.len() + 1)
                .map_err(|_| PortError::Permanent(format!("{} has too many parts", key)))?;
            parts.push(handle.block_on(self.upload_part(key, upload_id, number, part))?);
            if len < PART_SIZE {
                return Ok((parts, size));
            }
            part = read_part(body, key)?;
            if part.is_empty() {
                return Ok((parts, size));
            }
        }
    }
}

/// Reads up to [`PART_SIZE`] bytes; fewer only at the end of `body`.
fn read_part(body: &mut dyn Read, key: &str) -> PortResult<Vec<u8>> {
    let mut part = Vec::with_capacity(PART_SIZE);
    body.take(PART_SIZE as u64)
        .read_to_end(&mut part)
        .map_err(|e| PortError::Transient(format!("reading the body for {key}: {e}")))?;
    Ok(part)
}

// Every method boxes its future, so that callers' futures stay shallow (see the crate docs).
impl ObjectStore for AwsObjects {
    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        async move {
            let output = match self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(output) => output,
                Err(err)
                    if matches!(err.as_service_error(), Some(HeadObjectError::NotFound(_))) =>
                {
                    return Ok(None)
                }
                Err(err) => return Err(sdk_error("HeadObject", &self.what(key), err)),
            };
            // "null" is the version id of every object written while versioning
            // was off or suspended: it does not tell two uploads apart, the ETag does.
            let version = output
                .version_id()
                .filter(|v| !v.is_empty() && *v != "null")
                .or(output.e_tag())
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned();
            Ok(Some(ObjectInfo {
                size: output
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                version,
                import_spec: output
                    .metadata()
                    .and_then(|m| m.get(IMPORT_SPEC_METADATA))
                    .cloned(),
            }))
        }
        .boxed()
        .await
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        async move {
            match self.open(key, None).await? {
                Some(body) => Ok(Some(self.collect(key, body).await?)),
                None => Ok(None),
            }
        }
        .boxed()
        .await
    }

    /// Bytes `start..end`, clamped to the object as a slice would be: an
    /// empty range, or one past the end, gives no bytes.
    async fn get_range(&self, key: &str, start: u64, end: u64) -> PortResult<Vec<u8>> {
        async move {
            if end <= start {
                return Ok(Vec::new());
            }
            let range = format!("bytes={start}-{}", end - 1);
            let result = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .range(range)
                .send()
                .await;
            match result {
                Ok(output) => self.collect(key, output.body).await,
                Err(err)
                    if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) =>
                {
                    Err(self.missing(key))
                }
                // A range that starts past the end of the object.
                Err(err) if service_code(&err) == Some("InvalidRange") => Ok(Vec::new()),
                Err(err) => Err(sdk_error("GetObject", &self.what(key), err)),
            }
        }
        .boxed()
        .await
    }

    /// The body as a blocking reader. The reader drives the download on the
    /// runtime this was called on, so it must be read from a blocking thread
    /// (`tokio::task::spawn_blocking`), never from an async task: reading it
    /// there would panic or stall the runtime.
    async fn reader(&self, key: &str) -> PortResult<Box<dyn Read + Send>> {
        async move {
            let body = self
                .open(key, None)
                .await?
                .ok_or_else(|| self.missing(key))?;
            let reader: Box<dyn Read + Send> =
                Box::new(SyncIoBridge::new(Box::pin(body.into_async_read())));
            Ok(reader)
        }
        .boxed()
        .await
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> PortResult<()> {
        async move {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| sdk_error("PutObject", &self.what(key), e))?;
            Ok(())
        }
        .boxed()
        .await
    }

    /// One PutObject when the body fits in one part, else a multipart upload
    /// of [`PART_SIZE`] parts, aborted when anything fails. Memory holds one
    /// part at a time.
    ///
    /// Must be called from a blocking thread inside a tokio runtime
    /// (`spawn_blocking`): each request runs with `Handle::block_on`, which
    /// panics on an async worker thread.
    fn put_from_reader(&self, key: &str, mut body: Box<dyn Read + Send>) -> PortResult<u64> {
        let handle = Handle::try_current().map_err(|_| {
            PortError::Permanent(format!(
                "writing {} needs a tokio runtime: call put_from_reader from spawn_blocking",
                self.what(key)
            ))
        })?;
        let first = read_part(&mut body, key)?;
        if first.len() < PART_SIZE {
            let size = first.len() as u64;
            handle.block_on(self.put(key, first))?;
            return Ok(size);
        }
        let created = handle
            .block_on(
                self.client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .send(),
            )
            .map_err(|e| sdk_error("CreateMultipartUpload", &self.what(key), e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let uploaded = self
            .upload_parts(&handle, key, &upload_id, first, &mut body)
            .and_then(|(parts, size)| {
                handle
                    .block_on(
                        self.client
                            .complete_multipart_upload()
                            .bucket(&self.bucket)
                            .key(key)
                            .upload_id(&upload_id)
                            .multipart_upload(
                                CompletedMultipartUpload::builder()
                                    .set_parts(Some(parts))
                                    .build(),
                            )
                            .send(),
                    )
                    .map_err(|e| sdk_error("CompleteMultipartUpload", &self.what(key), e))?;
                Ok(size)
            });
        if uploaded.is_err() {
            // Best effort: a lifecycle rule on incomplete uploads is the backstop.
            let _ = handle.block_on(
                self.client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send(),
            );
        }
        uploaded
    }
}
