-- Confirming payments: what the processor says a checkout's request received (only ever grows,
-- whatever order its events arrive in), the checkout's total to compare it with, when to poll the
-- processor next, and the refunds Surge owes. One share per checkout is the lead: it carries the
-- money paid beyond the total (an overpayment, a second payment) or short of it (an underpayment).
ALTER TABLE payments
    ADD COLUMN checkout_total DECIMAL(19, 4) NOT NULL DEFAULT 0 AFTER amount,
    ADD COLUMN received       DECIMAL(19, 4) NOT NULL DEFAULT 0 AFTER checkout_total,
    ADD COLUMN lead_share     BOOLEAN        NOT NULL DEFAULT FALSE AFTER received,
    ADD COLUMN expires_at     DATETIME(6)    NOT NULL DEFAULT '1970-01-01 00:00:01' AFTER status,
    ADD COLUMN next_poll_at   DATETIME(6)    NULL AFTER expires_at,
    ADD KEY payments_poll (status, next_poll_at),
    ADD KEY payments_checkout (checkout_id),
    ADD KEY payments_created (created_at, order_id);

-- A refund is written here in the same transaction as the decision that owes it, then sent by the
-- refund job with an idempotency key made of its row: a crash between sending and recording sends
-- the same key again, and the processor refunds it once.
CREATE TABLE payment_refunds (
    id                   BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    payment_id           BIGINT UNSIGNED NOT NULL,
    processor_request_id VARCHAR(64)     NOT NULL,
    reason               VARCHAR(16)     NOT NULL,
    amount               DECIMAL(19, 4)  NOT NULL,
    status               VARCHAR(16)     NOT NULL,
    processor_refund_id  VARCHAR(64)     NULL,
    attempts             INT             NOT NULL DEFAULT 0,
    last_error           VARCHAR(300)    NULL,
    next_attempt_at      DATETIME(6)     NOT NULL,
    created_at           DATETIME(6)     NOT NULL,
    sent_at              DATETIME(6)     NULL,
    PRIMARY KEY (id),
    KEY payment_refunds_due (status, next_attempt_at),
    KEY payment_refunds_payment (payment_id),
    KEY payment_refunds_request (processor_request_id),
    CONSTRAINT payment_refunds_reason_known CHECK (reason IN ('not_placed', 'canceled', 'excess', 'underpaid')),
    CONSTRAINT payment_refunds_status_known CHECK (status IN ('pending', 'sent')),
    CONSTRAINT payment_refunds_amount_positive CHECK (amount > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
