-- Events of directory changes (categories), written in the same transaction as the change and
-- relayed to the Redis event stream, exactly like the shards' outbox.
CREATE TABLE outbox (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    payload    JSON            NOT NULL,
    created_at DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
