//! Fixtures and event builders the handler tests share.

#![allow(dead_code)]

use aws_lambda_events::sqs::SqsEvent;

/// An event fixture from events/, as `sam local generate-event` writes them.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// The fixture's SQS event with its one record repeated for each (id, body).
pub fn sqs_event(template: &str, messages: &[(String, String)]) -> SqsEvent {
    let mut event = fixture(template);
    let record = event["Records"][0].clone();
    event["Records"] = messages
        .iter()
        .map(|(id, body)| {
            let mut record = record.clone();
            record["messageId"] = id.clone().into();
            record["body"] = body.clone().into();
            record
        })
        .collect();
    serde_json::from_value(event).unwrap()
}

/// Message ids for bodies that need none of their own.
pub fn numbered(bodies: &[String]) -> Vec<(String, String)> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| (format!("message-{i}"), body.clone()))
        .collect()
}
