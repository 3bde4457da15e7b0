//! The process's limit of open files. Every connection is a file: the capacity plan's 3,000
//! concurrent requests are 3,000 sockets in the shop (and as many in a load run's generator),
//! beside the database pools, Redis and the search index's files, where a Debian login's usual
//! soft limit is 1,024. The process raises its own soft limit toward [`WANTED`], as far as the
//! hard limit allows, whoever started it.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The soft limit the process asks for: the capacity plan's connections many times over.
pub const WANTED: u64 = 65_536;

/// Files a process opens besides the connections it is asked to hold: the pools of every
/// database, Redis, the sandbox's connections, the search index, the logs, with room.
const BESIDES_CONNECTIONS: u64 = 1_024;

/// The soft limit to set, given the current `soft` and `hard` ones: [`WANTED`] or the hard limit,
/// whichever is lower; `None` when the soft limit is already that high.
fn raised(soft: u64, hard: u64) -> Option<u64> {
    let target = WANTED.min(hard);
    (soft < target).then_some(target)
}

/// Raises this process's soft limit of open files (see the module); answers the limit in force.
pub fn raise() -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    match raised(soft, hard) {
        Some(target) => {
            setrlimit(Resource::RLIMIT_NOFILE, target, hard)?;
            Ok(target)
        }
        None => Ok(soft),
    }
}

/// Why a process whose limit is `limit` cannot hold `sockets` open, if it cannot; `asked` names
/// what asked for them.
fn shortfall(limit: u64, sockets: usize, asked: &str) -> Option<String> {
    let needed = u64::try_from(sockets)
        .unwrap_or(u64::MAX)
        .saturating_add(BESIDES_CONNECTIONS);
    (limit < needed).then(|| {
        format!(
            "{asked} needs about {needed} open files, and this process may open only {limit}: \
             raise the hard limit (`ulimit -Hn`, or LimitNOFILE= under systemd) or ask for fewer"
        )
    })
}

/// Fails when this process may not open enough files to hold `sockets` open (after [`raise`]),
/// naming what asked for them (`asked`, an option and its value): a clear refusal at the start
/// rather than connections failing half-way through a run.
pub fn ensure_room_for(sockets: usize, asked: &str) -> anyhow::Result<()> {
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    match shortfall(soft, sockets, asked) {
        Some(refusal) => anyhow::bail!(refusal),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_rises_to_the_wanted_figure_or_the_hard_limit() {
        assert_eq!(raised(1_024, 1_048_576), Some(WANTED));
        assert_eq!(raised(1_024, 20_000), Some(20_000));
        assert_eq!(raised(1_024, u64::MAX), Some(WANTED));
        assert_eq!(raised(20_000, 20_000), None);
        assert_eq!(raised(WANTED, 1_048_576), None);
        assert_eq!(raised(100_000, 1_048_576), None, "a higher limit is kept");
    }

    #[test]
    fn too_few_files_for_the_connections_is_refused_naming_the_option() {
        assert_eq!(shortfall(65_536, 3_000, "--connections 3000"), None);
        assert_eq!(shortfall(4_024, 3_000, "--connections 3000"), None);
        let refusal = shortfall(1_024, 3_000, "--connections 3000").expect("refused");
        assert!(
            refusal.starts_with("--connections 3000 needs about 4024"),
            "{refusal}"
        );
        assert!(refusal.contains("only 1024"), "{refusal}");
    }
}
