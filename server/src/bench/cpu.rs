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

    /// What each kind used since `earlier`.
    pub fn since(&self, earlier: &CpuReading) -> CpuSpent {
        let seconds = self
            .seconds
            .iter()
            .map(|(kind, seconds)| {
                let before = earlier.seconds.get(kind).copied().unwrap_or(0.0);
                (*kind, (seconds - before).max(0.0))
            })
            .collect();
        CpuSpent {
            wall: self.at.duration_since(earlier.at),
            seconds,
        }
    }
}

/// The CPU each kind of process used over a stretch of time.
pub struct CpuSpent {
    wall: Duration,
    /// CPU seconds, by kind.
    seconds: BTreeMap<&'static str, f64>,
}

impl CpuSpent {
    /// Each kind's CPU for each of `count` things done over the stretch, in µs, busiest first.
    pub fn micros_each(&self, count: usize) -> Vec<(&'static str, f64)> {
        let mut each: Vec<(&'static str, f64)> = self
            .seconds
            .iter()
            .map(|(kind, seconds)| (*kind, seconds * 1e6 / count.max(1) as f64))
            .collect();
        each.sort_by(|a, b| b.1.total_cmp(&a.1));
        each
    }
}

/// What each kind used, in cores (CPU seconds a second), busiest first, with the machine's share
/// left idle.
impl std::fmt::Display for CpuSpent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.seconds.is_empty() {
            return Ok(());
        }
        let wall = self.wall.max(Duration::from_millis(1));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let mut used: Vec<(&str, f64)> = self
            .seconds
            .iter()
            .map(|(kind, seconds)| (*kind, seconds / wall.as_secs_f64()))
            .collect();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        let busy: f64 = used.iter().map(|(_, c)| c).sum();
        write!(f, "CPU over {wall:.0?} ({cores:.0} cores):")?;
        for (kind, c) in used {
            write!(f, " {kind} {c:.2} cores;")?;
        }
        writeln!(
            f,
            " everything else and idle {:.2} cores",
            (cores - busy).max(0.0)
        )
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

    #[test]
    fn spends_each_kinds_cpu_over_what_was_done_busiest_first() {
        let at = Instant::now();
        let reading = |mariadb: f64, redis: f64| CpuReading {
            at,
            seconds: BTreeMap::from([("mariadbd", mariadb), ("redis-server", redis)]),
        };
        let spent = reading(3.5, 1.2).since(&reading(2.0, 1.0));
        let each = spent.micros_each(1000);
        assert_eq!(
            each.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(),
            ["mariadbd", "redis-server"]
        );
        assert!((each[0].1 - 1500.0).abs() < 1e-6);
        assert!((each[1].1 - 200.0).abs() < 1e-6);
        assert!(spent.micros_each(0)[0].1 > 1e6);
    }
}
