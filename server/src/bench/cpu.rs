//! Where the machine's CPU went during a load run: this process (the sandbox, the load generator
//! and the shop unless it runs apart), the shop's process, the MariaDB servers and Redis, read from
//! Linux's `/proc` before and after.
//! On a machine without `/proc` the figures are simply absent.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Clock ticks a second in `/proc/*/stat` (`USER_HZ`, 100 on every Linux architecture Surge runs on).
const TICKS_PER_S: f64 = 100.0;

/// The processes a load run's CPU is told apart by (their `comm`), besides this one.
const OTHERS: [&str; 2] = ["mariadbd", "redis-server"];

/// CPU seconds used so far, per kind of process, and when they were read.
pub struct CpuReading {
    at: Instant,
    seconds: BTreeMap<&'static str, f64>,
}

/// User + system CPU seconds of one process, from its `stat` file.
fn cpu_of(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces: the fields after its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_S)
}

impl CpuReading {
    /// Reads every process's CPU time now; `shop` is the shop's process when it is not this one.
    pub fn now(shop: Option<u32>) -> Self {
        let mut seconds = BTreeMap::new();
        let of_pid = |pid: &str| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .as_deref()
                .and_then(cpu_of)
        };
        let own = match shop {
            Some(_) => "this process (sandbox, load generator)",
            None => "this process (shop, sandbox, load generator)",
        };
        if let Some(used) = of_pid("self") {
            seconds.insert(own, used);
        }
        if let Some(used) = shop.and_then(|pid| of_pid(&pid.to_string())) {
            seconds.insert("the shop (surge serve)", used);
        }
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
                continue;
            };
            let Some(kind) = OTHERS.iter().find(|kind| **kind == comm.trim()) else {
                continue;
            };
            let pid = entry.file_name();
            if let Some(used) = of_pid(&pid.to_string_lossy()) {
                *seconds.entry(*kind).or_default() += used;
            }
        }
        CpuReading {
            at: Instant::now(),
            seconds,
        }
    }

    /// What each kind used since `earlier`, in cores (CPU seconds a second), busiest first, with
    /// the machine's share left idle.
    pub fn since(&self, earlier: &CpuReading) -> String {
        let wall = self
            .at
            .duration_since(earlier.at)
            .max(Duration::from_millis(1));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let mut used: Vec<(&str, f64)> = self
            .seconds
            .iter()
            .map(|(kind, seconds)| {
                let before = earlier.seconds.get(kind).copied().unwrap_or(0.0);
                (*kind, (seconds - before).max(0.0) / wall.as_secs_f64())
            })
            .collect();
        if used.is_empty() {
            return String::new();
        }
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        let busy: f64 = used.iter().map(|(_, c)| c).sum();
        let mut out = format!("CPU over {wall:.0?} ({cores:.0} cores):");
        for (kind, c) in used {
            out.push_str(&format!(" {kind} {c:.2} cores;"));
        }
        out.push_str(&format!(
            " everything else and idle {:.2} cores\n",
            (cores - busy).max(0.0)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_time_past_a_name_with_spaces() {
        let stat = "4242 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1";
        assert_eq!(cpu_of(stat), Some(3.0));
        assert_eq!(cpu_of("garbage"), None);
    }
}
