//! The section "When the scaler stops: the backstop": the prose of `backstop.md`, the
//! bound on a lone job, and the outage scenarios with and without the backstop.

use std::fmt::Write as _;

use crate::outages::{self, frozen_scale_in_bound, lone_job_bound, OutageRow};
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
    frozen(w, p, env);
}

/// The bound on scaling in a frozen fleet, and the simulated scenario against it.
fn frozen(w: &mut String, p: &ScalingParams, env: &Environment) {
    let bound = frozen_scale_in_bound(p);
    let s = outages::frozen_fleet(p);
    let back = s.outage.end.expect("the scenario's scaler comes back");
    let env = Environment {
        no_capacity: Vec::new(),
        random_no_capacity_minutes: 0,
        ..env.clone()
    };
    let o = outages::simulate(p, &env, &s, true);
    let frozen_at = o
        .samples
        .iter()
        .find(|x| x.t >= s.outage.start)
        .map_or(0, |x| x.instances);
    let before_back = o
        .samples
        .iter()
        .filter(|x| x.t >= s.outage.start && x.t < back)
        .map(|x| x.instances)
        .min()
        .unwrap_or(0);
    let measured =
        outages::seconds_to_no_instance(&o, back).map_or("never".to_string(), |v| format!("{v} s"));
    let _ = writeln!(
        w,
        "**Bound on scaling in a frozen fleet** (the scaler stopped with N tasks running): while \
         it is silent, nothing scales in and the backstop adds only up to `max_tasks`, so the \
         fleet keeps at most max(N, {max}) instances — max(N, {max}) × ${price} an hour — until \
         the scaler returns. From its return to an idle queue until no instance runs: the next \
         invocation (60 s), the rule's windows (max({lw}, {dw}) s), one cold start of grace when \
         arrivals were frequent ({c} s), the idle tasks stopping (`stop_timeout_seconds`, {st} s) \
         and one more poll to terminate the empty instances ({poll} s): **{bound} s**, plus 60 s \
         for each invocation missed meanwhile. Simulated (seed {seed}, the world above without \
         its no-capacity window, which would fall on this ten-minute trace's burst): {n} jobs at \
         once at 10 min; the scaler stops at {start} s with {frozen_at} instances and the burst \
         not yet drained; the fleet drains the burst and idles with {before_back} instances until the \
         scaler returns at {back} s; no instance runs **{measured}** after its return (minute \
         samples; the simulator stops an idle task at once, where ECS may take up to the stop \
         timeout) (`tests/backstop.rs`, `frozen_fleet_is_scaled_in_within_the_bound_once_the_scaler_returns`).\n",
        max = p.max_tasks,
        price = p.spot_price_per_hour,
        lw = p.scaler_load_window_seconds,
        dw = p.scaler_scale_down_window_seconds,
        c = p.cold_start_seconds,
        st = p.stop_timeout_seconds,
        poll = p.scaler_poll_seconds,
        seed = env.seed,
        n = s.trace.arrivals.len(),
        start = s.outage.start,
    );
}
