-- Every shard database knows which logical shard it is, so a shard map that points a shard at
-- another shard's database is detected at start instead of mixing data.
CREATE TABLE shard_identity (
    singleton     TINYINT UNSIGNED  NOT NULL,
    logical_shard SMALLINT UNSIGNED NOT NULL,
    created_at    DATETIME(6)       NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (singleton),
    CONSTRAINT shard_identity_one_row CHECK (singleton = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
