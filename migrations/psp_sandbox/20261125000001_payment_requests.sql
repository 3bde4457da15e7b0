-- The sandbox payment processor's own database: payment requests, each with a virtual account,
-- and the transfers banks made to them (any amount, any number of times, even late: the
-- merchant decides what to do with them).
CREATE TABLE payment_requests (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    idempotency_key    VARCHAR(64)     NOT NULL,
    merchant_reference VARCHAR(25)     NOT NULL,
    currency           CHAR(3)         NOT NULL,
    amount             DECIMAL(19, 4)  NOT NULL,
    payload            VARCHAR(512)    NOT NULL,
    expires_at         DATETIME(6)     NOT NULL,
    created_at         DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY payment_requests_idempotency (idempotency_key),
    CONSTRAINT payment_requests_amount_positive CHECK (amount > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE transfers (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    request_id BIGINT UNSIGNED NOT NULL,
    amount     DECIMAL(19, 4)  NOT NULL,
    created_at DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    KEY transfers_request (request_id, id),
    CONSTRAINT transfers_amount_positive CHECK (amount > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
