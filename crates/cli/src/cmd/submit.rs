//! `facerec submit --queue-url URL IMAGES…`: send one v1 job per image to the fleet's SQS
//! queue. Local photos (or folders of them) are uploaded first with `--upload-to
//! s3://bucket/prefix` (the fleet reads images from S3); `s3://` images are sent as they
//! are. A local gallery file is uploaded beside them (or inlined when no upload prefix is
//! given and it fits in a message). Prints `job_id,image` per job.
//!
//! Job ids come from the path and content, as in `run`; on a FIFO queue they are also the
//! deduplication ids, and the worker's result store is keyed by them, so submitting the
//! same photos twice never yields a second result.

use crate::aws_clients::{chain, clients};
use crate::{exit, gallery_file, inputs};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use facerec_job::{GalleryEntry, GallerySpec, JobOptions, JobV1};
use facerec_worker_runtime::results::S3Prefix;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Stay well under SQS's 256 KiB message limit when inlining a gallery.
const MAX_INLINE_GALLERY_BYTES: usize = 200 * 1024;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The fleet's job queue.
    #[arg(long, env = "QUEUE_URL", value_name = "URL")]
    pub queue_url: String,
    #[command(flatten)]
    pub aws: crate::aws_clients::AwsArgs,
    /// Upload local photos (and the gallery) under this S3 prefix.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub upload_to: Option<String>,
    /// Gallery: a file from `facerec enroll`, or an s3:// URI of one.
    #[arg(long, value_name = "GALLERY")]
    pub gallery: Option<String>,
    /// A face matches a gallery entry when their distance is at most this.
    #[arg(long, default_value_t = 0.6)]
    pub tolerance: f32,
    /// Times to upsample before detecting.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=4))]
    pub upsample: u32,
    /// Append `job_id`, `image` and `local_path` of each local photo sent here, for
    /// `facerec results` to name results by the submitted path.
    #[arg(long, env = "FACEREC_MANIFEST", default_value = crate::submitted::DEFAULT_MANIFEST, value_name = "FILE")]
    pub manifest: PathBuf,
    /// Photos, folders of photos, or s3://bucket/key URIs.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(submit(args))
}

fn upload_key(prefix: &S3Prefix, rest: &str) -> String {
    if prefix.prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{}/{rest}", prefix.prefix)
    }
}

async fn put(
    s3: &aws_sdk_s3::Client,
    prefix: &S3Prefix,
    rest: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<String> {
    let key = upload_key(prefix, rest);
    s3.put_object()
        .bucket(&prefix.bucket)
        .key(&key)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("PutObject s3://{}/{key}: {}", prefix.bucket, chain(&e)))?;
    Ok(format!("s3://{}/{key}", prefix.bucket))
}

/// JPEG or PNG by magic bytes: a worker would dead-letter anything else, so refuse it here.
fn looks_like_an_image(bytes: &[u8]) -> bool {
    facerec_engine::sniff_format(bytes).is_some()
}

/// The job queue answers before anything is uploaded: a wrong URL, region or endpoint,
/// an unreachable network or a missing grant is one line, not one per photo after every
/// upload. (`sqs:GetQueueAttributes` is in the producer policy for this; the upload
/// prefix cannot be checked without `s3:ListBucket`, so uploads stop at the first
/// failure instead.)
async fn preflight(aws: &crate::aws_clients::Clients, queue_url: &str) -> anyhow::Result<()> {
    aws.sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!("{queue_url}: the job queue does not answer: {}", chain(&e))
        })?;
    Ok(())
}

async fn submit(args: Args) -> anyhow::Result<ExitCode> {
    let upload = args
        .upload_to
        .as_deref()
        .map(S3Prefix::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--upload-to: {e}"))?;
    let (s3_images, local): (Vec<String>, Vec<PathBuf>) = {
        let (s3, local): (Vec<&String>, Vec<&String>) =
            args.images.iter().partition(|i| i.starts_with("s3://"));
        (
            s3.into_iter().cloned().collect(),
            local.into_iter().map(PathBuf::from).collect(),
        )
    };
    if !local.is_empty() && upload.is_none() {
        anyhow::bail!(
            "local photos need --upload-to s3://bucket/prefix (the fleet reads images from S3)"
        );
    }
    let expanded = inputs::expand(&local);
    let mut failed = expanded.report();
    let local_images = expanded.images;
    let aws = clients(&args.aws).await?;
    preflight(&aws, &args.queue_url).await?;

    let gallery: Option<GallerySpec> = match &args.gallery {
        None => None,
        Some(uri) if uri.starts_with("s3://") => Some(GallerySpec::Uri(uri.clone())),
        Some(file) => {
            let path = Path::new(file);
            let entries = gallery_file::read(path)?;
            let bytes = std::fs::read(path)?;
            match &upload {
                Some(prefix) => {
                    let hash: String = Sha256::digest(&bytes)
                        .iter()
                        .take(8)
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    Some(GallerySpec::Uri(
                        put(&aws.s3, prefix, &format!("galleries/{hash}.json"), bytes).await?,
                    ))
                }
                None => {
                    // Each job carries the gallery: labels and embeddings only.
                    let inline = GallerySpec::Inline(
                        entries
                            .into_iter()
                            .map(|e| GalleryEntry { source: None, ..e })
                            .collect(),
                    );
                    if serde_json::to_string(&inline)?.len() > MAX_INLINE_GALLERY_BYTES {
                        anyhow::bail!(
                            "{file}: gallery too large to send inside each job; pass --upload-to s3://bucket/prefix"
                        );
                    }
                    Some(inline)
                }
            }
        }
    };

    // (job id, image URI, the local photo uploaded)
    let mut jobs: Vec<(String, String, Option<PathBuf>)> = s3_images
        .iter()
        .map(|uri| (inputs::job_id(Path::new(uri), b""), uri.clone(), None))
        .collect();
    for (i, path) in local_images.iter().enumerate() {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                exit::report(format!("{}: cannot read: {e}", path.display()));
                failed = true;
                continue;
            }
        };
        if !looks_like_an_image(&bytes) {
            exit::report(format!(
                "{}: not an image facerec reads (JPEG, PNG, WebP, GIF, BMP, TIFF)",
                path.display()
            ));
            failed = true;
            continue;
        }
        let abs = std::fs::canonicalize(path)?;
        let id = inputs::job_id(&abs, &bytes);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let prefix = upload.as_ref().expect("checked above");
        match put(&aws.s3, prefix, &format!("{id}/{name}"), bytes).await {
            Ok(uri) => jobs.push((id, uri, Some(abs))),
            Err(e) => {
                // What fails one upload (a missing bucket, a denied grant, the network)
                // fails the next ones too: one line, and nothing more is uploaded. The
                // photos uploaded so far are still sent.
                exit::report(format!(
                    "{}: not uploaded: {e:#}; stopped uploading ({} more photo(s) not submitted)",
                    path.display(),
                    local_images.len() - i - 1
                ));
                failed = true;
                break;
            }
        }
    }

    let fifo = args.queue_url.ends_with(".fifo");
    let options = JobOptions {
        tolerance: args.tolerance,
        upsample: args.upsample,
        ..JobOptions::default()
    };
    let (mut sent, mut out_failed) = (0, 0);
    for chunk in jobs.chunks(10) {
        let mut entries = Vec::new();
        for (i, (id, image, _)) in chunk.iter().enumerate() {
            let mut job = JobV1::builder(id, image).options(options.clone());
            if let Some(g) = &gallery {
                job = job.gallery(g.clone());
            }
            let body = match job.build() {
                Ok(job) => job.to_body(),
                Err(e) => {
                    exit::report(format!("{image}: not sent: {}", e.detail));
                    failed = true;
                    continue;
                }
            };
            let mut e = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body);
            if fifo {
                e = e.message_group_id(id).message_deduplication_id(id);
            }
            entries.push(e.build().expect("id and body are set"));
        }
        if entries.is_empty() {
            continue;
        }
        let out = match aws
            .sqs
            .send_message_batch()
            .queue_url(&args.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                // The whole call failed although the queue answered the preflight: what
                // broke it breaks the next calls too. One line; a rerun sends the rest
                // (same job ids, so nothing is recognised twice).
                exit::report(format!(
                    "SendMessageBatch to {}: {}; stopped ({} job(s) not sent; run the same command again)",
                    args.queue_url,
                    chain(&e),
                    jobs.len() - sent - out_failed
                ));
                failed = true;
                break;
            }
        };
        out_failed += out.failed.len();
        for f in &out.failed {
            let i: usize = f.id.parse().unwrap_or(0);
            exit::report(format!(
                "{}: not sent: {} {}",
                chunk[i].1,
                f.code,
                f.message.clone().unwrap_or_default()
            ));
            failed = true;
        }
        let mut local_sent = Vec::new();
        for ok in &out.successful {
            let i: usize = ok.id.parse().unwrap_or(0);
            if let (id, image, Some(local)) = &chunk[i] {
                local_sent.push((id.clone(), image.clone(), local.clone()));
            }
            println!(
                "{},{}",
                crate::csv::field(&chunk[i].0),
                crate::csv::field(&chunk[i].1)
            );
            sent += 1;
        }
        if let Err(e) = crate::submitted::append(&args.manifest, &local_sent) {
            // The jobs are sent; only the way back to their local paths is lost.
            exit::report(format!("{e:#} (results will name these jobs by S3 URI)"));
            failed = true;
        }
    }
    eprintln!("submitted {sent} job(s) to {}", args.queue_url);
    Ok(exit::finished(failed))
}
