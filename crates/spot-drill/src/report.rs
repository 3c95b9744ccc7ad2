//! What the drill measured, the invariants it holds the run to, and the summary table.
//! Times are seconds from the moment the victim's IMDS started answering with the notice.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::SystemTime;

use crate::drill_aws::QueueDepth;
use crate::drill_worker::RESULT_WORKER_PREFIX;
use crate::scenario::DrillOptions;

/// `to − from` in seconds, negative when `to` is earlier.
pub fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The interrupted worker.
#[derive(Debug, Clone)]
pub struct VictimReport {
    pub name: String,
    /// The notice followed a fresh receive (so the victim held unstarted jobs).
    pub fresh_batch_trigger: bool,
    pub notice_body: String,
    pub imds_polls: u64,
    /// Notice reads without the IMDSv2 token (must be 0).
    pub imds_unauthorized: u64,
    /// The worker's first read of the notice (its poll latency).
    pub notice_read_s: Option<f64>,
    pub shutdown_logged_s: Option<f64>,
    /// Unstarted jobs handed back with visibility 0.
    pub release_s: Option<f64>,
    pub released: u64,
    /// Running jobs cut short at the stop deadline (must be 0: jobs take seconds).
    pub released_while_running: u64,
    pub finished_before_notice: u64,
    /// Jobs that were running at the notice and finished before the worker left.
    pub finished_after_notice: u64,
    pub deadline_hit: bool,
    pub exit_s: Option<f64>,
    pub exit_ok: bool,
    /// When the simulated ECS SIGTERM went out, if the victim was still running.
    pub sigterm_sent_s: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct WorkerRow {
    pub name: String,
    pub victim: bool,
    pub executions: u64,
    pub results_stored: u64,
    /// Jobs this worker ran on their second (or later) delivery.
    pub redelivered_jobs_run: u64,
    pub exit_ok: bool,
}

/// One invariant and whether the run held it.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub detail: String,
    pub ok: bool,
}

#[derive(Debug, Clone)]
pub struct DrillReport {
    pub options: DrillOptions,
    /// Every job id sent.
    pub jobs: Vec<String>,
    pub victim: VictimReport,
    /// Jobs started on a second delivery, with the worker that ran them.
    pub redelivered: BTreeMap<String, String>,
    /// The last released job started by another worker.
    pub released_started_s: Option<f64>,
    /// The last released job's result stored.
    pub released_done_s: Option<f64>,
    /// Every result stored and the queue empty.
    pub all_done_s: Option<f64>,
    /// Stored result documents by the job id in their key.
    pub documents: BTreeMap<String, serde_json::Value>,
    /// Handler executions per job id, over all workers.
    pub executions: BTreeMap<String, u64>,
    /// "job succeeded" (result stored and message acknowledged) over all workers.
    pub success_count: u64,
    pub queue: QueueDepth,
    pub dlq: QueueDepth,
    pub workers: Vec<WorkerRow>,
}

fn opt_s(v: Option<f64>) -> String {
    v.map(|s| format!("+{s:.2} s"))
        .unwrap_or_else(|| "never".into())
}

impl DrillReport {
    pub fn budget_s(&self) -> f64 {
        self.options.budget.as_secs_f64()
    }

    /// Every invariant, held or not.
    pub fn checks(&self) -> Vec<Check> {
        let n = self.jobs.len();
        let sent: BTreeSet<&str> = self.jobs.iter().map(String::as_str).collect();
        let stored: BTreeSet<&str> = self.documents.keys().map(String::as_str).collect();
        let missing: Vec<&&str> = sent.difference(&stored).collect();
        let extra: Vec<&&str> = stored.difference(&sent).collect();
        let misfiled = self
            .documents
            .iter()
            .filter(|(id, d)| d["job_id"].as_str() != Some(id.as_str()))
            .count();
        let not_once: Vec<String> = self
            .jobs
            .iter()
            .filter_map(|id| {
                let c = self.executions.get(id).copied().unwrap_or(0);
                (c != 1).then(|| format!("{id}×{c}"))
            })
            .collect();
        let total_exec: u64 = self.executions.values().sum();
        let v = &self.victim;
        let budget = self.budget_s();
        let victim_result = format!("{RESULT_WORKER_PREFIX}{}", v.name);
        let released_run_by_victim = self
            .redelivered
            .keys()
            .filter(|id| {
                self.documents.get(*id).and_then(|d| d["worker"].as_str()) == Some(&victim_result)
            })
            .count();
        let within = |s: Option<f64>| s.is_some_and(|s| s <= budget);
        vec![
            Check {
                name: "results stored, once per job id",
                detail: format!(
                    "{} / {n} (missing {}, unexpected {}, under a wrong key {misfiled})",
                    stored.len(),
                    missing.len(),
                    extra.len()
                ),
                ok: missing.is_empty() && extra.is_empty() && misfiled == 0,
            },
            Check {
                name: "handler executions",
                detail: format!(
                    "{total_exec} for {n} jobs{}",
                    if not_once.is_empty() {
                        ", each exactly once".to_string()
                    } else {
                        format!(
                            "; not once: {}",
                            not_once
                                .iter()
                                .take(10)
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
                ok: not_once.is_empty() && total_exec == n as u64,
            },
            Check {
                name: "jobs acknowledged",
                detail: format!("{} \"job succeeded\" for {n} jobs", self.success_count),
                ok: self.success_count == n as u64,
            },
            Check {
                name: "jobs queue empty (visible/in flight/delayed)",
                detail: format!(
                    "{}/{}/{}",
                    self.queue.visible, self.queue.in_flight, self.queue.delayed
                ),
                ok: self.queue.total() == 0,
            },
            Check {
                name: "DLQ empty (visible/in flight/delayed)",
                detail: format!(
                    "{}/{}/{}",
                    self.dlq.visible, self.dlq.in_flight, self.dlq.delayed
                ),
                ok: self.dlq.total() == 0,
            },
            Check {
                name: "victim saw the notice (IMDSv2 token sent)",
                detail: format!(
                    "read at {}, {} polls, {} without token",
                    opt_s(v.notice_read_s),
                    v.imds_polls,
                    v.imds_unauthorized
                ),
                ok: v.shutdown_logged_s.is_some() && v.imds_unauthorized == 0,
            },
            Check {
                name: "victim released its unstarted jobs in budget",
                detail: if v.released == 0 {
                    "none: no unstarted job left when it read the notice".to_string()
                } else {
                    format!(
                        "{} at {} (budget {budget:.0} s)",
                        v.released,
                        opt_s(v.release_s)
                    )
                },
                ok: v.released == 0 || within(v.release_s),
            },
            Check {
                name: "victim finished its running jobs and exited 0 in budget",
                detail: format!(
                    "exit {} ({}), running jobs cut short {}",
                    opt_s(v.exit_s),
                    if v.exit_ok {
                        "status 0"
                    } else {
                        "FAILED/killed"
                    },
                    v.released_while_running
                ),
                ok: v.exit_ok
                    && within(v.exit_s)
                    && !v.deadline_hit
                    && v.released_while_running == 0,
            },
            Check {
                name: "released jobs redelivered once, run by others",
                detail: format!(
                    "{} released, {} redelivered, {released_run_by_victim} run by the victim",
                    v.released,
                    self.redelivered.len()
                ),
                ok: self.redelivered.len() as u64 == v.released && released_run_by_victim == 0,
            },
            Check {
                name: "all results stored and queue drained",
                detail: opt_s(self.all_done_s),
                ok: self.all_done_s.is_some(),
            },
            Check {
                name: "other workers stopped cleanly on SIGTERM",
                detail: format!(
                    "{}/{} exit 0",
                    self.workers
                        .iter()
                        .filter(|w| !w.victim && w.exit_ok)
                        .count(),
                    self.workers.len() - 1
                ),
                ok: self.workers.iter().all(|w| w.victim || w.exit_ok),
            },
        ]
    }

    /// The checks that failed; empty means the drill passed.
    pub fn violations(&self) -> Vec<Check> {
        self.checks().into_iter().filter(|c| !c.ok).collect()
    }
}

impl fmt::Display for DrillReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let v = &self.victim;
        writeln!(
            f,
            "Spot interruption drill: {} jobs, {} workers (parallelism {}, batch {}, visibility {} s), \
             jobs {:.1}–{:.1} s, Spot poll {:.1} s",
            self.jobs.len(),
            self.workers.len(),
            o.parallelism,
            o.batch_size,
            o.visibility_timeout,
            o.job_ms_min as f64 / 1000.0,
            o.job_ms_max as f64 / 1000.0,
            o.spot_poll.as_secs_f64()
        )?;
        writeln!(f)?;
        writeln!(f, "Victim {} — notice {}", v.name, v.notice_body)?;
        let row = |f: &mut fmt::Formatter<'_>, what: &str, when: String, more: String| {
            writeln!(f, "  {what:<46} {when:>10}  {more}")
        };
        row(
            f,
            "notice announced by IMDS",
            "0".into(),
            format!(
                "{} after the victim's latest receive",
                if v.fresh_batch_trigger {
                    "right"
                } else {
                    "not"
                }
            ),
        )?;
        row(
            f,
            "notice read by the worker",
            opt_s(v.notice_read_s),
            String::new(),
        )?;
        row(
            f,
            "shutdown started (receiving stopped)",
            opt_s(v.shutdown_logged_s),
            String::new(),
        )?;
        row(
            f,
            "unstarted jobs released (visibility 0)",
            opt_s(v.release_s),
            format!("{} jobs", v.released),
        )?;
        row(
            f,
            "jobs finished after the notice, before leaving",
            String::new(),
            format!(
                "{} jobs (and {} before the notice)",
                v.finished_after_notice, v.finished_before_notice
            ),
        )?;
        row(
            f,
            "worker exited",
            opt_s(v.exit_s),
            format!(
                "{}; budget {:.0} s",
                if v.exit_ok { "status 0" } else { "NOT cleanly" },
                self.budget_s()
            ),
        )?;
        let sigterm = if o.sigterm_after.is_zero() {
            "not simulated".to_string()
        } else {
            match v.sigterm_sent_s {
                Some(s) => format!("sent at +{s:.2} s: the worker was still running"),
                None => format!(
                    "due at +{:.0} s, not needed: the worker had left",
                    o.sigterm_after.as_secs_f64()
                ),
            }
        };
        row(f, "ECS SIGTERM", String::new(), sigterm)?;
        let mut by_worker: BTreeMap<&str, usize> = BTreeMap::new();
        for w in self.redelivered.values() {
            *by_worker.entry(w).or_default() += 1;
        }
        row(
            f,
            "released jobs started by the other workers",
            opt_s(self.released_started_s),
            String::new(),
        )?;
        let finished_by = if self.redelivered.is_empty() {
            "none released".to_string()
        } else {
            format!(
                "{} jobs ({})",
                self.redelivered.len(),
                by_worker
                    .iter()
                    .map(|(w, n)| format!("{w}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        row(
            f,
            "released jobs finished by the other workers",
            opt_s(self.released_done_s),
            finished_by,
        )?;
        row(
            f,
            "every result stored, queue empty",
            opt_s(self.all_done_s),
            String::new(),
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  {:<12} {:<7} {:>10} {:>8} {:>12} {:>5}",
            "worker", "role", "executions", "results", "redelivered", "exit"
        )?;
        for w in &self.workers {
            writeln!(
                f,
                "  {:<12} {:<7} {:>10} {:>8} {:>12} {:>5}",
                w.name,
                if w.victim { "victim" } else { "" },
                w.executions,
                w.results_stored,
                w.redelivered_jobs_run,
                if w.exit_ok { "0" } else { "FAIL" }
            )?;
        }
        writeln!(f)?;
        let checks = self.checks();
        for c in &checks {
            writeln!(
                f,
                "  [{}] {:<55} {}",
                if c.ok { " ok " } else { "FAIL" },
                c.name,
                c.detail
            )?;
        }
        let failed = checks.iter().filter(|c| !c.ok).count();
        writeln!(f)?;
        if failed == 0 {
            write!(
                f,
                "PASS: nothing lost, nothing run twice, released in budget"
            )
        } else {
            write!(f, "FAIL: {failed} invariant(s) violated")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that held every invariant: 3 jobs, the victim ran one and released one.
    fn passing() -> DrillReport {
        let jobs: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let doc = |id: &str, w: &str| serde_json::json!({"job_id": id, "worker": format!("{RESULT_WORKER_PREFIX}{w}")});
        DrillReport {
            options: DrillOptions::from_args(["--jobs", "3"]).unwrap(),
            victim: VictimReport {
                name: "v".into(),
                fresh_batch_trigger: true,
                notice_body: "{}".into(),
                imds_polls: 3,
                imds_unauthorized: 0,
                notice_read_s: Some(0.5),
                shutdown_logged_s: Some(0.5),
                release_s: Some(0.6),
                released: 1,
                released_while_running: 0,
                finished_before_notice: 0,
                finished_after_notice: 1,
                deadline_hit: false,
                exit_s: Some(3.0),
                exit_ok: true,
                sigterm_sent_s: None,
            },
            redelivered: [("c".to_string(), "o".to_string())].into(),
            released_started_s: Some(1.0),
            released_done_s: Some(4.0),
            all_done_s: Some(5.0),
            documents: [
                ("a".to_string(), doc("a", "v")),
                ("b".to_string(), doc("b", "o")),
                ("c".to_string(), doc("c", "o")),
            ]
            .into(),
            executions: jobs.iter().map(|j| (j.clone(), 1)).collect(),
            jobs,
            success_count: 3,
            queue: QueueDepth::default(),
            dlq: QueueDepth::default(),
            workers: vec![
                WorkerRow {
                    name: "v".into(),
                    victim: true,
                    executions: 1,
                    results_stored: 1,
                    redelivered_jobs_run: 0,
                    exit_ok: true,
                },
                WorkerRow {
                    name: "o".into(),
                    victim: false,
                    executions: 2,
                    results_stored: 2,
                    redelivered_jobs_run: 1,
                    exit_ok: true,
                },
            ],
        }
    }

    fn failed(r: &DrillReport) -> Vec<&'static str> {
        r.violations().into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn a_clean_run_passes_and_prints_its_numbers() {
        let r = passing();
        assert!(failed(&r).is_empty(), "{r}");
        let text = r.to_string();
        assert!(text.contains("+0.60 s  1 jobs"), "{text}");
        assert!(text.ends_with("PASS: nothing lost, nothing run twice, released in budget"));
    }

    #[test]
    fn each_kind_of_loss_or_duplicate_is_a_violation() {
        let mut r = passing();
        r.documents.remove("b");
        assert_eq!(failed(&r), ["results stored, once per job id"]);

        let mut r = passing();
        r.executions.insert("c".into(), 2);
        assert_eq!(failed(&r), ["handler executions"]);

        let mut r = passing();
        r.dlq.visible = 1;
        assert_eq!(failed(&r), ["DLQ empty (visible/in flight/delayed)"]);

        let mut r = passing();
        r.queue.in_flight = 1;
        assert_eq!(failed(&r), ["jobs queue empty (visible/in flight/delayed)"]);

        // A released job nobody picked up, or one redelivered for another reason.
        let mut r = passing();
        r.redelivered.clear();
        assert_eq!(
            failed(&r),
            ["released jobs redelivered once, run by others"]
        );
        assert!(r.to_string().contains("FAIL: 1 invariant(s) violated"));
    }

    #[test]
    fn releasing_or_leaving_after_the_budget_is_a_violation() {
        let mut r = passing();
        r.victim.release_s = Some(121.0);
        assert_eq!(failed(&r), ["victim released its unstarted jobs in budget"]);

        let mut r = passing();
        r.victim.exit_s = None; // killed: never exited by itself
        r.victim.exit_ok = false;
        assert_eq!(
            failed(&r),
            ["victim finished its running jobs and exited 0 in budget"]
        );

        let mut r = passing();
        r.victim.imds_unauthorized = 2;
        assert_eq!(failed(&r), ["victim saw the notice (IMDSv2 token sent)"]);
    }
}
