//! The SAM template (`infra/template.yaml`) against the code. What the code
//! relies on comes from the crates' own constants (the variables the
//! functions read, the table's keys and indexes, the queues, the object key
//! prefixes and accepted suffixes), not copied into the test, so that one
//! the template lacks fails this test rather than a deployment:
//!
//! - every variable the functions read is set on every function;
//! - every index the AWS adapter creates is on the table, with its key
//!   attributes, as are the table's keys and its TTL attribute;
//! - every queue the code sends to is a queue of the template with a
//!   dead-letter queue, consumed by the right function with partial batch
//!   failures, and a visibility timeout of at least six times the
//!   consumer's timeout, for every timeout the parameters allow;
//! - the roles grant no service-wide wildcards, only the bucket's known
//!   prefixes, only the table, and polling only on each function's sources:
//!   the SDK calls of the adapters' source give the actions they need.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use contact_import_aws::dynamo::{attr, INDEXES};
use contact_import_aws::TABLE_TAG;
use contact_import_core::imports::keys::{ACCEPTED_SUFFIXES, PREFIXES};
use contact_import_core::ports::QueueName;
use serde_json::{json, Map, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.rs` file under `relative`, with its path.
fn rust_sources(relative: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(relative), &mut out);
    out
}

// ------------------------------------------------------------ the template

/// YAML to JSON, with CloudFormation's short-form tags (`!Ref X`,
/// `!GetAtt A.B`, `!Sub ...`, `!If [...]`, ...) turned into their long form.
fn to_json(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).expect("a YAML number is a JSON number"),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let value = to_json(tagged.value);
            match tag {
                "Ref" | "Condition" => json!({ tag: value }),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) =
                            s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{tag}"): value }),
            }
        }
    }
}

struct Template {
    doc: Value,
}

impl Template {
    fn load() -> Template {
        let text = read("infra/template.yaml");
        let yaml: serde_norway::Value =
            serde_norway::from_str(&text).expect("infra/template.yaml is YAML");
        Template { doc: to_json(yaml) }
    }

    fn resources(&self) -> &Map<String, Value> {
        self.doc["Resources"]
            .as_object()
            .expect("the template has Resources")
    }

    fn resource(&self, name: &str) -> &Value {
        self.resources()
            .get(name)
            .unwrap_or_else(|| panic!("the template has no resource {name}"))
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources()
            .iter()
            .filter(move |(_, r)| r["Type"] == kind)
    }

    /// A function's property, or the Globals' when the function has none.
    fn function_property(&self, function: &Value, property: &str) -> Value {
        match &function["Properties"][property] {
            Value::Null => self.doc["Globals"]["Function"][property].clone(),
            value => value.clone(),
        }
    }

    /// A function's environment: the Globals' variables, then its own.
    fn environment(&self, function: &Value) -> Map<String, Value> {
        let mut vars = self.doc["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(own) = function["Properties"]["Environment"]["Variables"].as_object() {
            vars.extend(own.clone());
        }
        vars
    }

    /// Every parameter's default.
    fn defaults(&self) -> BTreeMap<String, Value> {
        self.doc["Parameters"]
            .as_object()
            .map(|params| {
                params
                    .iter()
                    .filter_map(|(name, p)| Some((name.clone(), p.get("Default")?.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A value with `Ref` to a parameter and `Fn::FindInMap` resolved, as
    /// a whole number of seconds, rows, ...
    fn number(&self, value: &Value, params: &BTreeMap<String, Value>) -> Option<u64> {
        match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            Value::Object(o) if o.len() == 1 => {
                if let Some(Value::String(name)) = o.get("Ref") {
                    return self.number(params.get(name)?, params);
                }
                let args = o.get("Fn::FindInMap")?.as_array()?;
                let key = |v: &Value| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(r) => match params.get(r.get("Ref")?.as_str()?)? {
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    },
                    other => Some(other.to_string()),
                };
                let found = &self.doc["Mappings"][key(&args[0])?][key(&args[1])?][key(&args[2])?];
                self.number(found, params)
            }
            _ => None,
        }
    }

    /// The parameters `value` refers to, directly.
    fn referenced_parameter<'a>(&'a self, value: &Value) -> Option<&'a Value> {
        let name = value.get("Ref")?.as_str()?;
        self.doc["Parameters"].get(name)
    }

    /// The resource name of `{"Ref": name}` or `{"Fn::GetAtt": [name, attribute]}`.
    fn target(value: &Value) -> Option<&str> {
        if let Some(name) = value.get("Ref").and_then(Value::as_str) {
            return Some(name);
        }
        value.get("Fn::GetAtt")?.get(0)?.as_str()
    }

    /// The function whose binary is `binary`.
    fn function_for_binary(&self, binary: &str) -> (&String, &Value) {
        self.of_type("AWS::Serverless::Function")
            .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == binary)
            .unwrap_or_else(|| panic!("no function of the template builds the binary `{binary}`"))
    }

    /// The queues a function's SQS events read, with their event.
    fn sqs_sources<'a>(&'a self, function: &'a Value) -> Vec<(&'a str, &'a Value)> {
        function["Properties"]["Events"]
            .as_object()
            .map(|events| {
                events
                    .values()
                    .filter(|e| e["Type"] == "SQS")
                    .map(|e| {
                        let queue = Template::target(&e["Properties"]["Queue"])
                            .expect("an SQS event names its queue with !GetAtt Queue.Arn");
                        (queue, e)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The statements that a function's role allows.
    fn statements(&self, function_name: &str, function: &Value) -> Vec<Value> {
        let role = &function["Properties"]["Role"];
        let role_name = Template::target(role).unwrap_or_else(|| {
            panic!("{function_name} names no role of this template; SAM's generated role attaches managed policies on every queue")
        });
        let role = &self.resource(role_name)["Properties"];
        assert!(
            role.get("ManagedPolicyArns").is_none(),
            "{role_name} attaches managed policies; write the statements out"
        );
        role["Policies"]
            .as_array()
            .unwrap_or_else(|| panic!("{role_name} has no inline policies"))
            .iter()
            .flat_map(|p| {
                p["PolicyDocument"]["Statement"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

// ---------------------------------------------------- what the code says

/// The SDK operations the adapters call (`client` then `.operation(`),
/// outside their test modules, as `service:Operation` IAM actions.
fn adapter_actions() -> BTreeSet<String> {
    let pascal = |op: &str| -> String {
        op.split('_')
            .map(|w| {
                let mut chars = w.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut actions = BTreeSet::new();
    for (path, src) in rust_sources("aws/src") {
        let src = src.split("#[cfg(test)]").next().unwrap_or_default();
        let file = path.to_string_lossy();
        let service = if file.contains("/dynamo/") {
            "dynamodb"
        } else if file.ends_with("objects.rs") {
            "s3"
        } else if file.ends_with("queue.rs") {
            "sqs"
        } else {
            continue;
        };
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        for (at, _) in src.match_indices("client") {
            let before = src[..at].chars().next_back();
            let rest = &src[at + "client".len()..];
            if before.is_some_and(word) || rest.chars().next().is_some_and(word) {
                continue;
            }
            let Some(call) = rest.trim_start().strip_prefix('.') else {
                continue;
            };
            let op: String = call.chars().take_while(|&c| word(c)).collect();
            if !call[op.len()..].starts_with('(') {
                continue;
            }
            let action = match (service, op.as_str()) {
                // A transaction needs the actions of its parts (PutItem, UpdateItem, ...), which are called too.
                ("dynamodb", "transact_write_items") => continue,
                // Setting up a table is for tests and the command line, never for a function.
                ("dynamodb", "create_table" | "describe_table" | "update_time_to_live") => continue,
                // Finding the table from the bucket is for the command line.
                ("s3", "get_bucket_tagging") => continue,
                ("s3", "head_object" | "get_object") => "s3:GetObject".to_owned(),
                (
                    "s3",
                    "put_object"
                    | "create_multipart_upload"
                    | "upload_part"
                    | "complete_multipart_upload",
                ) => "s3:PutObject".to_owned(),
                ("s3", "list_objects_v2") => "s3:ListBucket".to_owned(),
                ("s3", "list_parts") => "s3:ListMultipartUploadParts".to_owned(),
                ("sqs", "send_message" | "send_message_batch") => "sqs:SendMessage".to_owned(),
                (service, op) => format!("{service}:{}", pascal(op)),
            };
            actions.insert(action);
        }
    }
    assert!(
        actions.contains("dynamodb:GetItem") && actions.contains("sqs:SendMessage"),
        "reading the adapters' SDK calls found only {actions:?}; has their style changed?"
    );
    actions
}

fn binaries() -> Vec<String> {
    ["splitter", "importer", "finalizer"]
        .map(str::to_owned)
        .to_vec()
}

/// The main.rs of a function's binary.
fn main_of(binary: &str) -> String {
    read(&format!("functions/{binary}/src/main.rs"))
}

/// The binary whose main calls `handler`.
fn binary_calling(handler: &str) -> String {
    let found: Vec<String> = binaries()
        .into_iter()
        .filter(|b| main_of(b).contains(handler))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one function should call {handler}: {found:?}"
    );
    found[0].clone()
}

// ------------------------------------------------------------------ tests

#[test]
fn every_function_is_built_from_the_workspace_by_cargo_lambda() {
    let template = Template::load();
    let infra = root().join("infra");
    for binary in binaries() {
        let (name, function) = template.function_for_binary(&binary);
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        assert_eq!(
            template.function_property(function, "Runtime"),
            "provided.al2023",
            "{name}"
        );
        assert_eq!(
            template.function_property(function, "Handler"),
            "bootstrap",
            "{name}"
        );
        let code = template.function_property(function, "CodeUri");
        let code = infra.join(code.as_str().expect("CodeUri is a path"));
        let manifest = std::fs::read_to_string(code.join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{name}: CodeUri is not the workspace root: {e}"));
        assert!(
            manifest.contains("[workspace]")
                && manifest.contains(&format!("\"functions/{binary}\"")),
            "{name}: CodeUri must be the workspace that has functions/{binary} as a member"
        );
        let package = read(&format!("functions/{binary}/Cargo.toml"));
        assert!(
            package.contains(&format!("name = \"{binary}\"")),
            "functions/{binary} builds `{binary}`"
        );
        let architectures = template.function_property(function, "Architectures");
        let parameter = template
            .referenced_parameter(&architectures[0])
            .unwrap_or_else(|| panic!("{name}: the architecture is a parameter"));
        assert_eq!(parameter["Default"], "arm64");
        let allowed = parameter["AllowedValues"]
            .as_array()
            .expect("allowed architectures");
        assert!(allowed.contains(&json!("x86_64")) && allowed.contains(&json!("arm64")));
        assert_eq!(
            template.function_property(function, "Tracing"),
            "Active",
            "{name}"
        );
        assert_eq!(
            template.function_property(function, "LoggingConfig")["LogFormat"],
            "JSON",
            "{name}"
        );
        for property in ["MemorySize", "Timeout"] {
            let value = template.function_property(function, property);
            assert!(
                template.referenced_parameter(&value).is_some(),
                "{name}: {property} is a parameter"
            );
        }
    }
    let samconfig = read("samconfig.toml");
    assert!(
        samconfig.contains("template_file = \"infra/template.yaml\""),
        "samconfig.toml builds infra/template.yaml"
    );
}

#[test]
fn every_variable_the_functions_read_is_set_on_every_function() {
    let template = Template::load();
    let names = contact_import_lambda::VARIABLES;
    for binary in binaries() {
        let (name, function) = template.function_for_binary(&binary);
        let env = template.environment(function);
        for var in names {
            let value = env
                .get(var)
                .unwrap_or_else(|| panic!("{name} does not set {var}, which the functions read"));
            assert!(
                !matches!(value, Value::Null) && value != "",
                "{name} sets {var} to nothing"
            );
        }
        // Each points at the resource it names.
        let bucket = template
            .of_type("AWS::S3::Bucket")
            .map(|(_, b)| &b["Properties"]["BucketName"])
            .next()
            .expect("a bucket");
        assert_eq!(
            &env["IMPORT_BUCKET"], bucket,
            "{name}: IMPORT_BUCKET is the bucket's name"
        );
        let table = Template::target(&env["TABLE_NAME"]).expect("TABLE_NAME is !Ref of the table");
        assert_eq!(template.resource(table)["Type"], "AWS::DynamoDB::Table");
        let rows = template.number(&env["CHUNK_ROWS"], &template.defaults());
        assert!(
            rows.is_some_and(|rows| rows >= 1),
            "{name}: CHUNK_ROWS is a whole number from 1"
        );
    }
}

#[test]
fn the_table_declares_the_keys_indexes_and_ttl_the_code_uses() {
    let template = Template::load();
    let tables: Vec<_> = template.of_type("AWS::DynamoDB::Table").collect();
    assert_eq!(tables.len(), 1, "one table");
    let table = &tables[0].1["Properties"];
    let declared: BTreeMap<String, String> = table["AttributeDefinitions"]
        .as_array()
        .expect("attribute definitions")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap().to_owned(),
                a["AttributeType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let keys = |schema: &Value| -> (String, String) {
        let of = |kind: &str| {
            schema
                .as_array()
                .expect("a key schema")
                .iter()
                .find(|k| k["KeyType"] == kind)
                .and_then(|k| k["AttributeName"].as_str())
                .unwrap_or_else(|| panic!("no {kind} key"))
                .to_owned()
        };
        (of("HASH"), of("RANGE"))
    };
    let string_attribute = |name: &str| {
        assert_eq!(
            declared.get(name).map(String::as_str),
            Some("S"),
            "attribute {name} is declared as a string"
        );
    };
    let table_keys = (attr::PK.to_owned(), attr::SK.to_owned());
    assert_eq!(keys(&table["KeySchema"]), table_keys, "the table's keys");
    string_attribute(&table_keys.0);
    string_attribute(&table_keys.1);

    let indexes: BTreeMap<String, (String, String)> = table["GlobalSecondaryIndexes"]
        .as_array()
        .expect("global secondary indexes")
        .iter()
        .map(|i| {
            (
                i["IndexName"].as_str().unwrap().to_owned(),
                keys(&i["KeySchema"]),
            )
        })
        .collect();
    for (index, pk, sk) in INDEXES {
        let attributes = (pk.to_owned(), sk.to_owned());
        assert_eq!(
            indexes.get(index),
            Some(&attributes),
            "index {index} as the code uses it"
        );
        string_attribute(pk);
        string_attribute(sk);
    }
    for name in declared.keys() {
        let used = *name == table_keys.0
            || *name == table_keys.1
            || INDEXES.iter().any(|(_, pk, sk)| pk == name || sk == name);
        assert!(
            used,
            "attribute {name} is declared but is no key the code uses"
        );
    }

    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        attr::EXPIRES_AT,
        "the TTL attribute"
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

#[test]
fn every_queue_the_code_sends_to_exists_has_a_dead_letter_queue_and_a_consumer() {
    let template = Template::load();
    let defaults = template.defaults();
    let queue_vars: Vec<&str> = contact_import_lambda::VARIABLES
        .into_iter()
        .filter(|v| v.ends_with("_QUEUE_URL"))
        .collect();
    assert_eq!(
        queue_vars.len(),
        QueueName::ALL.len(),
        "one *_QUEUE_URL variable per QueueName: {queue_vars:?}"
    );

    let (_, importer) = template.function_for_binary(&binary_calling("handle_chunks"));
    let (_, finalizer) = template.function_for_binary(&binary_calling("handle_finalizer"));
    let env = template.environment(importer);
    let queue_of = |var: &str| -> &str {
        let name = env
            .get(var)
            .and_then(Template::target)
            .unwrap_or_else(|| panic!("{var} is not set to !Ref of a queue on the importer"));
        assert_eq!(template.resource(name)["Type"], "AWS::SQS::Queue", "{var}");
        template.resources().get_key_value(name).unwrap().0
    };
    let dead_letter_of = |queue: &str| -> &str {
        let redrive = &template.resource(queue)["Properties"]["RedrivePolicy"];
        let dlq = Template::target(&redrive["deadLetterTargetArn"])
            .unwrap_or_else(|| panic!("{queue} has no dead-letter queue"));
        assert_eq!(template.resource(dlq)["Type"], "AWS::SQS::Queue");
        let receives = template.number(&redrive["maxReceiveCount"], &defaults);
        assert!(receives.is_some_and(|n| n >= 1), "{queue}: maxReceiveCount");
        template.resources().get_key_value(dlq).unwrap().0
    };
    for var in &queue_vars {
        dead_letter_of(queue_of(var));
    }

    let consumed = |function: &Value| -> BTreeSet<String> {
        template
            .sqs_sources(function)
            .into_iter()
            .map(|(q, _)| q.to_owned())
            .collect()
    };
    let chunks = queue_of("CHUNK_QUEUE_URL");
    let finalize = queue_of("FINALIZE_QUEUE_URL");
    assert_eq!(
        consumed(importer),
        BTreeSet::from([chunks.to_owned()]),
        "the importer reads the chunk queue"
    );
    assert_eq!(
        consumed(finalizer),
        BTreeSet::from([finalize.to_owned(), dead_letter_of(chunks).to_owned()]),
        "the finalizer reads the finalize queue and the chunk queue's dead-letter queue (dead chunks)"
    );
    // What the finalizer cannot handle still lands somewhere.
    dead_letter_of(dead_letter_of(chunks));
}

#[test]
fn sqs_consumers_report_partial_failures_and_outlast_their_visibility_timeout() {
    let template = Template::load();
    let defaults = template.defaults();
    for binary in binaries() {
        let (name, function) = template.function_for_binary(&binary);
        let sources = template.sqs_sources(function);
        let returns_batch_response = main_of(&binary).contains("SqsEvent");
        assert_eq!(
            !sources.is_empty(),
            returns_batch_response,
            "{name}: SQS events iff its handler takes an SqsEvent"
        );
        let timeout = template.function_property(function, "Timeout");
        // The defaults, then every value the timeout's parameter allows.
        let mut cases = vec![defaults.clone()];
        if let Some(parameter) = template.referenced_parameter(&timeout) {
            let parameter_name = timeout["Ref"].as_str().unwrap();
            for allowed in parameter["AllowedValues"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let mut params = defaults.clone();
                params.insert(parameter_name.to_owned(), allowed);
                cases.push(params);
            }
            if parameter.get("AllowedValues").is_none() && !sources.is_empty() {
                panic!("{name}: the timeout of an SQS consumer needs AllowedValues so that every choice keeps the queues' visibility timeouts at six times it");
            }
        }
        for (queue, event) in sources {
            let types = as_list(&event["Properties"]["FunctionResponseTypes"]);
            assert!(
                types.contains(&json!("ReportBatchItemFailures")),
                "{name} on {queue}: ReportBatchItemFailures"
            );
            let batch = template.number(&event["Properties"]["BatchSize"], &defaults);
            assert!(
                batch.is_some_and(|b| (1..=10).contains(&b)),
                "{name} on {queue}: a batch size of 1 to 10"
            );
            for params in &cases {
                let seconds = template.number(&timeout, params).expect("a timeout");
                let visibility = &template.resource(queue)["Properties"]["VisibilityTimeout"];
                let visibility = if visibility.is_null() {
                    Some(30)
                } else {
                    template.number(visibility, params)
                };
                let visibility = visibility.unwrap_or_else(|| {
                    panic!("{queue}: the visibility timeout for a timeout of {seconds}s")
                });
                assert!(
                    visibility >= 6 * seconds,
                    "{queue}: visibility timeout {visibility}s is less than six times {name}'s timeout of {seconds}s"
                );
            }
        }
    }
    let (name, importer) = template.function_for_binary(&binary_calling("handle_chunks"));
    let (_, event) = template.sqs_sources(importer)[0];
    let scaling = &event["Properties"]["ScalingConfig"]["MaximumConcurrency"];
    assert!(
        template.referenced_parameter(scaling).is_some(),
        "{name}: MaximumConcurrency is a parameter"
    );
    assert!(
        template
            .referenced_parameter(&event["Properties"]["BatchSize"])
            .is_some(),
        "{name}: BatchSize is a parameter"
    );
}

#[test]
fn the_splitter_hears_of_every_accepted_upload() {
    let template = Template::load();
    let (name, splitter) = template.function_for_binary(&binary_calling("handle_uploads"));
    let bucket = template
        .of_type("AWS::S3::Bucket")
        .next()
        .expect("a bucket")
        .0;
    let mut suffixes = BTreeSet::new();
    for event in splitter["Properties"]["Events"]
        .as_object()
        .expect("events")
        .values()
    {
        assert_eq!(event["Type"], "S3", "{name} is only invoked by S3");
        let properties = &event["Properties"];
        assert_eq!(properties["Bucket"], json!({ "Ref": bucket }));
        assert!(as_list(&properties["Events"]).contains(&json!("s3:ObjectCreated:*")));
        let rules = properties["Filter"]["S3Key"]["Rules"]
            .as_array()
            .expect("a key filter");
        let rule = |kind: &str| {
            rules
                .iter()
                .find(|r| r["Name"] == kind)
                .map(|r| r["Value"].as_str().unwrap().to_owned())
        };
        assert_eq!(
            rule("prefix").as_deref(),
            Some("uploads/"),
            "{name}: only uploads/"
        );
        suffixes.insert(rule("suffix").expect("a suffix rule"));
    }
    for accepted in ACCEPTED_SUFFIXES {
        assert!(
            suffixes.contains(accepted),
            "{name} is not told about {accepted} uploads"
        );
    }
}

#[test]
fn the_bucket_names_its_table_for_the_command_line() {
    let template = Template::load();
    let tag = TABLE_TAG;
    let (bucket, properties) = template
        .of_type("AWS::S3::Bucket")
        .next()
        .expect("a bucket");
    let table = template
        .of_type("AWS::DynamoDB::Table")
        .next()
        .expect("a table")
        .0;
    let tags = as_list(&properties["Properties"]["Tags"]);
    let value = tags.iter().find(|t| t["Key"] == tag).unwrap_or_else(|| {
        panic!("{bucket} has no {tag} tag: `--aws --bucket` cannot find the table")
    });
    assert_eq!(
        value["Value"],
        json!({ "Ref": table }),
        "{bucket}'s {tag} tag"
    );
}

#[test]
fn roles_grant_no_wildcards_and_only_what_each_function_touches() {
    let template = Template::load();
    let prefixes = PREFIXES;
    let table = template
        .of_type("AWS::DynamoDB::Table")
        .next()
        .expect("a table")
        .0
        .clone();
    let bucket_name = match &template
        .of_type("AWS::S3::Bucket")
        .next()
        .expect("a bucket")
        .1["Properties"]["BucketName"]
    {
        Value::Object(o) => o["Fn::Sub"]
            .as_str()
            .expect("BucketName is a !Sub")
            .to_owned(),
        other => other.as_str().expect("a bucket name").to_owned(),
    };
    for binary in binaries() {
        let (name, function) = template.function_for_binary(&binary);
        assert!(
            function["Properties"].get("Policies").is_none(),
            "{name}: Policies are ignored next to Role"
        );
        let mut polled = BTreeSet::new();
        for statement in template.statements(name, function) {
            if statement["Effect"] != "Allow" {
                continue;
            }
            let actions: Vec<String> = as_list(&statement["Action"])
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            let resources = as_list(&statement["Resource"]);
            assert!(
                statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                "{name}: NotAction/NotResource"
            );
            for action in &actions {
                assert!(
                    !action.contains('*'),
                    "{name} is granted the wildcard {action}"
                );
            }
            if resources.contains(&json!("*")) {
                assert!(
                    actions.iter().all(|a| a.starts_with("xray:")),
                    "{name}: only X-Ray may be on every resource: {actions:?}"
                );
            }
            for resource in &resources {
                let sub = resource
                    .get("Fn::Sub")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if actions.iter().any(|a| a.starts_with("s3:")) {
                    let path = sub
                        .strip_prefix("arn:${AWS::Partition}:s3:::")
                        .and_then(|p| p.strip_prefix(bucket_name.as_str()))
                        .unwrap_or_else(|| {
                            panic!("{name}: an S3 grant outside the imports bucket: {resource}")
                        });
                    if actions.iter().any(|a| a != "s3:ListBucket") {
                        let key = path.strip_prefix('/').unwrap_or_else(|| {
                            panic!("{name}: object actions on the bucket itself")
                        });
                        assert!(
                            prefixes
                                .iter()
                                .any(|p| key.starts_with(p) && key.len() > p.len()),
                            "{name}: {key} is not under one of the code's prefixes {prefixes:?}"
                        );
                    } else {
                        assert_eq!(path, "", "{name}: ListBucket on the bucket");
                    }
                }
                if actions.iter().any(|a| a.starts_with("dynamodb:")) {
                    let on_table = Template::target(resource) == Some(table.as_str())
                        || sub.starts_with(&format!("${{{table}.Arn}}/index/"));
                    assert!(
                        on_table,
                        "{name}: DynamoDB access beyond the table and its indexes: {resource}"
                    );
                }
            }
            if actions.iter().any(|a| a == "sqs:ReceiveMessage") {
                polled.extend(
                    resources
                        .iter()
                        .map(|r| Template::target(r).expect("a queue").to_owned()),
                );
            }
        }
        let sources: BTreeSet<String> = template
            .sqs_sources(function)
            .into_iter()
            .map(|(q, _)| q.to_owned())
            .collect();
        assert_eq!(
            polled, sources,
            "{name} polls exactly the queues of its events"
        );
    }
}

#[test]
fn every_call_of_the_aws_adapters_is_granted_to_some_function() {
    let template = Template::load();
    let mut granted = BTreeSet::new();
    for binary in binaries() {
        let (name, function) = template.function_for_binary(&binary);
        for statement in template.statements(name, function) {
            if statement["Effect"] == "Allow" {
                granted.extend(
                    as_list(&statement["Action"])
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned()),
                );
            }
        }
    }
    for action in adapter_actions() {
        assert!(
            granted.contains(&action),
            "the AWS adapters call {action}, which no function may: grant it to the function whose path calls it"
        );
    }
}
