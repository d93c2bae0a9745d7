//! AwsObjects on moto's S3: facts, ranges, streaming reads, multipart writes.

use std::io::{Cursor, Read};

use aws_sdk_s3::types::{BucketVersioningStatus, Tag, Tagging, VersioningConfiguration};
use contact_import_aws::{AwsObjects, Clients, PART_SIZE, TABLE_TAG};
use contact_import_core::ports::{ObjectStore, PortError};
use contact_import_testkit as kit;

async fn bucket(clients: &Clients) -> AwsObjects {
    let name = kit::unique("bucket").to_lowercase();
    clients
        .s3
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("creating a bucket on moto");
    AwsObjects::new(clients.s3.clone(), name)
}

async fn keep_versions(clients: &Clients, objects: &AwsObjects) {
    clients
        .s3
        .put_bucket_versioning()
        .bucket(objects.bucket())
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Bytes that show where they came from: byte i is i mod 251.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn parts_are_joined_in_order_through_a_multipart_upload() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    contact_import_core::ports::contract::objects_join_parts_in_order(std::sync::Arc::new(objects))
        .await;
}

#[tokio::test]
async fn small_objects_round_trip_and_absent_ones_are_none() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    assert_eq!(objects.head("uploads/t/none.csv").await.unwrap(), None);
    assert_eq!(objects.get("uploads/t/none.csv").await.unwrap(), None);
    assert!(matches!(
        objects.reader("uploads/t/none.csv").await,
        Err(PortError::Permanent(_))
    ));
    assert!(matches!(
        objects.get_range("uploads/t/none.csv", 0, 10).await,
        Err(PortError::Permanent(_))
    ));

    objects
        .put("reports/t/imp/summary.json", b"{\"rows\":3}".to_vec())
        .await
        .unwrap();
    assert_eq!(
        objects.get("reports/t/imp/summary.json").await.unwrap(),
        Some(b"{\"rows\":3}".to_vec())
    );
    let info = objects
        .head("reports/t/imp/summary.json")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.size, 10);
    assert_eq!(info.import_spec, None);
    assert!(
        !info.version.is_empty() && !info.version.contains('"'),
        "the ETag, unquoted, when versioning is off: {:?}",
        info.version
    );
}

#[tokio::test]
async fn head_reads_the_spec_metadata_and_the_version() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    keep_versions(&clients, &objects).await;
    let spec = r#"{"destination":{"type":"campaign","id":"c1"}}"#;
    let mut versions = Vec::new();
    for body in ["phone\n+14155552671\n", "phone\n+14155552672\n"] {
        let put = clients
            .s3
            .put_object()
            .bucket(objects.bucket())
            .key("uploads/t/list.csv")
            .metadata("import-spec", spec)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
        let info = objects.head("uploads/t/list.csv").await.unwrap().unwrap();
        assert_eq!(info.import_spec.as_deref(), Some(spec));
        assert_eq!(Some(info.version.as_str()), put.version_id());
        versions.push(info.version);
    }
    assert_ne!(versions[0], versions[1], "two uploads, two versions");
}

#[tokio::test]
async fn an_upload_is_named_by_its_version_and_its_etag_as_events_name_it() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    let put = |body: &'static str| {
        clients
            .s3
            .put_object()
            .bucket(objects.bucket())
            .key("uploads/t/list.csv")
            .body(body.as_bytes().to_vec().into())
            .send()
    };
    let unversioned = put("phone\n+14155552671\n").await.unwrap();
    let etag = unversioned.e_tag().unwrap().trim_matches('"').to_owned();
    assert_eq!(
        objects.event_versions("uploads/t/list.csv").await.unwrap(),
        vec![etag],
        "without versioning, only the ETag, unquoted"
    );
    keep_versions(&clients, &objects).await;
    let versioned = put("phone\n+14155552672\n").await.unwrap();
    assert_eq!(
        objects.event_versions("uploads/t/list.csv").await.unwrap(),
        vec![
            versioned.version_id().unwrap().to_owned(),
            versioned.e_tag().unwrap().trim_matches('"').to_owned()
        ]
    );
    assert!(objects.event_versions("uploads/t/none.csv").await.is_err());
}

#[tokio::test]
async fn bucket_tags_are_read_by_name() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    assert_eq!(
        objects.bucket_tag(TABLE_TAG).await.unwrap(),
        None,
        "no tags at all"
    );
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build().unwrap();
    clients
        .s3
        .put_bucket_tagging()
        .bucket(objects.bucket())
        .tagging(
            Tagging::builder()
                .tag_set(tag("team", "dialer"))
                .tag_set(tag(TABLE_TAG, "contact-import-prod"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        objects.bucket_tag(TABLE_TAG).await.unwrap().as_deref(),
        Some("contact-import-prod")
    );
    assert_eq!(objects.bucket_tag("owner").await.unwrap(), None);
    let missing = AwsObjects::new(clients.s3.clone(), "no-such-bucket-anywhere");
    assert!(missing.bucket_tag(TABLE_TAG).await.is_err());
}

#[tokio::test]
async fn ranges_read_exactly_the_bytes_asked_for() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    let body = pattern(1000);
    objects
        .put("work/t/i/utf8.csv", body.clone())
        .await
        .unwrap();
    for (start, end) in [(0, 1000), (0, 1), (10, 20), (999, 1000), (500, 5000)] {
        assert_eq!(
            objects
                .get_range("work/t/i/utf8.csv", start, end)
                .await
                .unwrap(),
            body[start as usize..(end as usize).min(1000)],
            "{start}..{end}"
        );
    }
    for (start, end) in [(5, 5), (7, 3), (1000, 1010), (2000, 3000)] {
        assert!(
            objects
                .get_range("work/t/i/utf8.csv", start, end)
                .await
                .unwrap()
                .is_empty(),
            "{start}..{end}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_object_streams_in_and_out_in_parts() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    let body = pattern(2 * PART_SIZE + 12_345);
    let source: Box<dyn Read + Send> = Box::new(Cursor::new(body.clone()));
    let writer = objects.clone();
    let size = tokio::task::spawn_blocking(move || {
        writer.put_from_reader("reports/t/imp/errors.csv", source)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(size, body.len() as u64);
    let info = objects
        .head("reports/t/imp/errors.csv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.size, body.len() as u64);
    assert!(
        info.version.ends_with("-3"),
        "a 3-part upload: {}",
        info.version
    );

    let reader = objects.reader("reports/t/imp/errors.csv").await.unwrap();
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let mut read = Vec::new();
        reader.read_to_end(&mut read).map(|_| read)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(read == body, "the same bytes back");

    // A body that fits one part is one PutObject.
    let small: Box<dyn Read + Send> = Box::new(Cursor::new(b"row,code\n".to_vec()));
    let writer = objects.clone();
    let size = tokio::task::spawn_blocking(move || {
        writer.put_from_reader("reports/t/imp/small.csv", small)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(size, 9);
    let info = objects
        .head("reports/t/imp/small.csv")
        .await
        .unwrap()
        .unwrap();
    assert!(
        !info.version.contains('-'),
        "not multipart: {}",
        info.version
    );
}

/// A reader that gives `good` bytes, then fails.
struct Failing {
    good: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.good == 0 {
            return Err(std::io::Error::other("the source went away"));
        }
        let n = buf.len().min(self.good);
        buf[..n].fill(b'x');
        self.good -= n;
        Ok(n)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_upload_is_aborted_and_leaves_nothing() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    let writer = objects.clone();
    let result = tokio::task::spawn_blocking(move || {
        writer.put_from_reader(
            "reports/t/imp/errors.csv",
            Box::new(Failing {
                good: PART_SIZE + 100,
            }),
        )
    })
    .await
    .unwrap();
    match result {
        Err(PortError::Transient(message)) => {
            assert!(message.contains("went away"), "{message}")
        }
        other => panic!("a failing source is a transient error, not {other:?}"),
    }
    assert_eq!(
        objects.head("reports/t/imp/errors.csv").await.unwrap(),
        None
    );
    let uploads = clients
        .s3
        .list_multipart_uploads()
        .bucket(objects.bucket())
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "the multipart upload was aborted: {:?}",
        uploads.uploads()
    );
}

#[tokio::test]
async fn put_from_reader_outside_a_runtime_is_refused_not_a_panic() {
    let clients = kit::clients().await;
    let objects = bucket(&clients).await;
    let result = std::thread::spawn(move || {
        objects.put_from_reader("x.csv", Box::new(Cursor::new(b"a".to_vec())))
    })
    .join()
    .unwrap();
    assert!(matches!(result, Err(PortError::Permanent(m)) if m.contains("spawn_blocking")));
}
