-- The end of a hold transaction, run where the data is: one round trip from taking an item's
-- row to the commit.
--
-- A flash sale's buyers take one item's row one after the other, and each held the row's lock
-- across four round trips (the stock taken, the customer's units counted, the ledger row, the
-- commit). On a busy machine every round trip waits for the shop's threads and the server's to
-- be scheduled, so the lock was held for milliseconds while the commit itself takes a fraction
-- of one. Here the same statements run in the server, and the lock is released by the commit
-- at the end of the call.
--
-- take_held_stock takes p_quantity units of item p_item for a hold, counts the customer's units
-- of it in pending and placed orders on this shard (this order's own line included), writes the
-- ledger row, and commits when p_commit is set (the transaction's last line). It answers with an
-- error and changes nothing that the caller keeps:
-- - 31001 when the item has fewer units than asked (or is deleted): the caller may give back the
--   item's expired holds in the same transaction and call again;
-- - 31002 when the customer would pass p_limit units of the item; the message is how many they
--   already have (without this line); the caller rolls back.
CREATE PROCEDURE take_held_stock(
    IN p_item BIGINT UNSIGNED,
    IN p_quantity INT UNSIGNED,
    IN p_user BIGINT UNSIGNED,
    IN p_limit INT UNSIGNED,
    IN p_reason VARCHAR(300),
    IN p_now DATETIME(6),
    IN p_commit BOOLEAN
)
MODIFIES SQL DATA
BEGIN
    DECLARE v_bought BIGINT;
    DECLARE v_already VARCHAR(20);
    UPDATE items SET stock = stock - p_quantity
        WHERE id = p_item AND deleted_at IS NULL AND stock >= p_quantity;
    IF ROW_COUNT() = 0 THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 31001, MESSAGE_TEXT = 'short';
    END IF;
    SELECT COALESCE(SUM(oi.quantity), 0) INTO v_bought
        FROM order_items oi JOIN orders o ON o.id = oi.order_id
        WHERE o.user_id = p_user AND oi.item_id = p_item AND o.status IN ('pending', 'placed');
    IF v_bought > p_limit THEN
        SET v_already = CAST(v_bought - CAST(p_quantity AS SIGNED) AS CHAR);
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 31002, MESSAGE_TEXT = v_already;
    END IF;
    INSERT INTO stock_movements (item_id, delta, stock_after, cause, reason, created_at)
        SELECT id, -CAST(p_quantity AS SIGNED), stock, 'hold', p_reason, p_now
        FROM items WHERE id = p_item;
    IF p_commit THEN
        COMMIT;
    END IF;
END;
