#!/usr/bin/env python3
"""Plays AWS's part around the three functions when they run locally
(`cargo lambda watch`) against a local S3/SQS/DynamoDB such as moto.

  create   the bucket (with its tags), the table (keys, indexes and TTL as
           infra/template.yaml declares them) and the queues with their dead-letter queues; writes
           the functions' environment to target/local-aws.env
  upload   puts a contact file (and its spec sidecar) under uploads/<tenant>/
           and prints the S3 put event that S3 would send the splitter
  pump     receives a queue's messages, hands them to a function as the SQS
           event Lambda would send (`cargo lambda invoke`), and deletes the
           ones the function did not report as failed
  summary  prints the summary of the import of an upload and checks it

Needs boto3 (moto[server] brings it) and PyYAML. Endpoint, region and
credentials come from the standard AWS variables (AWS_ENDPOINT_URL, ...).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import boto3
import yaml
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
ENV_FILE = ROOT / "target" / "local-aws.env"

# The names events/*.json use.
BUCKET = "contact-imports-local"
TABLE = "contact-imports-local"
QUEUES = {
    # env var: (queue name, dead-letter queue's env var)
    "CHUNK_QUEUE_URL": ("contact-import-chunks", "CHUNK_DLQ_URL"),
    "CHUNK_DLQ_URL": ("contact-import-chunks-dlq", "FINALIZE_DLQ_URL"),
    "FINALIZE_QUEUE_URL": ("contact-import-finalize", "FINALIZE_DLQ_URL"),
    "FINALIZE_DLQ_URL": ("contact-import-finalize-dlq", None),
}
# `pump NAME`: which queue.
PUMPS = {"chunks": "CHUNK_QUEUE_URL", "dead-chunks": "CHUNK_DLQ_URL", "finalize": "FINALIZE_QUEUE_URL"}
PASSED_THROUGH = ["AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags kept as {"Fn::X": ...}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix if suffix == "Ref" else "Fn::" + suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


def region():
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service):
    # Path-style S3 addressing, which moto needs (as the functions do).
    return boto3.client(service, region_name=region(), config=Config(s3={"addressing_style": "path"}))


def template_resource(name):
    with open(TEMPLATE) as f:
        return yaml.load(f, Loader=_CfnLoader)["Resources"][name]


def env_file_values(path):
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
    return values


def setting(name, env):
    value = os.environ.get(name) or env.get(name)
    if not value:
        sys.exit(f"{name} is not set: run `scripts/local_aws.py create` first")
    return value


def create(args):
    s3 = client("s3")
    sqs = client("sqs")
    dynamodb = client("dynamodb")

    s3.create_bucket(Bucket=BUCKET)
    # The tags of the template's bucket: `contact-import ... --aws --bucket`
    # finds the table through one.
    tags = template_resource("ImportBucket")["Properties"].get("Tags", [])
    resolved = {"ImportTable": TABLE}
    tag_set = [{"Key": t["Key"], "Value": resolved[t["Value"]["Ref"]]} for t in tags]
    if tag_set:
        s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": tag_set})

    table = template_resource("ImportTable")["Properties"]
    existing = dynamodb.list_tables()["TableNames"]
    if TABLE not in existing:
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=TABLE)
        dynamodb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification=table["TimeToLiveSpecification"])

    urls = {}
    # Dead-letter queues first, so that their ARNs exist for the redrive policies.
    for var in ["FINALIZE_DLQ_URL", "CHUNK_DLQ_URL", "FINALIZE_QUEUE_URL", "CHUNK_QUEUE_URL"]:
        name, dead_letter = QUEUES[var]
        attributes = {"VisibilityTimeout": str(args.visibility_timeout)}
        if dead_letter:
            arn = sqs.get_queue_attributes(QueueUrl=urls[dead_letter], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(args.max_receive_count)})
        urls[var] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    env = {"IMPORT_BUCKET": BUCKET, "TABLE_NAME": TABLE, **urls, "CHUNK_ROWS": str(args.chunk_rows)}
    for name in PASSED_THROUGH:
        if os.environ.get(name):
            env[name] = os.environ[name]
    args.env_file.parent.mkdir(parents=True, exist_ok=True)
    args.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    print(f"created bucket {BUCKET}, table {TABLE}, queues {', '.join(n for n, _ in QUEUES.values())}", file=sys.stderr)
    print(f"the functions' environment is in {args.env_file}", file=sys.stderr)


def upload(args):
    env = env_file_values(args.env_file)
    bucket = setting("IMPORT_BUCKET", env)
    s3 = client("s3")
    if args.spec:
        # The sidecar goes first: the splitter reads it when the file's event arrives.
        s3.put_object(Bucket=bucket, Key=args.key + ".spec.json", Body=args.spec.read_bytes())
    body = args.file.read_bytes()
    put = s3.put_object(Bucket=bucket, Key=args.key, Body=body)
    obj = {
        # S3 events carry the key URL-encoded, a space as '+'.
        "key": urllib.parse.quote_plus(args.key, safe="/"),
        "size": len(body),
        "eTag": put["ETag"].strip('"'),
        "sequencer": "0A1B2C3D4E5F678901",
    }
    if put.get("VersionId"):
        obj["versionId"] = put["VersionId"]
    event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region(),
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "UploadCsv",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }
    json.dump(event, sys.stdout, indent=2)
    print()


def sqs_event(messages, arn, aws_region):
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": aws_region,
            }
            for m in messages
        ]
    }


def invoke(function, event, args):
    """The function's JSON answer to `event`, through `cargo lambda invoke`
    (functions served by `cargo lambda watch`) or, with --sam, through
    `sam local invoke` (in Docker)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(event, f)
        path = f.name
    if args.sam:
        command = ["sam", "local", "invoke", function, "--event", path, *args.invoke_args]
    else:
        command = ["cargo", "lambda", "invoke", function, "--data-file", path, "--output-format", "json", *args.invoke_args]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    finally:
        os.unlink(path)
    if done.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed ({done.returncode}): {done.stdout}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        return None
    # cargo lambda prints the answer alone; sam local invoke prints it last.
    return json.loads(done.stdout if not args.sam else lines[-1])


def pump(args):
    env = env_file_values(args.env_file)
    url = setting(PUMPS[args.queue], env)
    sqs = client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    batches = handled = failed = 0
    while batches < args.max_batches:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=args.batch_size, WaitTimeSeconds=1, AttributeNames=["All"])
        messages = received.get("Messages", [])
        if not messages:
            break
        batches += 1
        answer = invoke(args.function, sqs_event(messages, arn, region()), args) or {}
        failures = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] in failures:
                # What Lambda does with a failed item: leave it; here it comes back at once.
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
                failed += 1
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                handled += 1
    print(f"{args.queue}: {handled} message(s) handled by {args.function}, {failed} failure(s), in {batches} batch(es)", file=sys.stderr)


def summary(args):
    env = env_file_values(args.env_file)
    bucket = setting("IMPORT_BUCKET", env)
    s3 = client("s3")
    tenant = args.key.split("/")[1]
    # reports/<tenant>/<import id>/summary.json; the one whose source is this upload, newest first.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/{tenant}/").get("Contents", [])
    found = None
    for obj in sorted(listed, key=lambda o: o["LastModified"], reverse=True):
        if obj["Key"].endswith("/summary.json"):
            candidate = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            if candidate.get("source") == args.key:
                found, key = candidate, obj["Key"]
                break
    if found is None:
        sys.exit(f"no summary of {args.key} under s3://{bucket}/reports/{tenant}/: the import has not finished")
    print(json.dumps(found, indent=2))
    problems = []
    if args.expect_status and found.get("status") != args.expect_status:
        problems.append(f"status is {found.get('status')}, expected {args.expect_status}")
    for expectation in args.expect:
        path, expected = expectation.split("=", 1)
        value = found
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if str(value) != expected:
            problems.append(f"{path} is {value}, expected {expected}")
    if problems:
        sys.exit(f"s3://{bucket}/{key}: " + "; ".join(problems))
    print(f"s3://{bucket}/{key}: as expected", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=ENV_FILE, help="the functions' environment (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)

    c = commands.add_parser("create", help="bucket, table and queues; writes the env file")
    c.add_argument("--chunk-rows", type=int, default=5000)
    c.add_argument("--max-receive-count", type=int, default=3)
    c.add_argument("--visibility-timeout", type=int, default=30)
    c.set_defaults(run=create)

    u = commands.add_parser("upload", help="put a file under uploads/<tenant>/ and print its S3 event")
    u.add_argument("file", type=Path)
    u.add_argument("key", help="uploads/<tenant>/<name>.csv")
    u.add_argument("--spec", type=Path, help="an import spec, put as the <key>.spec.json sidecar")
    u.set_defaults(run=upload)

    p = commands.add_parser("pump", help="hand a queue's messages to a function")
    p.add_argument("queue", choices=sorted(PUMPS))
    p.add_argument("function", help="the binary (cargo lambda) or the template's logical id (--sam)")
    p.add_argument("--sam", action="store_true", help="invoke with `sam local invoke` instead of `cargo lambda invoke`")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--max-batches", type=int, default=1000)
    p.add_argument("invoke_args", nargs="*", help="more arguments for the invoke command (after --)")
    p.set_defaults(run=pump)

    s = commands.add_parser("summary", help="print (and check) the summary of an upload's import")
    s.add_argument("key")
    s.add_argument("--expect-status")
    s.add_argument("--expect", action="append", default=[], metavar="FIELD=VALUE", help="e.g. processed=16 or reasons.invalid_phone=2")
    s.set_defaults(run=summary)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
