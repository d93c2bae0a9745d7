//! AwsQueue on moto's SQS: every message arrives, on the queue it was sent to.

use std::collections::BTreeSet;

use contact_import_aws::{AwsQueue, Clients};
use contact_import_core::ports::{MessageQueue, PortError, QueueName};
use contact_import_testkit as kit;

async fn queue(clients: &Clients, name: &str) -> String {
    clients
        .sqs
        .create_queue()
        .queue_name(kit::unique(name))
        .send()
        .await
        .expect("creating a queue on moto")
        .queue_url
        .expect("a queue URL")
}

/// Every message waiting on `url`, deleted as read.
async fn drain(clients: &Clients, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = received.messages();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(message.body().unwrap_or_default().to_owned());
            clients
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn messages_go_to_their_queue_in_batches() {
    let clients = kit::clients().await;
    let (chunks, finalize) = (
        queue(&clients, "chunks").await,
        queue(&clients, "finalize").await,
    );
    let sender = AwsQueue::new(clients.sqs.clone(), &chunks, &finalize);
    let bodies: Vec<String> = (0..23)
        .map(|i| format!(r#"{{"chunk":{i},"first_row":{}}}"#, 2 + i * 5000))
        .collect();
    sender
        .send(QueueName::Chunks, bodies.clone())
        .await
        .unwrap();
    sender
        .send(QueueName::Finalize, vec![r#"{"import":"imp-a"}"#.into()])
        .await
        .unwrap();
    sender.send(QueueName::Chunks, Vec::new()).await.unwrap();

    let received: BTreeSet<String> = drain(&clients, &chunks).await.into_iter().collect();
    assert_eq!(received, bodies.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        drain(&clients, &finalize).await,
        [r#"{"import":"imp-a"}"#.to_owned()]
    );
}

#[tokio::test]
async fn a_missing_queue_is_a_permanent_error_naming_it() {
    let clients = kit::clients().await;
    let missing = format!(
        "{}/123456789012/no-such-queue",
        std::env::var("AWS_ENDPOINT_URL").unwrap()
    );
    let sender = AwsQueue::new(clients.sqs.clone(), &missing, &missing);
    let err = sender
        .send(QueueName::Finalize, vec!["x".into()])
        .await
        .unwrap_err();
    match err {
        PortError::Permanent(message) => assert!(message.contains("no-such-queue"), "{message}"),
        other => panic!("not a permanent error: {other:?}"),
    }
}
