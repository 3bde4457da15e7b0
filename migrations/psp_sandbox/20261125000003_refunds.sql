-- Refunds of money received for a request, partial or full, each made once per idempotency key;
-- together they never exceed what was received (checked under the request's row lock).
CREATE TABLE refunds (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    request_id      BIGINT UNSIGNED NOT NULL,
    idempotency_key VARCHAR(64)     NOT NULL,
    amount          DECIMAL(19, 4)  NOT NULL,
    created_at      DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY refunds_idempotency (idempotency_key),
    KEY refunds_request (request_id, id),
    CONSTRAINT refunds_amount_positive CHECK (amount > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
