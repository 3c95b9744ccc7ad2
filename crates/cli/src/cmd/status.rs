//! `facerec status`: the fleet at a glance — the job queue (visible, in flight, delayed),
//! the dead-letter queue, the ECS service's tasks and the Auto Scaling group's instances.
//! Read-only: `sqs:GetQueueAttributes`, `ecs:DescribeServices`,
//! `autoscaling:DescribeAutoScalingGroups` (the producer policy grants them).
//!
//! The age of the oldest job is not shown: `GetQueueAttributes` has no such attribute
//! (its `ApproximateNumberOf…` counts are all it reports about messages), and SQS
//! publishes the age only as the CloudWatch metric `ApproximateAgeOfOldestMessage`
//! (SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS"), which would take
//! the CloudWatch SDK and `cloudwatch:GetMetricData` (no resource-level permissions);
//! the deployment's dashboard and its oldest-job alarm show it (docs/operations.md).

use crate::aws_clients::{chain, sdk_config};
use aws_sdk_sqs::types::QueueAttributeName as Attr;
use serde_json::{json, Value};
use std::process::ExitCode;

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

    let jobs = queue(&sqs, &args.queue_url).await?;
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
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Attr::ApproximateNumberOfMessages)
        .attribute_names(Attr::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(Attr::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GetQueueAttributes {url}: {}", chain(&e)))?;
    let attrs = out.attributes();
    let n = |a: Attr| -> Value {
        attrs
            .and_then(|m| m.get(&a))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Value::Null, Value::from)
    };
    Ok(json!({
        "url": url,
        "visible": n(Attr::ApproximateNumberOfMessages),
        "in_flight": n(Attr::ApproximateNumberOfMessagesNotVisible),
        "delayed": n(Attr::ApproximateNumberOfMessagesDelayed),
    }))
}

/// The lines for people.
fn human(s: &Value) -> String {
    let q = &s["queue"];
    let (svc, g) = (&s["service"], &s["group"]);
    let mut out = format!(
        "queue    {} visible, {} in flight, {} delayed  ({})\n\
         dlq      {} message(s)  ({})\n\
         service  {}/{}: {} desired, {} running, {} pending ({})\n\
         group    {}: {} desired (min {}, max {}), {} instance(s)\n",
        q["visible"],
        q["in_flight"],
        q["delayed"],
        q["url"].as_str().unwrap_or(""),
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
}
