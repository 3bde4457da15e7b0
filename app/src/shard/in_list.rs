//! `IN (...)` lists in prepared statements: one `?` per value, bound one by one.

/// `?` marks for an `IN (...)` of `count` values, bound one by one.
pub fn marks(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// Whether a statement with an `IN` list of `count` values is kept prepared on its connection.
/// Short lists (one to four orders or items) are what nearly every request sends, so each length
/// is prepared once; longer lists run once and are closed, instead of filling the connection's
/// statement cache and pushing out the statements every request uses.
pub fn keep_prepared(count: usize) -> bool {
    count <= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mark_a_value() {
        assert_eq!(marks(1), "?");
        assert_eq!(marks(3), "?, ?, ?");
    }

    #[test]
    fn only_short_lists_stay_prepared() {
        assert!(keep_prepared(1) && keep_prepared(4));
        assert!(!keep_prepared(5) && !keep_prepared(100));
    }
}
