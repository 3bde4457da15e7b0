-- The per-customer limit counts a customer's units of one item, under the item's row lock in
-- every hold. It found them through the customer's orders (orders_user), reading every order the
-- customer ever made on the shard, whatever its status and items: a customer with a long history,
-- or a buyer checking out again and again in a sale, made each of their holds read hundreds of
-- rows while the item's row stayed locked.
--
-- Each line now names its buyer, and order_items_buyer finds a customer's lines of one item
-- directly. Lines written by a copy of Surge older than this migration (during a rolling deploy)
-- name nobody: the count takes the item's such lines whose order is the customer's, which the
-- same index finds (user_id IS NULL), so the limit holds across the deploy too.
ALTER TABLE order_items ADD COLUMN user_id BIGINT UNSIGNED NULL AFTER item_id;

UPDATE order_items oi JOIN orders o ON o.id = oi.order_id SET oi.user_id = o.user_id;

ALTER TABLE order_items ADD KEY order_items_buyer (user_id, item_id);

DROP PROCEDURE take_held_stock;

-- As in 20261202000001_take_held_stock, with the count through order_items_buyer.
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
        WHERE (oi.user_id = p_user OR oi.user_id IS NULL) AND oi.item_id = p_item
            AND o.user_id = p_user AND o.status IN ('pending', 'placed');
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
