-- Cancelling an order locks its active holds. With only (order_id) to go by, the optimiser could
-- pick holds_expiry (status, expires_at) for "status = 'active'" and lock every active hold it
-- walked past, deadlocking concurrent checkouts and cancels. The query names this index, and
-- the index covers the whole condition.
ALTER TABLE holds
    DROP KEY holds_order,
    ADD KEY holds_order (order_id, status, item_id);
