-- The catalog's items, their append-only stock ledger, and the outbox of events written in the same
-- transaction as every change (relayed to the Redis event stream by the outbox relay).
CREATE TABLE items (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    category_id BIGINT UNSIGNED NOT NULL,
    name        VARCHAR(200)    NOT NULL,
    description TEXT            NOT NULL,
    price       DECIMAL(19, 4)  NOT NULL,
    currency    CHAR(3)         NOT NULL,
    -- Units available to buy now. Every change writes a stock_movements row in the same
    -- transaction, so the ledger sums to this column.
    stock       INT             NOT NULL,
    location    VARCHAR(120)    NOT NULL,
    -- Deleted items stay for the orders and the ledger that name them, hidden from the shop.
    deleted_at  DATETIME(6)     NULL,
    created_at  DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY items_category_newest (category_id, deleted_at, id),
    KEY items_category_price (category_id, deleted_at, price, id),
    KEY items_category_name (category_id, deleted_at, name, id),
    CONSTRAINT items_stock_not_negative CHECK (stock >= 0),
    CONSTRAINT items_price_positive CHECK (price > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE stock_movements (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    item_id     BIGINT UNSIGNED NOT NULL,
    delta       INT             NOT NULL,
    stock_after INT             NOT NULL,
    cause       VARCHAR(24)     NOT NULL,
    reason      VARCHAR(300)    NOT NULL,
    created_at  DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY stock_movements_item (item_id, id),
    CONSTRAINT stock_movements_after_not_negative CHECK (stock_after >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE outbox (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    payload    JSON            NOT NULL,
    created_at DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
