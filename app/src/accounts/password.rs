//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane) and a random
//! salt per hash, stored as a PHC string. Hashing costs tens of milliseconds of a core, so it runs
//! on the blocking pool and at most [`CONCURRENT_HASHES`] at once: a wave of log-ins queues here
//! instead of starving checkout of CPU.

use std::sync::LazyLock;

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use super::model::Password;
use crate::error::AppError;

/// Hashes running at once, across the process.
pub const CONCURRENT_HASHES: usize = 2;
static HASHING: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);

/// Compared against when the account does not exist, so that a log-in takes as long either way
/// and its timing does not tell whether a username is taken.
static DECOY: LazyLock<Option<String>> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(b"decoy password for unknown accounts", &salt)
        .map(|hash| hash.to_string())
        .ok()
});

/// The PHC string of a new hash of `password`.
pub async fn hash(password: Password) -> Result<String, AppError> {
    let _permit = HASHING.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose(), &salt)
            .map(|hash| hash.to_string())
            .map_err(AppError::internal)
    })
    .await
    .map_err(AppError::internal)?
}

/// Whether `password` matches `stored`; with no stored hash (unknown account) it does the same
/// work against a decoy and answers `false`.
pub async fn verify(password: Password, stored: Option<String>) -> Result<bool, AppError> {
    let _permit = HASHING.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let Some(phc) = stored.or_else(|| DECOY.clone()) else {
            return Err(AppError::internal("no decoy hash"));
        };
        let parsed = PasswordHash::new(&phc).map_err(AppError::internal)?;
        let matches = Argon2::default()
            .verify_password(password.expose(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(AppError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_salted_argon2id_and_verifies_only_the_right_password() {
        let first = hash(Password::any("correct horse".into())).await.unwrap();
        let second = hash(Password::any("correct horse".into())).await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "every hash has its own salt");
        assert!(
            verify(Password::any("correct horse".into()), Some(first.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(Password::any("wrong horse".into()), Some(first))
                .await
                .unwrap()
        );
        assert!(
            !verify(Password::any("correct horse".into()), None)
                .await
                .unwrap()
        );
    }
}
