//! Memory back-pressure from the container's cgroup.
//!
//! Before each receive the runtime asks [`MemoryGate::over_threshold`]; while the
//! container's memory use is above `FACE_RECOGNITION_MEMORY_THRESHOLD` of its limit it
//! stops receiving (jobs in progress continue), so a burst of large images slows the worker
//! down instead of getting it OOM-killed with messages in flight.
//!
//! "Use" is the working set, as kubelet and `docker stats` count it: the cgroup's charge
//! minus its inactive file cache (`inactive_file` in `memory.stat`). The raw charge
//! includes page cache the kernel drops under pressure — images read and models mapped —
//! so gating on it could stop receiving for good with no job running.
//!
//! cgroup v2 (`memory.current` − `inactive_file`, against `memory.max`) first, then v1
//! (`memory.usage_in_bytes` − `total_inactive_file`, against `memory.limit_in_bytes`); an
//! unlimited cgroup is measured against the host's `MemTotal`.

use std::path::{Path, PathBuf};

pub const DEFAULT_CGROUP_DIR: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone)]
pub struct MemoryGate {
    dir: PathBuf,
    threshold: f64,
}

/// One reading of the container's memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryReading {
    pub used_bytes: u64,
    pub limit_bytes: u64,
}

impl MemoryReading {
    pub fn fraction(&self) -> f64 {
        self.used_bytes as f64 / self.limit_bytes.max(1) as f64
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// One `key value` line of a cgroup `memory.stat`; 0 when absent (nothing to subtract).
fn stat_value(path: &Path, key: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

fn host_mem_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl MemoryGate {
    pub fn new(dir: impl Into<PathBuf>, threshold: f64) -> Self {
        Self {
            dir: dir.into(),
            threshold,
        }
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The container's memory limit (cgroup limit, or host memory when unlimited).
    pub fn limit_bytes(&self) -> Option<u64> {
        self.read().map(|r| r.limit_bytes).or_else(host_mem_total)
    }

    pub fn read(&self) -> Option<MemoryReading> {
        let (used, limit) = if self.dir.join("memory.current").exists() {
            let charged = read_u64(&self.dir.join("memory.current"))?;
            let inactive = stat_value(&self.dir.join("memory.stat"), "inactive_file");
            // "max" (unlimited) does not parse as a number.
            (
                charged.saturating_sub(inactive),
                read_u64(&self.dir.join("memory.max")),
            )
        } else {
            // v1: the memory controller's own directory, or the container's view of it.
            let base = if self.dir.join("memory/memory.usage_in_bytes").exists() {
                self.dir.join("memory")
            } else {
                self.dir.clone()
            };
            let charged = read_u64(&base.join("memory.usage_in_bytes"))?;
            let inactive = stat_value(&base.join("memory.stat"), "total_inactive_file");
            let limit = read_u64(&base.join("memory.limit_in_bytes"));
            (charged.saturating_sub(inactive), limit)
        };
        // v1 reports "unlimited" as a huge number; treat anything past the host as none.
        let host = host_mem_total();
        let limit = match (limit, host) {
            (Some(l), Some(h)) if l > h => Some(h),
            (Some(l), _) => Some(l),
            (None, h) => h,
        }?;
        Some(MemoryReading {
            used_bytes: used,
            limit_bytes: limit,
        })
    }

    /// `Some(reading)` when receiving should pause. Unreadable cgroup files never gate.
    pub fn over_threshold(&self) -> Option<MemoryReading> {
        self.read().filter(|r| r.fraction() > self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_v2_files_gate_above_threshold() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.max"), "1000\n").unwrap();
        std::fs::write(dir.path().join("memory.current"), "700\n").unwrap();
        let gate = MemoryGate::new(dir.path(), 0.8);
        assert!(gate.over_threshold().is_none());
        std::fs::write(dir.path().join("memory.current"), "900\n").unwrap();
        let r = gate.over_threshold().expect("90% is over 80%");
        assert_eq!(r.used_bytes, 900);
        assert_eq!(gate.limit_bytes(), Some(1000));
    }

    #[test]
    fn page_cache_does_not_count_as_use() {
        // v2: 950 charged, of which 400 inactive file cache → working set 550 of 1000.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.max"), "1000\n").unwrap();
        std::fs::write(dir.path().join("memory.current"), "950\n").unwrap();
        std::fs::write(
            dir.path().join("memory.stat"),
            "anon 500\nfile 450\nactive_file 50\ninactive_file 400\n",
        )
        .unwrap();
        let gate = MemoryGate::new(dir.path(), 0.8);
        assert_eq!(gate.read().unwrap().used_bytes, 550);
        assert!(gate.over_threshold().is_none(), "cache alone never gates");
        // The cache turns into anonymous memory: now it is real use.
        std::fs::write(
            dir.path().join("memory.stat"),
            "anon 900\nfile 50\ninactive_file 10\n",
        )
        .unwrap();
        assert_eq!(gate.over_threshold().unwrap().used_bytes, 940);

        // v1 (controller directory under the given root): total_inactive_file.
        let v1 = tempfile::tempdir().unwrap();
        let mem = v1.path().join("memory");
        std::fs::create_dir(&mem).unwrap();
        std::fs::write(mem.join("memory.limit_in_bytes"), "1000\n").unwrap();
        std::fs::write(mem.join("memory.usage_in_bytes"), "990\n").unwrap();
        std::fs::write(
            mem.join("memory.stat"),
            "cache 600\ninactive_file 7\ntotal_inactive_file 500\n",
        )
        .unwrap();
        let gate = MemoryGate::new(v1.path(), 0.8);
        assert_eq!(gate.read().unwrap().used_bytes, 490);
        assert_eq!(gate.limit_bytes(), Some(1000));
        assert!(gate.over_threshold().is_none());
    }

    #[test]
    fn unreadable_cgroup_never_gates() {
        let gate = MemoryGate::new("/nonexistent/cgroup", 0.1);
        assert!(gate.over_threshold().is_none());
    }
}
