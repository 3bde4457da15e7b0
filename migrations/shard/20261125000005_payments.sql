-- Payments: one row per shard order of a checkout, with that order's share of the checkout's one
-- payment request at the processor. The processor's request ID ties the shares together.
CREATE TABLE payments (
    id                   BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id             BIGINT UNSIGNED NOT NULL,
    checkout_id          CHAR(32)        NOT NULL,
    processor_request_id VARCHAR(64)     NOT NULL,
    currency             CHAR(3)         NOT NULL,
    amount               DECIMAL(19, 4)  NOT NULL,
    status               VARCHAR(16)     NOT NULL,
    created_at           DATETIME(6)     NOT NULL,
    updated_at           DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY payments_order (order_id),
    KEY payments_request (processor_request_id),
    CONSTRAINT payments_status_known CHECK (status IN ('pending', 'completed', 'refunded', 'failed')),
    CONSTRAINT payments_amount_positive CHECK (amount > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
