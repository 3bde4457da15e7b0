//! Accounts: the types shared with the browser, and (on the server) the rules that parse input
//! into them. Passwords never appear in a shared type's output: they only travel inward.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A user's id in the directory.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserId(pub u64);

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }

    /// Reads a stored or sent name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "customer" => Some(Role::Customer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An account as it is shown: everything but the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    #[cfg_attr(feature = "ssr", schema(value_type = u64))]
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub phone: String,
    pub display_name: String,
    /// An IANA time zone name (`Europe/Berlin`).
    pub timezone: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A registration as a client sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegisterInput {
    pub username: String,
    pub email: String,
    pub phone: String,
    pub display_name: String,
    /// An IANA time zone name; UTC when left out.
    #[serde(default)]
    pub timezone: String,
    pub password: String,
}

/// A log-in as a client sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginInput {
    pub username: String,
    pub password: String,
}

/// The answer to a log-in: the session token (also set as a cookie) and the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginAnswer {
    /// Send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub user: User,
}

/// A partial update of an account: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountPatchInput {
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// A new password; needs `current_password` (only the account's owner may change it).
    pub password: Option<String>,
    pub current_password: Option<String>,
    /// `customer` or `admin`; admins only, and not on their own account.
    pub role: Option<String>,
}

/// The most characters a password may have (argon2 hashes any length; this bounds the work).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[cfg(feature = "ssr")]
pub use parse::*;

#[cfg(feature = "ssr")]
mod parse {
    use zeroize::Zeroizing;

    use super::*;
    use crate::catalog::model::{FieldErrors, clean_text};
    use crate::error::AppError;

    /// A password in memory: wiped when dropped, never printed.
    pub struct Password(Zeroizing<String>);

    impl std::fmt::Debug for Password {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Password(***)")
        }
    }

    impl Password {
        /// Takes the text without checking it (a log-in compares whatever was typed).
        pub fn any(text: String) -> Self {
            Password(Zeroizing::new(text))
        }

        /// A new password: 8 to 128 characters.
        pub fn new(text: String) -> Result<Self, String> {
            let text = Zeroizing::new(text);
            let chars = text.chars().count();
            if chars < MIN_PASSWORD_CHARS {
                return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
            }
            if chars > MAX_PASSWORD_CHARS {
                return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
            }
            Ok(Password(text))
        }

        /// The bytes, for the hasher.
        pub fn expose(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }

    /// 3 to 32 lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit.
    pub fn parse_username(text: &str) -> Result<String, String> {
        let name = text.trim().to_lowercase();
        let chars = name.chars().count();
        if !(3..=32).contains(&chars) {
            return Err("must be 3 to 32 characters".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err("may contain only letters, digits, '.', '_' and '-'".into());
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or a digit".into());
        }
        Ok(name)
    }

    /// An address with one `@`, a local part and a dotted domain; the domain is lowercased.
    pub fn parse_email(text: &str) -> Result<String, String> {
        let email = text.trim();
        if email.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let invalid = || "must be an email address, like name@example.com".to_owned();
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let plausible = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && email.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if !plausible {
            return Err(invalid());
        }
        Ok(format!("{local}@{}", domain.to_lowercase()))
    }

    /// An international number: `+` and 7 to 15 digits; spaces, dashes, dots and brackets are
    /// dropped.
    pub fn parse_phone(text: &str) -> Result<String, String> {
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or_default();
        if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be an international number, like +49 30 1234567".into());
        }
        Ok(compact)
    }

    /// An IANA time zone name (`Europe/Berlin`); empty means UTC.
    pub fn parse_timezone(text: &str) -> Result<String, String> {
        let name = text.trim();
        if name.is_empty() {
            return Ok("UTC".into());
        }
        name.parse::<chrono_tz::Tz>()
            .map(|tz| tz.name().to_owned())
            .map_err(|_| "must be an IANA time zone, like Europe/Berlin".into())
    }

    /// 1 to 80 characters.
    pub fn parse_display_name(text: &str) -> Result<String, String> {
        clean_text(text, 1, 80, false)
    }

    /// A validated registration.
    #[derive(Debug)]
    pub struct NewUser {
        pub username: String,
        pub email: String,
        pub phone: String,
        pub display_name: String,
        pub timezone: String,
        pub password: Password,
    }

    impl RegisterInput {
        /// Validates every field, naming each that fails. Consumes the input so the password
        /// moves into its wiping wrapper without a copy.
        pub fn parse(self) -> Result<NewUser, AppError> {
            let mut errors = FieldErrors::default();
            let username = errors.check("username", parse_username(&self.username));
            let email = errors.check("email", parse_email(&self.email));
            let phone = errors.check("phone", parse_phone(&self.phone));
            let display_name = errors.check("display_name", parse_display_name(&self.display_name));
            let timezone = errors.check("timezone", parse_timezone(&self.timezone));
            let password = errors.check("password", Password::new(self.password));
            errors.finish()?;
            match (username, email, phone, display_name, timezone, password) {
                (
                    Some(username),
                    Some(email),
                    Some(phone),
                    Some(display_name),
                    Some(timezone),
                    Some(password),
                ) => Ok(NewUser {
                    username,
                    email,
                    phone,
                    display_name,
                    timezone,
                    password,
                }),
                _ => Err(AppError::invalid("body", "is incomplete")),
            }
        }
    }

    /// A validated account update.
    #[derive(Debug, Default)]
    pub struct AccountPatch {
        pub display_name: Option<String>,
        pub timezone: Option<String>,
        pub email: Option<String>,
        pub phone: Option<String>,
        /// (new, current)
        pub password: Option<(Password, Password)>,
        pub role: Option<Role>,
    }

    impl AccountPatchInput {
        /// Validates the fields that are present.
        pub fn parse(self) -> Result<AccountPatch, AppError> {
            let mut errors = FieldErrors::default();
            let mut patch = AccountPatch {
                display_name: self
                    .display_name
                    .as_deref()
                    .and_then(|v| errors.check("display_name", parse_display_name(v))),
                timezone: self
                    .timezone
                    .as_deref()
                    .and_then(|v| errors.check("timezone", parse_timezone(v))),
                email: self
                    .email
                    .as_deref()
                    .and_then(|v| errors.check("email", parse_email(v))),
                phone: self
                    .phone
                    .as_deref()
                    .and_then(|v| errors.check("phone", parse_phone(v))),
                password: None,
                role: self.role.as_deref().and_then(|v| {
                    errors.check(
                        "role",
                        Role::parse(v).ok_or_else(|| "must be customer or admin".to_owned()),
                    )
                }),
            };
            match (self.password, self.current_password) {
                (Some(new), Some(current)) => {
                    patch.password = errors
                        .check("password", Password::new(new))
                        .map(|new| (new, Password::any(current)));
                }
                (Some(_), None) => {
                    errors.add("current_password", "is needed to change the password")
                }
                (None, _) => {}
            }
            errors.finish()?;
            let empty = patch.display_name.is_none()
                && patch.timezone.is_none()
                && patch.email.is_none()
                && patch.phone.is_none()
                && patch.password.is_none()
                && patch.role.is_none();
            if empty {
                return Err(AppError::invalid("body", "names no field to change"));
            }
            Ok(patch)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn fields(error: AppError) -> Vec<String> {
            match error {
                AppError::Validation { fields } => fields.into_keys().collect(),
                other => panic!("expected a validation error, got {other:?}"),
            }
        }

        fn valid() -> RegisterInput {
            RegisterInput {
                username: " Ada.L ".into(),
                email: "ada@Example.COM".into(),
                phone: "+44 (20) 7946-0018".into(),
                display_name: "Ada Lovelace".into(),
                timezone: "Europe/London".into(),
                password: "analytical engine".into(),
            }
        }

        #[test]
        fn a_registration_is_normalised() {
            let user = valid().parse().unwrap();
            assert_eq!(user.username, "ada.l");
            assert_eq!(user.email, "ada@example.com");
            assert_eq!(user.phone, "+442079460018");
            assert_eq!(user.timezone, "Europe/London");
        }

        #[test]
        fn every_bad_field_is_named() {
            let bad = RegisterInput {
                username: "a".into(),
                email: "not-an-email".into(),
                phone: "12345".into(),
                display_name: " ".into(),
                timezone: "Mars/Olympus".into(),
                password: "short".into(),
            };
            assert_eq!(
                fields(bad.parse().unwrap_err()),
                [
                    "display_name",
                    "email",
                    "password",
                    "phone",
                    "timezone",
                    "username"
                ]
            );
        }

        #[test]
        fn usernames_are_plain() {
            for bad in ["-ada", "ada lovelace", "ädä", "a", &"x".repeat(33)] {
                assert!(parse_username(bad).is_err(), "{bad:?}");
            }
            assert_eq!(parse_username("Grace_H-1").unwrap(), "grace_h-1");
        }

        #[test]
        fn a_password_change_needs_the_current_password() {
            let patch = AccountPatchInput {
                password: Some("a new passphrase".into()),
                ..Default::default()
            };
            assert_eq!(fields(patch.parse().unwrap_err()), ["current_password"]);
            assert_eq!(
                fields(AccountPatchInput::default().parse().unwrap_err()),
                ["body"]
            );
        }

        #[test]
        fn passwords_never_print() {
            let password = Password::new("correct horse battery".into()).unwrap();
            assert_eq!(format!("{password:?}"), "Password(***)");
        }
    }
}
