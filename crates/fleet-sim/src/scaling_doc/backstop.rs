//! The section "When the scaler stops: the backstop": the prose of `backstop.md`, the
//! bound on a lone job, and the outage scenarios with and without the backstop.

use std::fmt::Write as _;

use crate::outages::{self, lone_job_bound, OutageRow};
use crate::params::{Environment, ScalingParams};

fn secs(v: Option<u64>) -> String {
    v.map_or("never".to_string(), |s| format!("{s} s"))
}

fn cells(r: &OutageRow) -> String {
    format!(
        "{} of {} | {} | {} | {:.2} | {}",
        r.done,
        r.jobs,
        secs(r.wait_p95),
        secs(r.wait_max),
        r.instance_hours,
        r.instances_at_end
    )
}

pub fn render(w: &mut String, p: &ScalingParams, env: &Environment) {
    let _ = writeln!(w, "{}", include_str!("backstop.md"));
    let bound = lone_job_bound(p, env);
    let silent = crate::backstop::SILENT_MINUTES as u64 * 60;
    let _ = writeln!(
        w,
        "**Bound on a lone job with the scaler dead**: the tasks alarm needs {} datapoints with \
         the job visible ({silent} s, the first minute closing within 60 s of the job) and the \
         CloudWatch delay ({} s); the instances alarm one more datapoint and the delay (60 + {} s); \
         then the longest cold start ({} s): {} s, plus `acceptable_latency_seconds` ({:.0} s) as the issue \
         allows: **{bound} s**. (A queue idle for six hours may publish its metrics up to 15 minutes \
         late on waking, which would add to this; see \"CloudWatch delay\" above.)\n",
        crate::backstop::SILENT_MINUTES,
        env.metric_delay_seconds,
        env.metric_delay_seconds,
        env.cold_start_max_seconds(),
        bound - p.acceptable_latency_seconds as u64,
        p.acceptable_latency_seconds,
    );
    let _ = writeln!(
        w,
        "The deployed design (seed {}) with the scaler silent, over **all** jobs (cold starts \
         included); \"at end\": instances still running when the run ends, one hour after the \
         last arrival.\n",
        env.seed
    );
    let _ = writeln!(
        w,
        "| scenario | backstop | done | p95 wait | max wait | instance-hours | at end |"
    );
    let _ = writeln!(w, "|---|---|---:|---:|---:|---:|---:|");
    for s in outages::scenarios(p, env.seed) {
        for (label, on) in [("yes", true), ("no", false)] {
            let r = outages::run(p, env, &s, on);
            let _ = writeln!(w, "| {} | {label} | {} |", s.name, cells(&r));
        }
    }
    let _ = writeln!(w);
}
