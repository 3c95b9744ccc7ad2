//! `facerec status`: the fleet at a glance — the job queue (visible, in flight, delayed,
//! the age of its oldest job), the dead-letter queue, the ECS service's tasks and the Auto
//! Scaling group's instances.
//! Read-only: `sqs:GetQueueAttributes`, `ecs:DescribeServices`,
//! `autoscaling:DescribeAutoScalingGroups`, `cloudwatch:GetMetricData` (the producer policy
//! grants them).
//!
//! The oldest job's age comes from CloudWatch: `GetQueueAttributes` has no such attribute
//! (its `ApproximateNumberOf…` counts are all it reports about messages), and SQS publishes
//! the age only as the metric `ApproximateAgeOfOldestMessage` in `AWS/SQS`, per queue, at
//! one-minute intervals (SQS Developer Guide, "Available CloudWatch metrics for Amazon
//! SQS"). So it is the newest datapoint of the last [`AGE_WINDOW`], shown with its time; a
//! queue with no datapoint in that window shows none (that guide: SQS reports the age only
//! while the queue holds a message, and publishes metrics only for active queues). Without `cloudwatch:GetMetricData` (a producer policy from
//! before this command read it) the rest of the status is still shown, and the age's line
//! says why it is missing.

use crate::aws_clients::{chain, sdk_config};
use facerec_aws_support::sqs::queue_depth;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// How far back `status` looks for the oldest-message metric: SQS publishes it every
/// minute for an active queue, so 15 minutes leaves room for CloudWatch's delay.
const AGE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The fleet's job queue (`terraform output -raw jobs_queue_url`).
    #[arg(long, env = "QUEUE_URL", value_name = "URL")]
    pub queue_url: String,
    /// Its dead-letter queue [default: the job queue's URL + `-dlq`, Terraform's naming].
    #[arg(long, env = "DLQ_URL", value_name = "URL")]
    pub dlq_url: Option<String>,
    /// The deployment's `name` variable; the cluster, service and group are named after it.
    #[arg(long, env = "FACEREC_NAME", default_value = "facerec-worker")]
    pub name: String,
    /// ECS cluster [default: NAME-cluster].
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// ECS service [default: NAME-service].
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Auto Scaling group [default: NAME-asg].
    #[arg(long, value_name = "NAME")]
    pub asg: Option<String>,
    #[command(flatten)]
    pub aws: crate::aws_clients::AwsArgs,
    /// One JSON object instead of lines for people.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let status = rt.block_on(status(&args))?;
    if args.json {
        println!("{status}");
    } else {
        print!("{}", human(&status));
    }
    Ok(ExitCode::SUCCESS)
}

/// The DLQ Terraform creates beside `queue_url` (`<name>-jobs` → `<name>-jobs-dlq`).
fn default_dlq(queue_url: &str) -> String {
    match queue_url.strip_suffix(".fifo") {
        Some(base) => format!("{base}-dlq.fifo"),
        None => format!("{queue_url}-dlq"),
    }
}

async fn status(args: &Args) -> anyhow::Result<Value> {
    let sdk = sdk_config(&args.aws).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    let cluster = args
        .cluster
        .clone()
        .unwrap_or(format!("{}-cluster", args.name));
    let service = args
        .service
        .clone()
        .unwrap_or(format!("{}-service", args.name));
    let group = args.asg.clone().unwrap_or(format!("{}-asg", args.name));
    let dlq = args.dlq_url.clone().unwrap_or(default_dlq(&args.queue_url));

    let mut jobs = queue(&sqs, &args.queue_url).await?;
    jobs["oldest"] = oldest_age(&cloudwatch, &args.queue_url, SystemTime::now()).await;
    let dead = queue(&sqs, &dlq).await?;
    let svc = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("DescribeServices {cluster}/{service}: {}", chain(&e)))?;
    let Some(s) = svc.services().first() else {
        let why = svc
            .failures()
            .first()
            .and_then(|f| f.reason())
            .unwrap_or("not found");
        anyhow::bail!(
            "service {service} in cluster {cluster}: {why} (pass --cluster/--service or --name)"
        );
    };
    let groups = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("DescribeAutoScalingGroups {group}: {}", chain(&e)))?;
    let Some(g) = groups.auto_scaling_groups().first() else {
        anyhow::bail!("Auto Scaling group {group}: not found (pass --asg or --name)");
    };
    let instances: Vec<Value> = g
        .instances()
        .iter()
        .map(|i| {
            json!({
                "id": i.instance_id(),
                "state": i.lifecycle_state().map(|s| s.as_str()),
                "health": i.health_status(),
                "zone": i.availability_zone(),
                "type": i.instance_type(),
                "protected_from_scale_in": i.protected_from_scale_in(),
            })
        })
        .collect();
    Ok(json!({
        "queue": jobs,
        "dlq": dead,
        "service": {
            "cluster": cluster,
            "name": service,
            "status": s.status(),
            "desired": s.desired_count(),
            "running": s.running_count(),
            "pending": s.pending_count(),
        },
        "group": {
            "name": group,
            "desired": g.desired_capacity(),
            "min": g.min_size(),
            "max": g.max_size(),
            "instances": instances,
        },
    }))
}

/// The queue's approximate counts (SQS's own word: they are eventually consistent).
async fn queue(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<Value> {
    let depth = queue_depth(sqs, url)
        .await
        .map_err(|e| anyhow::anyhow!("GetQueueAttributes {url}: {}", e.detail()))?;
    Ok(json!({
        "url": url,
        "visible": depth.visible,
        "in_flight": depth.in_flight,
        "delayed": depth.delayed,
    }))
}

/// The queue's name, the `QueueName` dimension of its SQS metrics (the URL's last segment).
fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The newest `ApproximateAgeOfOldestMessage` datapoint of the queue within [`AGE_WINDOW`]
/// before `now`: `{"seconds": …, "at": unix seconds}`, or `{"seconds": null, "why": …}`
/// when there is none or CloudWatch cannot be read (the rest of the status still stands).
async fn oldest_age(cw: &aws_sdk_cloudwatch::Client, url: &str, now: SystemTime) -> Value {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
    let name = queue_name(url);
    let metric = Metric::builder()
        .namespace("AWS/SQS")
        .metric_name("ApproximateAgeOfOldestMessage")
        .dimensions(Dimension::builder().name("QueueName").value(name).build())
        .build();
    let query = MetricDataQuery::builder()
        .id("oldest")
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat("Maximum")
                .build(),
        )
        .return_data(true)
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from(now - AGE_WINDOW))
        .end_time(DateTime::from(now))
        .scan_by(ScanBy::TimestampDescending)
        .send()
        .await;
    let why = |w: String| json!({ "seconds": null, "why": w });
    let out = match out {
        Ok(out) => out,
        Err(e) => return why(format!("GetMetricData: {}", chain(&e))),
    };
    let newest = out.metric_data_results().iter().find_map(|r| {
        // Newest first (ScanBy::TimestampDescending), but do not rely on the order.
        r.timestamps()
            .iter()
            .zip(r.values())
            .max_by_key(|(t, _)| t.secs())
            .map(|(t, v)| (t.secs(), *v))
    });
    match newest {
        Some((at, seconds)) => json!({ "seconds": seconds, "at": at }),
        None => why(format!(
            "no AWS/SQS ApproximateAgeOfOldestMessage datapoint for {name} in the last {} min",
            AGE_WINDOW.as_secs() / 60
        )),
    }
}

/// The oldest job's line for people: its age and how long ago CloudWatch measured it.
fn oldest_line(oldest: &Value, now_secs: i64) -> String {
    match (oldest["seconds"].as_f64(), oldest["at"].as_i64()) {
        (Some(age), Some(at)) => format!(
            "oldest   {} (CloudWatch, {} ago)",
            duration(age),
            duration((now_secs - at).max(0) as f64)
        ),
        _ => format!(
            "oldest   unknown: {}",
            oldest["why"].as_str().unwrap_or("no datapoint")
        ),
    }
}

/// `42 s`, `3 min 5 s`, `2 h 10 min`.
fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// The lines for people.
fn human(s: &Value) -> String {
    let q = &s["queue"];
    let (svc, g) = (&s["service"], &s["group"]);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut out = format!(
        "queue    {} visible, {} in flight, {} delayed  ({})\n\
         {}\n\
         dlq      {} message(s)  ({})\n\
         service  {}/{}: {} desired, {} running, {} pending ({})\n\
         group    {}: {} desired (min {}, max {}), {} instance(s)\n",
        q["visible"],
        q["in_flight"],
        q["delayed"],
        q["url"].as_str().unwrap_or(""),
        oldest_line(&q["oldest"], now),
        s["dlq"]["visible"].as_u64().unwrap_or(0) + s["dlq"]["in_flight"].as_u64().unwrap_or(0),
        s["dlq"]["url"].as_str().unwrap_or(""),
        svc["cluster"].as_str().unwrap_or(""),
        svc["name"].as_str().unwrap_or(""),
        svc["desired"],
        svc["running"],
        svc["pending"],
        svc["status"].as_str().unwrap_or("?"),
        g["name"].as_str().unwrap_or(""),
        g["desired"],
        g["min"],
        g["max"],
        g["instances"].as_array().map_or(0, Vec::len),
    );
    for i in g["instances"].as_array().into_iter().flatten() {
        let str_of = |k: &str| i[k].as_str().unwrap_or("?").to_string();
        out.push_str(&format!(
            "  {}  {}  {}  {}  {}{}\n",
            str_of("id"),
            str_of("type"),
            str_of("zone"),
            str_of("state"),
            str_of("health"),
            if i["protected_from_scale_in"] == true {
                "  protected"
            } else {
                ""
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dlq_is_named_as_terraform_names_it() {
        assert_eq!(
            default_dlq("https://sqs.eu-west-1.amazonaws.com/1/facerec-worker-jobs"),
            "https://sqs.eu-west-1.amazonaws.com/1/facerec-worker-jobs-dlq"
        );
        assert_eq!(
            default_dlq("https://q/1/a-jobs.fifo"),
            "https://q/1/a-jobs-dlq.fifo"
        );
    }

    #[test]
    fn the_metric_dimension_is_the_queue_name() {
        assert_eq!(
            queue_name("https://sqs.eu-west-1.amazonaws.com/1/facerec-worker-jobs"),
            "facerec-worker-jobs"
        );
        assert_eq!(queue_name("http://127.0.0.1:5000/1/q.fifo/"), "q.fifo");
    }

    #[test]
    fn the_oldest_line_says_the_age_or_why_there_is_none() {
        let at = json!({ "seconds": 185.0, "at": 1_000 });
        assert_eq!(
            oldest_line(&at, 1_042),
            "oldest   3 min 5 s (CloudWatch, 42 s ago)"
        );
        assert_eq!(duration(7_800.0), "2 h 10 min");
        let none = json!({ "seconds": null, "why": "no datapoint for q" });
        assert_eq!(
            oldest_line(&none, 0),
            "oldest   unknown: no datapoint for q"
        );
    }
}
