//! `cpu-map` at run time: pins the runtime's worker threads to their CPUs as
//! they start.
//!
//! tokio starts its worker threads while the runtime is built, before any
//! blocking-pool thread, so the n-th thread that starts is HAProxy's thread n.
//! Blocking-pool threads started later are not pinned. Each thread gets the
//! CPUs of its `cpu-map` set that the process may use (HAProxy binds to the
//! intersection with the process's own mapping); an empty intersection leaves
//! it unbound, with a warning at start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The CPU list each worker thread gets, by start order (index 0 = thread 1).
#[derive(Clone, Debug, Default)]
pub struct Pinning {
    per_thread: Vec<Option<Vec<usize>>>,
}

impl Pinning {
    /// Resolves `cpu-map` for `workers` threads against the CPUs this process
    /// may use; returns the plan and the warnings to print before serving.
    pub fn plan(cpu_map: &BTreeMap<u32, Vec<u32>>, workers: usize) -> (Pinning, Vec<String>) {
        let mut warnings = Vec::new();
        if cpu_map.is_empty() {
            return (Pinning::default(), warnings);
        }
        let allowed = allowed_cpus();
        if allowed.is_none() {
            warnings.push(
                "'cpu-map' is not applied: this system does not let portcullis pin threads (Linux only)"
                    .to_string(),
            );
            return (Pinning::default(), warnings);
        }
        let allowed = allowed.unwrap_or_default();
        let mut per_thread = Vec::with_capacity(workers);
        for thread in 1..=workers as u32 {
            let Some(cpus) = cpu_map.get(&thread) else {
                per_thread.push(None);
                continue;
            };
            let usable: Vec<usize> = cpus
                .iter()
                .map(|c| *c as usize)
                .filter(|c| allowed.contains(c))
                .collect();
            if usable.is_empty() {
                warnings.push(format!(
                    "'cpu-map': thread {thread} maps to CPUs {cpus:?}, none of which this process may use; it is left unbound"
                ));
                per_thread.push(None);
            } else {
                per_thread.push(Some(usable));
            }
        }
        (Pinning { per_thread }, warnings)
    }

    /// The hook for tokio's `on_thread_start`: pins the n-th started thread,
    /// and the count of threads started so far. tokio runs the hook for its
    /// blocking threads too: wait for the count to reach the number of
    /// workers (spawned when the runtime is built) before anything may start
    /// a blocking thread, so the first hooks are the workers'.
    pub fn hook(self) -> (impl Fn() + Send + Sync + 'static, Arc<AtomicUsize>) {
        let started = Arc::new(AtomicUsize::new(0));
        let count = started.clone();
        let hook = move || {
            let n = started.fetch_add(1, Ordering::Relaxed);
            if let Some(Some(cpus)) = self.per_thread.get(n)
                && let Err(e) = pin_current_thread(cpus)
            {
                tracing::warn!("cpu-map: cannot pin thread {}: {e}", n + 1);
            }
        };
        (hook, count)
    }
}

#[cfg(target_os = "linux")]
fn allowed_cpus() -> Option<Vec<usize>> {
    use nix::sched::{CpuSet, sched_getaffinity};
    use nix::unistd::Pid;
    let set = sched_getaffinity(Pid::from_raw(0)).ok()?;
    Some(
        (0..CpuSet::count())
            .filter(|c| set.is_set(*c).unwrap_or(false))
            .collect(),
    )
}

#[cfg(not(target_os = "linux"))]
fn allowed_cpus() -> Option<Vec<usize>> {
    None
}

#[cfg(target_os = "linux")]
fn pin_current_thread(cpus: &[usize]) -> nix::Result<()> {
    use nix::sched::{CpuSet, sched_setaffinity};
    use nix::unistd::Pid;
    let mut set = CpuSet::new();
    for c in cpus {
        set.set(*c)?;
    }
    // Pid 0 is the calling thread.
    sched_setaffinity(Pid::from_raw(0), &set)
}

#[cfg(not(target_os = "linux"))]
fn pin_current_thread(_cpus: &[usize]) -> Result<(), std::io::Error> {
    Ok(())
}
