//! The container's CPU quota, read from its cgroup, so the default parallelism is the
//! CPUs the task may use rather than the instance's cores.
//!
//! On EC2 a task's `cpu` is a hard limit enforced with a CFS quota (docs/design.md,
//! "Task size"): a 2-vCPU task on an 8-vCPU instance that ran 8 jobs at once would
//! time-slice them on 2 CPUs, each job 4× slower and 4 images in memory instead of 1.
//!
//! cgroup v2: `cpu.max` is `QUOTA PERIOD` or `max PERIOD`; v1: `cpu.cfs_quota_us` (−1 for
//! none) and `cpu.cfs_period_us`, in the `cpu` (or `cpu,cpuacct`) controller directory or
//! the directory itself (a container's view). A fractional quota rounds up: 1.5 CPUs run
//! 2 jobs (a job also waits on S3 and SQS, so the half CPU is not wasted).
//!
//! Only the cgroup the container sees is read. Where the task-level limit sits on a
//! parent cgroup that a private cgroup namespace hides, set `FACEREC_PARALLELISM`; the
//! default deployment gives the task the whole instance, so nothing is hidden there.

use std::path::Path;

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// CPUs from a quota and a period (both in microseconds), rounded up; None for no quota.
pub fn cpus_from_quota(quota_us: i64, period_us: i64) -> Option<usize> {
    if quota_us <= 0 || period_us <= 0 {
        return None;
    }
    Some(((quota_us + period_us - 1) / period_us).max(1) as usize)
}

/// The CPU quota of the cgroup at `dir`, in whole CPUs (rounded up); None when the
/// cgroup has no quota or its files cannot be read.
pub fn cgroup_cpu_limit(dir: &Path) -> Option<usize> {
    if let Some(max) = read_trimmed(&dir.join("cpu.max")) {
        let mut parts = max.split_whitespace();
        let quota = parts.next()?;
        let period: i64 = parts.next().unwrap_or("100000").parse().ok()?;
        if quota == "max" {
            return None;
        }
        return cpus_from_quota(quota.parse().ok()?, period);
    }
    for base in [dir.join("cpu"), dir.join("cpu,cpuacct"), dir.to_path_buf()] {
        let Some(quota) = read_trimmed(&base.join("cpu.cfs_quota_us")) else {
            continue;
        };
        let period = read_trimmed(&base.join("cpu.cfs_period_us"))?;
        return cpus_from_quota(quota.parse().ok()?, period.parse().ok()?);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_rounds_up_to_whole_cpus() {
        assert_eq!(cpus_from_quota(200_000, 100_000), Some(2));
        assert_eq!(cpus_from_quota(150_000, 100_000), Some(2));
        assert_eq!(cpus_from_quota(50_000, 100_000), Some(1));
        assert_eq!(cpus_from_quota(800_000, 100_000), Some(8));
        assert_eq!(cpus_from_quota(-1, 100_000), None);
    }

    #[test]
    fn cgroup_v2_cpu_max() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cgroup_cpu_limit(dir.path()), None, "no files: no quota");
        std::fs::write(dir.path().join("cpu.max"), "max 100000\n").unwrap();
        assert_eq!(cgroup_cpu_limit(dir.path()), None);
        // What ECS sets for task cpu = 2048 (2 vCPUs).
        std::fs::write(dir.path().join("cpu.max"), "200000 100000\n").unwrap();
        assert_eq!(cgroup_cpu_limit(dir.path()), Some(2));
    }

    #[test]
    fn cgroup_v1_cfs_quota() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("cpu,cpuacct");
        std::fs::create_dir(&cpu).unwrap();
        std::fs::write(cpu.join("cpu.cfs_quota_us"), "-1\n").unwrap();
        std::fs::write(cpu.join("cpu.cfs_period_us"), "100000\n").unwrap();
        assert_eq!(cgroup_cpu_limit(dir.path()), None);
        std::fs::write(cpu.join("cpu.cfs_quota_us"), "300000\n").unwrap();
        assert_eq!(cgroup_cpu_limit(dir.path()), Some(3));
    }
}
