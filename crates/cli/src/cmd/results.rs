//! `facerec results`: read the fleet's result documents back, one JSON line each (or
//! `--csv`: `image,name` per face in `identify`'s format, the worker's best match only).
//!
//! * `--prefix s3://bucket/prefix` — every `{job_id}.json` under the worker's
//!   `RESULT_PREFIX`, in key order. Read-only.
//! * `--queue-url URL` — consume the worker's `RESULT_QUEUE_URL` until it has been empty
//!   for `--wait` seconds (or `--max` results), deleting what was printed unless `--keep`
//!   — and only that: a result not printed stays in the queue for the next reader.
//!   A standard queue may deliver a result twice; duplicates (same job id) print once.
//! * `--dlq-url URL` — then every job in the dead-letter queue, with its reason, as
//!   `run` writes a dead-lettered job. Read-only: each message is received (hidden while
//!   the queue is scanned, so each is seen once) and handed back at once.
//!
//! Each result names the local photo it came from (`local_path`) when the submit
//! manifest (`submitted`) knows its job id.

use crate::aws_clients::{chain, clients};
use crate::exit;
use facerec_worker_runtime::queue::{ATTR_DETAIL, ATTR_REASON};
use facerec_worker_runtime::results::S3Prefix;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Result queue to consume.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "prefix",
        conflicts_with = "prefix"
    )]
    pub queue_url: Option<String>,
    /// S3 prefix holding `{job_id}.json` results.
    #[arg(
        long,
        value_name = "s3://BUCKET/PREFIX",
        required_unless_present = "queue_url"
    )]
    pub prefix: Option<String>,
    #[command(flatten)]
    pub aws: crate::aws_clients::AwsArgs,
    /// Queue: stop after the queue has been empty this many seconds.
    #[arg(long, default_value_t = 5)]
    pub wait: u64,
    /// Stop after this many results.
    #[arg(long)]
    pub max: Option<usize>,
    /// Queue: leave the messages in the queue.
    #[arg(long)]
    pub keep: bool,
    /// `image,name` per face (`unknown_person`, `no_persons_found`) instead of JSON.
    #[arg(long)]
    pub csv: bool,
    /// Also list the jobs in this dead-letter queue, with their reason (never deleted).
    #[arg(long, value_name = "URL")]
    pub dlq_url: Option<String>,
    /// `submit`'s manifest, to name each result by the local photo submitted
    /// [default: .facerec/submitted.jsonl, if it exists].
    #[arg(long, env = "FACEREC_MANIFEST", value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let local_paths = match &args.manifest {
            Some(m) => crate::submitted::read(m, true)?,
            None => crate::submitted::read(crate::submitted::DEFAULT_MANIFEST.as_ref(), false)?,
        };
        let aws = clients(&args.aws).await?;
        let mut printer = Printer {
            csv: args.csv,
            seen: HashSet::new(),
            max: args.max.unwrap_or(usize::MAX),
            local_paths,
        };
        let mut failed = match (&args.prefix, &args.queue_url) {
            (Some(p), _) => from_prefix(&aws.s3, p, &mut printer).await?,
            (None, Some(q)) => from_queue(&aws.sqs, q, &args, &mut printer).await?,
            (None, None) => unreachable!("clap requires one source"),
        };
        if let Some(dlq) = &args.dlq_url {
            failed |= from_dlq(&aws.sqs, dlq, &mut printer).await?;
        }
        eprintln!("{} result(s)", printer.seen.len());
        Ok(exit::finished(failed))
    })
}

struct Printer {
    csv: bool,
    seen: HashSet<String>,
    max: usize,
    /// job id → the local photo submitted (the submit manifest).
    local_paths: HashMap<String, String>,
}

/// What became of one result document handed to [`Printer::print`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printed {
    /// Printed now.
    Now,
    /// A second delivery of a job already printed (a standard queue is at-least-once).
    Before,
    /// Not printed: `--max` results were printed already. Must stay in the queue (never
    /// deleted, handed back at once).
    OverLimit,
    /// Not a result document (no JSON object with a `job_id`).
    NotAResult,
}

impl Printer {
    fn full(&self) -> bool {
        self.seen.len() >= self.max
    }

    /// Print a result document once per job id, while under `--max`.
    fn print(&mut self, body: &str) -> std::io::Result<Printed> {
        let Ok(mut doc) = serde_json::from_str::<Value>(body) else {
            return Ok(Printed::NotAResult);
        };
        let Some(id) = doc.get("job_id").and_then(Value::as_str) else {
            return Ok(Printed::NotAResult);
        };
        if self.seen.contains(id) {
            return Ok(Printed::Before);
        }
        if self.full() {
            return Ok(Printed::OverLimit);
        }
        let id = id.to_string();
        self.seen.insert(id.clone());
        let local = self.local_paths.get(&id).cloned();
        if let (Some(l), Some(obj)) = (&local, doc.as_object_mut()) {
            obj.insert("local_path".into(), json!(l));
        }
        let mut out = std::io::stdout().lock();
        if !self.csv {
            writeln!(out, "{doc}")?;
            return Ok(Printed::Now);
        }
        let shown = local.as_deref().or(doc["image"].as_str()).unwrap_or(&id);
        let image = crate::csv::field(shown);
        if let Some(code) = doc["error"]["code"].as_str() {
            writeln!(
                out,
                "{image},{}",
                crate::csv::field(&format!("dead_letter:{code}"))
            )?;
            return Ok(Printed::Now);
        }
        let faces = doc["faces"].as_array().cloned().unwrap_or_default();
        if faces.is_empty() {
            writeln!(out, "{image},no_persons_found")?;
        }
        for f in faces {
            let name = f["best_match"]["label"]
                .as_str()
                .unwrap_or("unknown_person");
            writeln!(out, "{image},{}", crate::csv::field(name))?;
        }
        Ok(Printed::Now)
    }
}

async fn from_prefix(
    s3: &aws_sdk_s3::Client,
    uri: &str,
    printer: &mut Printer,
) -> anyhow::Result<bool> {
    let prefix = S3Prefix::parse(uri).map_err(|e| anyhow::anyhow!("--prefix: {e}"))?;
    let list_prefix = if prefix.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", prefix.prefix)
    };
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&prefix.bucket)
        .prefix(&list_prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow::anyhow!("ListObjectsV2 {uri}: {}", chain(&e)))?;
        for o in page.contents() {
            if let Some(k) = o.key().filter(|k| k.ends_with(".json")) {
                keys.push(k.to_string());
            }
        }
    }
    keys.sort();
    let mut failed = false;
    for key in keys {
        if printer.full() {
            break;
        }
        let got = s3
            .get_object()
            .bucket(&prefix.bucket)
            .key(&key)
            .send()
            .await;
        let body = match got {
            Ok(o) => o.body.collect().await.map(|b| b.into_bytes()),
            Err(e) => {
                exit::report(format!("s3://{}/{key}: {}", prefix.bucket, chain(&e)));
                failed = true;
                continue;
            }
        };
        match body {
            Ok(bytes) => {
                if printer.print(&String::from_utf8_lossy(&bytes))? == Printed::NotAResult {
                    exit::report(format!(
                        "s3://{}/{key}: not a result document",
                        prefix.bucket
                    ));
                    failed = true;
                }
            }
            Err(e) => {
                exit::report(format!("s3://{}/{key}: {e}", prefix.bucket));
                failed = true;
            }
        }
    }
    Ok(failed)
}

async fn from_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    args: &Args,
    printer: &mut Printer,
) -> anyhow::Result<bool> {
    let idle_limit = Duration::from_secs(args.wait);
    let mut last_message = Instant::now();
    let mut failed = false;
    while !printer.full() && last_message.elapsed() <= idle_limit {
        let wait = idle_limit
            .saturating_sub(last_message.elapsed())
            .as_secs()
            .clamp(0, 20) as i32;
        // Never take more messages than may still be printed: the rest stay for others.
        let room = (printer.max - printer.seen.len()).clamp(1, 10) as i32;
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(room)
            .wait_time_seconds(wait)
            // Unless we delete them, results reappear for the next reader after this.
            .visibility_timeout(if args.keep { 0 } else { 30 })
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ReceiveMessage {url}: {}", chain(&e)))?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            if wait == 0 {
                break;
            }
            continue;
        }
        let seen_before = printer.seen.len();
        let mut consumed = Vec::new();
        let mut over_limit = Vec::new();
        for m in &messages {
            let printed = printer.print(m.body().unwrap_or_default())?;
            if printed == Printed::NotAResult {
                // Not ours to delete: report it and leave it in the queue.
                exit::report(format!(
                    "{url}: message {} is not a result document",
                    m.message_id().unwrap_or_default()
                ));
                failed = true;
            }
            if let Some(r) = m.receipt_handle() {
                match printed {
                    Printed::Now | Printed::Before => consumed.push(r.to_string()),
                    Printed::OverLimit => over_limit.push(r.to_string()),
                    // Hidden until its visibility timeout ends: handing it back now would
                    // make this very reader receive it again and again.
                    Printed::NotAResult => {}
                }
            }
        }
        // With --keep the same messages come back: only new results count as activity.
        if printer.seen.len() > seen_before {
            last_message = Instant::now();
        }
        if args.keep {
            continue;
        }
        for r in consumed {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(r)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("DeleteMessage {url}: {}", chain(&e)))?;
        }
        // Received but not printed (over --max): hand them back at once instead of hiding
        // them from the next reader for the visibility timeout.
        release(sqs, url, over_limit).await;
    }
    Ok(failed)
}

/// The dead-lettered jobs of `url`, each printed as `run` writes one:
/// `{"version": 1, "job_id", "image", "error": {"code", "detail"}}`. Nothing is deleted
/// (redriving or purging them is the operator's call): every message is received with a
/// visibility timeout, so one scan sees each once, and made visible again at the end.
async fn from_dlq(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    printer: &mut Printer,
) -> anyhow::Result<bool> {
    let mut receipts = Vec::new();
    let mut failed = false;
    while !printer.full() {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            // Long polling asks every SQS server, so an empty answer means empty.
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ReceiveMessage {url}: {}", chain(&e)))?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in &messages {
            receipts.extend(m.receipt_handle().map(str::to_string));
            let job: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap_or_default();
            let attr = |name: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
                    .map(str::to_string)
            };
            // The worker names its reason; a message moved by the queue's redrive policy
            // after maxReceiveCount deliveries (SQS Developer Guide, "Using dead-letter
            // queues in Amazon SQS") carries none.
            let (code, detail) = match attr(ATTR_REASON) {
                Some(code) => (code, attr(ATTR_DETAIL).unwrap_or_default()),
                None => (
                    "max_receive_count_exceeded".to_string(),
                    "moved by the queue's redrive policy".to_string(),
                ),
            };
            let line = json!({
                "version": 1,
                "job_id": job.get("job_id").cloned().unwrap_or(Value::Null),
                "image": job.get("image").cloned().unwrap_or(Value::Null),
                "error": {"code": code, "detail": detail},
            });
            if printer.print(&line.to_string())? == Printed::NotAResult {
                exit::report(format!(
                    "{url}: message {} is not a job",
                    m.message_id().unwrap_or_default()
                ));
            }
            // A dead-lettered job is a failed job, as in `run`.
            failed = true;
        }
    }
    release(sqs, url, receipts).await;
    Ok(failed)
}

/// Make received messages visible again at once (visibility 0), for the next reader.
async fn release(sqs: &aws_sdk_sqs::Client, url: &str, receipts: impl IntoIterator<Item = String>) {
    for r in receipts {
        if let Err(e) = sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(r)
            .visibility_timeout(0)
            .send()
            .await
        {
            // Harmless: the message reappears when its visibility timeout ends.
            eprintln!("WARNING: {url}: could not release a message: {}", chain(&e));
        }
    }
}
