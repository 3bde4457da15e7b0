-- Checkout: one order per shard of a checkout, its lines with their price snapshot, and the stock
-- holds that reserve its units until it is paid (placed) or the hold window ends.
CREATE TABLE orders (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    -- The checkout this order belongs to; a retried checkout finds its order by it.
    checkout_id     CHAR(32)        NOT NULL,
    user_id         BIGINT UNSIGNED NOT NULL,
    status          VARCHAR(16)     NOT NULL,
    currency        CHAR(3)         NOT NULL,
    total           DECIMAL(19, 4)  NOT NULL,
    hold_expires_at DATETIME(6)     NOT NULL,
    created_at      DATETIME(6)     NOT NULL,
    updated_at      DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY orders_checkout (checkout_id),
    KEY orders_user (user_id, created_at, id),
    KEY orders_status (status, hold_expires_at),
    CONSTRAINT orders_status_known CHECK (status IN ('pending', 'placed', 'failed', 'canceled')),
    CONSTRAINT orders_total_positive CHECK (total > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE order_items (
    order_id   BIGINT UNSIGNED NOT NULL,
    item_id    BIGINT UNSIGNED NOT NULL,
    name       VARCHAR(200)    NOT NULL,
    quantity   INT             NOT NULL,
    unit_price DECIMAL(19, 4)  NOT NULL,
    PRIMARY KEY (order_id, item_id),
    CONSTRAINT order_items_quantity_positive CHECK (quantity > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE holds (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id   BIGINT UNSIGNED NOT NULL,
    item_id    BIGINT UNSIGNED NOT NULL,
    quantity   INT             NOT NULL,
    status     VARCHAR(16)     NOT NULL,
    expires_at DATETIME(6)     NOT NULL,
    created_at DATETIME(6)     NOT NULL,
    updated_at DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    KEY holds_expiry (status, expires_at),
    KEY holds_item (item_id, status, expires_at),
    KEY holds_order (order_id),
    CONSTRAINT holds_status_known CHECK (status IN ('active', 'released', 'expired')),
    CONSTRAINT holds_quantity_positive CHECK (quantity > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
