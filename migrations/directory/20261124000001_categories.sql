-- The directory: what is not sharded. Categories record the logical shard that holds their items,
-- orders and payments; a category never changes shard (its items' IDs carry it).
CREATE TABLE categories (
    id         BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    slug       VARCHAR(80)       NOT NULL,
    name       VARCHAR(120)      NOT NULL,
    shard      SMALLINT UNSIGNED NOT NULL,
    created_at DATETIME(6)       NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6)       NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY categories_slug (slug),
    KEY categories_shard (shard)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
