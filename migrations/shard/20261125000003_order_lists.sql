-- Order lists run newest first over every customer (the admin's) or over one status: keyset
-- pages by (created_at, id) need these orders in an index. A customer's own list uses
-- orders_user (user_id, created_at, id).
ALTER TABLE orders
    ADD KEY orders_created (created_at, id),
    ADD KEY orders_status_created (status, created_at, id);
