//! glibc's malloc told to keep one arena per core instead of eight.
//!
//! Each thread that allocates gets an arena of its own until there are `M_ARENA_MAX`,
//! 8 × the cores on 64-bit by default (mallopt(3)); past that, threads share them. An
//! arena keeps the pages it has freed for its next allocations. Jobs run on tokio's
//! blocking pool, whose threads come and go, so over a run the same job-sized buffers (a
//! decoded photo, the detector's pyramid) were left cached in many arenas: the worker
//! bench peaked at 263–343 MiB at parallelism 2 with about 70 MB live, and at one arena
//! per core at 170–200 MiB with the same throughput (docs/benchmarks.md, "Worker").
//!
//! An operator's own `MALLOC_ARENA_MAX` (or `GLIBC_TUNABLES=glibc.malloc.arena_max=…`)
//! wins. Elsewhere than glibc this does nothing.

/// What to set `M_ARENA_MAX` to, or `None` to leave glibc's setting: the operator's own
/// choice in the environment wins.
pub fn arena_limit(cores: usize, env: impl Fn(&str) -> Option<String>) -> Option<usize> {
    let tuned = env("GLIBC_TUNABLES").is_some_and(|t| t.contains("glibc.malloc.arena_max"));
    if env("MALLOC_ARENA_MAX").is_some() || tuned {
        return None;
    }
    Some(cores.max(1))
}

/// Limit glibc's arenas to one per core (see the module docs). Call it first thing in
/// `main`, before any thread exists: arenas already made stay. Returns the limit set.
pub fn limit_arenas_to_cores() -> Option<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limit = arena_limit(cores, |k| std::env::var(k).ok())?;
    set_arena_max(limit).then_some(limit)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // one FFI call; the workspace denies unsafe elsewhere
fn set_arena_max(limit: usize) -> bool {
    use std::ffi::c_int;
    // glibc's <malloc.h>.
    const M_ARENA_MAX: c_int = -8;
    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    let value = c_int::try_from(limit).unwrap_or(c_int::MAX);
    // SAFETY: mallopt only sets a malloc parameter; it returns 1 on success.
    unsafe { mallopt(M_ARENA_MAX, value) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_limit: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn one_arena_per_core_unless_the_operator_chose() {
        assert_eq!(arena_limit(4, env(&[])), Some(4));
        assert_eq!(arena_limit(0, env(&[])), Some(1));
        assert_eq!(arena_limit(4, env(&[("MALLOC_ARENA_MAX", "8")])), None);
        let tuned = [("GLIBC_TUNABLES", "glibc.malloc.arena_max=3")];
        assert_eq!(arena_limit(4, env(&tuned)), None);
        let other = [("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")];
        assert_eq!(arena_limit(4, env(&other)), Some(4));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_the_limit() {
        assert!(set_arena_max(2));
    }
}
