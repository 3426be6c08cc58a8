-- Nested sets (issue 15): with an order column, an UPDATE of that column
-- re-sorts the node, so the trigger that remembers moved rows of tables
-- attached under 0.1.0 also watches the order column.
DO $tree_order_trigger$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tbl, parent_column, scope_column, order_column FROM chronicle._tree_tables
              WHERE order_column IS NOT NULL LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS chronicle_tree_4_moved ON %s', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER chronicle_tree_4_moved AFTER UPDATE OF %s ON %s FOR EACH ROW '
            'WHEN (%s) EXECUTE FUNCTION chronicle._tree_moved_trigger()',
            pg_catalog.concat_ws(', ', pg_catalog.quote_ident(t.parent_column),
                                 pg_catalog.quote_ident(t.scope_column),
                                 pg_catalog.quote_ident(t.order_column)),
            t.tbl,
            pg_catalog.concat_ws(' OR ',
                pg_catalog.format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', t.parent_column),
                CASE WHEN t.scope_column IS NOT NULL
                     THEN pg_catalog.format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', t.scope_column) END,
                pg_catalog.format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', t.order_column)));
    END LOOP;
END
$tree_order_trigger$;
