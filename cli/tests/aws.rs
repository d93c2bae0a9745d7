//! The commands with `--aws`, run as a user runs them against a deployed
//! stack. The stack is moto's S3, SQS and DynamoDB, set up as the template
//! declares it, with the functions' handlers in this process playing Lambda:
//! S3 notifies an uploads queue, and each queue's messages go to the
//! handler that Lambda would give them to. The binary only uploads and
//! reads, as it would against AWS. `scripts/test` starts moto and points
//! AWS_ENDPOINT_URL at it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_s3::types::{
    BucketVersioningStatus, Event, FilterRule, FilterRuleName, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, Tag, Tagging,
    VersioningConfiguration,
};
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use contact_import_aws::{Clients, TABLE_TAG};
use contact_import_lambda::{
    aws_pipeline, handle_chunks, handle_finalizer, handle_uploads, AwsPipeline, Config,
};
use contact_import_testkit as kit;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use crate::common::{keys, phones, Dir, SUMMARY_FIELDS};

const TENANT: &str = "acme";
/// Small chunks, so that the example file makes several.
const CHUNK_ROWS: u64 = 4;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// A stack on moto: its bucket, table and queues, and (once `serve` is
/// called) its functions, running until the stack is dropped.
struct Stack {
    runtime: Runtime,
    clients: Clients,
    config: Config,
    uploads_queue_url: String,
}

/// What the bucket is set up with, to break one thing at a time.
#[derive(Clone, Copy, PartialEq)]
enum Bucket {
    /// As the template declares it: versioned, tagged with its table, and
    /// notifying the splitter of uploads.
    AsDeployed,
    /// No tag naming the table.
    Untagged,
    /// Uploads notify no one.
    Unheard,
}

impl Stack {
    fn new(bucket: Bucket) -> Stack {
        kit::require_moto();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (clients, config, uploads_queue_url) = runtime.block_on(async {
            let clients = Clients::connect().await.unwrap();
            let resources = kit::new_resources(&clients).await;
            let (name, table) = (&resources.bucket, &resources.table);
            let s3 = &clients.s3;
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            if bucket != Bucket::Untagged {
                let tag = Tag::builder().key(TABLE_TAG).value(table).build().unwrap();
                s3.put_bucket_tagging()
                    .bucket(name)
                    .tagging(Tagging::builder().tag_set(tag).build().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            let uploads = kit::new_queue(&clients, "uploads").await;
            if bucket != Bucket::Unheard {
                notify(&clients, name, &uploads).await;
            }
            let config = Config {
                resources,
                chunk_rows: CHUNK_ROWS,
            };
            (clients, config, uploads)
        });
        Stack {
            runtime,
            clients,
            config,
            uploads_queue_url,
        }
    }

    fn bucket(&self) -> &str {
        &self.config.resources.bucket
    }

    /// The functions start taking their messages, until the stack is dropped.
    fn serve(&self) {
        let pipeline = self.runtime.block_on(aws_pipeline(&self.config));
        self.runtime.spawn(serve(
            self.clients.clone(),
            pipeline,
            self.config.clone(),
            self.uploads_queue_url.clone(),
        ));
    }

    /// The options that point a command at this stack.
    fn options(&self) -> Vec<String> {
        ["--aws", "--bucket", self.bucket(), "--tenant", TENANT]
            .map(str::to_owned)
            .to_vec()
    }

    /// A folder whose runs all go to this stack.
    fn dir(&self) -> Dir {
        let options = self.options();
        Dir::with_backend(&options.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The keys in the bucket.
    fn keys(&self) -> Vec<String> {
        self.runtime.block_on(async {
            let listed = self
                .clients
                .s3
                .list_objects_v2()
                .bucket(self.bucket())
                .send()
                .await
                .unwrap();
            listed
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect()
        })
    }
}

/// S3 tells the uploads queue of every .csv under uploads/, as the template's
/// notifications tell the splitter.
async fn notify(clients: &Clients, bucket: &str, queue_url: &str) {
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    let rule = |name, value: &str| FilterRule::builder().name(name).value(value).build();
    let filter = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(rule(FilterRuleName::Prefix, "uploads/"))
                .filter_rules(rule(FilterRuleName::Suffix, ".csv"))
                .build(),
        )
        .build();
    let configuration = QueueConfiguration::builder()
        .queue_arn(arn)
        .events(Event::S3ObjectCreated)
        .filter(filter)
        .build()
        .unwrap();
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(configuration)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Lambda's part: each queue's messages to its function, deleting those
/// that succeeded; failed ones come back after their visibility timeout.
async fn serve(clients: Clients, pipeline: AwsPipeline, config: Config, uploads: String) {
    let bucket = config.resources.bucket.clone();
    loop {
        let mut idle = true;
        for message in receive(&clients, &uploads).await {
            idle = false;
            let event = as_s3_sends_it(message.body().unwrap_or("{}"));
            if handle_uploads(&pipeline, &bucket, event).await.is_ok() {
                delete(&clients, &uploads, &message).await;
            }
        }
        for (queue_url, is_chunks) in [
            (&config.resources.chunk_queue_url, true),
            (&config.resources.finalize_queue_url, false),
        ] {
            let messages = receive(&clients, queue_url).await;
            if messages.is_empty() {
                continue;
            }
            idle = false;
            let mut event = SqsEvent::default();
            event.records = messages
                .iter()
                .map(|m| {
                    let mut record = SqsMessage::default();
                    record.message_id = m.message_id().map(str::to_owned);
                    record.body = m.body().map(str::to_owned);
                    record
                })
                .collect();
            let response = if is_chunks {
                handle_chunks(&pipeline, event).await
            } else {
                handle_finalizer(&pipeline, event).await
            };
            for message in &messages {
                let failed = response
                    .batch_item_failures
                    .iter()
                    .any(|f| Some(f.item_identifier.as_str()) == message.message_id());
                if !failed {
                    delete(&clients, queue_url, message).await;
                }
            }
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A notification from moto as S3 sends it: moto leaves out each record's
/// `userIdentity` and `requestParameters`, which S3 always sends.
fn as_s3_sends_it(body: &str) -> Value {
    let mut event: Value = serde_json::from_str(body).unwrap();
    if let Some(records) = event["Records"].as_array_mut() {
        for record in records {
            record["userIdentity"] = json!({ "principalId": "AWS:TEST" });
            record["requestParameters"] = json!({ "sourceIPAddress": "127.0.0.1" });
        }
    }
    event
}

async fn receive(clients: &Clients, queue_url: &str) -> Vec<Message> {
    clients
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .map(|r| r.messages().to_vec())
        .unwrap_or_default()
}

async fn delete(clients: &Clients, queue_url: &str, message: &Message) {
    let _ = clients
        .sqs
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(message.receipt_handle().unwrap_or_default())
        .send()
        .await;
}

/// The counters of a summary, without what differs between two imports.
fn counters(summary: &Value) -> BTreeMap<&str, Value> {
    [
        "status",
        "processed",
        "inserted",
        "updated",
        "skipped",
        "failed",
        "reasons",
        "encoding",
        "layout",
        "delimiter",
    ]
    .into_iter()
    .map(|field| (field, summary[field].clone()))
    .collect()
}

#[test]
fn an_import_on_the_stack_matches_the_same_import_on_this_machine() {
    let stack = Stack::new(Bucket::AsDeployed);
    stack.serve();
    let dir = stack.dir();
    let file = example("contacts.csv");
    let spec = example("spec.json");
    let (file, spec) = (file.to_str().unwrap(), spec.to_str().unwrap());

    let summary = dir.json(&["import", file, "--spec", spec]);
    assert_eq!(keys(&summary), SUMMARY_FIELDS.into_iter().collect());
    let import_id = summary["import_id"].as_str().unwrap().to_owned();
    assert_eq!(summary["status"], json!("COMPLETED_WITH_ERRORS"));
    let report = summary["report"].as_str().expect("a report");
    assert_eq!(
        report,
        format!(
            "s3://{}/reports/{TENANT}/{import_id}/errors.csv",
            stack.bucket()
        )
    );
    // The file and its spec went up under the tenant's folder.
    let uploaded = stack.keys();
    let upload = uploaded
        .iter()
        .find(|k| k.starts_with("uploads/acme/") && k.ends_with("/contacts.csv"))
        .unwrap_or_else(|| panic!("the upload, in {uploaded:?}"));
    assert!(uploaded.contains(&format!("{upload}.spec.json")));

    // The same file on this machine counts the same, and reports the same rows.
    let local = Dir::new();
    let on_machine = local.json(&["import", file, "--spec", spec]);
    assert_eq!(counters(&summary), counters(&on_machine));
    let local_id = on_machine["import_id"].as_str().unwrap();
    assert_eq!(
        dir.ok(&["report", &import_id]),
        local.ok(&["report", local_id])
    );
    let stored = dir.contacts(&["--destination", "list:Spring outreach"]);
    assert_eq!(stored.len() as u64, summary["inserted"].as_u64().unwrap());
    assert_eq!(phones(&stored), phones(&local.contacts(&[])));
    assert!(stored.iter().all(|c| c["import_id"] == json!(import_id)));

    // status and history read the same record.
    assert_eq!(dir.json(&["status"]), summary);
    assert_eq!(dir.json(&["status", &import_id]), summary);
    let status = dir.ok(&["status", &import_id]);
    assert!(
        status.contains(&format!("Status of import {import_id}")),
        "{status}"
    );
    assert!(status.contains(report), "{status}");
    let history = dir.json(&["history"]);
    assert_eq!(history["imports"][0]["import_id"], json!(import_id));
    assert_eq!(history["imports"][0]["file"], json!("contacts.csv"));

    // The report saved to a file, and the contacts of one import as a table.
    let saved = dir.ok(&["report", &import_id, "--output", "errors.csv"]);
    assert!(
        saved.starts_with(&format!("Saved the error report of {import_id}")),
        "{saved}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("errors.csv")).unwrap(),
        local.ok(&["report", local_id])
    );
    let listed = dir.ok(&["contacts", "list", "--import", &import_id]);
    for phone in phones(&stored) {
        assert!(listed.contains(&phone), "{phone} in {listed}");
    }

    // Again: every row that went in is now a duplicate of a stored contact.
    let again = dir.json(&["import", file, "--spec", spec]);
    assert_ne!(again["import_id"], json!(import_id));
    assert_eq!(again["inserted"], json!(0));
    assert_eq!(
        again["reasons"]["duplicate_existing"], summary["inserted"],
        "{again}"
    );
    assert_eq!(dir.import_ids().len(), 2);
}

#[test]
fn numbers_added_to_the_stacks_do_not_call_list_are_skipped() {
    let stack = Stack::new(Bucket::AsDeployed);
    stack.serve();
    let dir = stack.dir();
    let added = dir.json(&["dnc", "add", "+1 415 555 2672"]);
    assert_eq!(added["added"], json!(1), "{added}");
    let summary = dir.import(
        "calls.csv",
        "phone,name\n+14155552671,Ann\n(415) 555-2672,Bob\n",
    );
    assert_eq!(summary["inserted"], json!(1));
    assert_eq!(summary["reasons"]["do_not_call"], json!(1), "{summary}");
    let report = dir.ok(&["report", summary["import_id"].as_str().unwrap()]);
    assert_eq!(
        report.lines().count(),
        2,
        "a header and Bob's row: {report}"
    );
    assert!(report.contains("do_not_call"), "{report}");
}

#[test]
fn commands_against_a_stack_they_cannot_use_say_what_to_fix() {
    let stack = Stack::new(Bucket::Untagged);
    let dir = stack.dir();

    let untagged = dir.run(&["history"]);
    let message = untagged.refused();
    assert!(
        message.contains(TABLE_TAG) && message.contains("--table"),
        "{message}"
    );

    let table = stack.config.resources.table.clone();
    let unknown = dir.run(&["status", "imp-0000", "--table", &table]);
    assert!(
        unknown
            .refused()
            .starts_with("error: imp-0000: no such import for tenant acme"),
        "{}",
        unknown.stderr
    );

    let missing = Dir::with_backend(&["--aws", "--bucket", "no-such-bucket", "--tenant", TENANT]);
    let message = missing.run(&["history"]).refused().to_owned();
    assert!(message.contains("--bucket no-such-bucket"), "{message}");

    // A stack's imports need no resume.
    let resume = dir.run(&["resume", "--table", &table]);
    assert!(
        resume.refused().contains("need no resume"),
        "{}",
        resume.stderr
    );

    // A refused file uploads nothing.
    dir.write("empty.csv", "phone,name\n");
    let refused = dir.run(&["import", "empty.csv", "--table", &table]);
    refused.refused();
    assert_eq!(stack.keys(), Vec::<String>::new());
}

#[test]
fn without_a_region_or_credentials_the_command_says_how_to_configure_them() {
    let dir = Dir::with_backend(&["--aws", "--bucket", "imports", "--tenant", TENANT]);
    let nowhere = dir.path().join("none");
    let run = |remove: &[&str]| {
        let mut command = assert_cmd::cargo::cargo_bin_cmd!("contact-import");
        command
            .current_dir(dir.path())
            .args([
                "history", "--aws", "--bucket", "imports", "--tenant", TENANT,
            ])
            .env("AWS_CONFIG_FILE", &nowhere)
            .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
        for name in remove {
            command.env_remove(name);
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (code, stderr) = run(&["AWS_REGION", "AWS_DEFAULT_REGION"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --aws: no AWS region"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let (code, stderr) = run(&[
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --aws: no AWS credentials"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn an_upload_the_stack_never_picks_up_is_given_up_with_advice() {
    let stack = Stack::new(Bucket::Unheard);
    let dir = stack.dir();
    dir.write("calls.csv", "phone,name\n+14155552671,Ann\n");
    let run = dir.run(&["import", "calls.csv", "--start-timeout", "2"]);
    let message = run.failed_with(1);
    assert!(
        message.contains("did not start importing it within 2 s"),
        "{message}"
    );
    assert!(message.contains("history --aws"), "{message}");
    // The upload is there, for when the stack hears of it.
    assert!(
        stack.keys().iter().any(|k| k.ends_with("/calls.csv")),
        "{:?}",
        stack.keys()
    );
}
