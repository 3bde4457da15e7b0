-- Accounts. Usernames and emails are unique (case-insensitively, by the collation). The password
-- is an argon2id PHC string (algorithm, parameters, salt and hash together); never the password.
CREATE TABLE users (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    username      VARCHAR(32)     NOT NULL,
    email         VARCHAR(254)    NOT NULL,
    phone         VARCHAR(20)     NOT NULL,
    display_name  VARCHAR(80)     NOT NULL,
    timezone      VARCHAR(64)     NOT NULL,
    password_hash VARCHAR(255)    NOT NULL,
    role          VARCHAR(16)     NOT NULL,
    created_at    DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at    DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY users_username (username),
    UNIQUE KEY users_email (email),
    KEY users_role (role, id),
    CONSTRAINT users_role_known CHECK (role IN ('customer', 'admin'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
