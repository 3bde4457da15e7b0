//! The admin token and its check.

use std::fmt;
use std::sync::Arc;

use crate::error::AppError;

/// Shorter tokens are refused at start: the token is the only key to the admin operations.
pub const MIN_TOKEN_CHARS: usize = 24;

/// The configured admin token. Never printed.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

impl AdminToken {
    /// Checks the configured value is long enough to be a secret.
    pub fn new(token: &str) -> Result<Self, String> {
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the admin token must be at least {MIN_TOKEN_CHARS} characters"
            ));
        }
        Ok(AdminToken(token.into()))
    }

    /// Compares in time that depends only on the lengths, not on where the bytes differ.
    fn matches(&self, presented: &str) -> bool {
        let expected = self.0.as_bytes();
        let presented = presented.as_bytes();
        if expected.len() != presented.len() {
            return false;
        }
        expected
            .iter()
            .zip(presented)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

/// Admits the holder of the admin token. `authorization` is the request's `Authorization` header.
pub fn require_admin(
    configured: Option<&AdminToken>,
    authorization: Option<&str>,
) -> Result<(), AppError> {
    let Some(presented) = authorization.and_then(|value| value.strip_prefix("Bearer ")) else {
        return Err(AppError::Unauthorized {
            message: "send the admin token as `Authorization: Bearer <token>`".into(),
        });
    };
    match configured {
        Some(token) if token.matches(presented.trim()) => Ok(()),
        Some(_) => Err(AppError::Forbidden {
            message: "the admin token is not valid".into(),
        }),
        None => Err(AppError::Forbidden {
            message: "admin access is not configured on this server".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn only_the_configured_token_is_admitted() {
        let token = AdminToken::new(TOKEN).unwrap();
        assert!(require_admin(Some(&token), Some(&format!("Bearer {TOKEN}"))).is_ok());
        let wrong = require_admin(
            Some(&token),
            Some("Bearer 0123456789abcdef0123456789abcdeX"),
        );
        assert_eq!(wrong.unwrap_err().status_code(), 403);
        assert_eq!(
            require_admin(Some(&token), None).unwrap_err().status_code(),
            401
        );
        assert_eq!(
            require_admin(Some(&token), Some(TOKEN))
                .unwrap_err()
                .status_code(),
            401
        );
    }

    #[test]
    fn without_a_configured_token_nobody_is_admin() {
        let refused = require_admin(None, Some(&format!("Bearer {TOKEN}")));
        assert_eq!(refused.unwrap_err().status_code(), 403);
    }

    #[test]
    fn short_tokens_are_refused_and_tokens_never_print() {
        assert!(AdminToken::new("secret").is_err());
        let token = AdminToken::new(TOKEN).unwrap();
        assert!(!format!("{token:?}").contains("0123"));
    }
}
