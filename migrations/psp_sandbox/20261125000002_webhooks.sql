-- Webhooks: every transfer to a request with a webhook URL queues one event in the same
-- transaction as the transfer, and the sender retries it with a growing delay until the
-- merchant acknowledges it (2xx), so neither a crash nor a merchant outage loses it.
ALTER TABLE payment_requests ADD COLUMN webhook_url VARCHAR(500) NULL;

CREATE TABLE webhooks (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    request_id      BIGINT UNSIGNED NOT NULL,
    transfer_id     BIGINT UNSIGNED NOT NULL,
    url             VARCHAR(500)    NOT NULL,
    attempts        INT             NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)     NOT NULL,
    delivered_at    DATETIME(6)     NULL,
    last_error      VARCHAR(200)    NULL,
    created_at      DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    KEY webhooks_due (delivered_at, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
