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
-- Trees by scope on Citus (issue 16): the lock trigger carries the
-- attachment in its arguments, which Citus copies to a distributed table's
-- shards (src/tree/meta.cpp); tables attached under 0.1.0 get them as
-- chronicle.tree_attach gives them now (tree_trigger_args).
DO $tree_lock_trigger$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tbl, id_column, parent_column, scope_column, order_column, on_delete, numbering,
                    ids_unique_in FROM chronicle._tree_tables LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS chronicle_tree_1_lock ON %s', t.tbl);
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER chronicle_tree_1_lock BEFORE INSERT OR UPDATE OR DELETE ON %s '
            'FOR EACH STATEMENT EXECUTE FUNCTION chronicle._tree_lock_trigger(%s)',
            t.tbl,
            pg_catalog.concat_ws(', ',
                pg_catalog.quote_literal('id=' OPERATOR(pg_catalog.||) t.id_column),
                pg_catalog.quote_literal('parent=' OPERATOR(pg_catalog.||) t.parent_column),
                pg_catalog.quote_literal('scope=' OPERATOR(pg_catalog.||) t.scope_column),
                pg_catalog.quote_literal('order=' OPERATOR(pg_catalog.||) t.order_column),
                pg_catalog.quote_literal('on_delete=' OPERATOR(pg_catalog.||) t.on_delete),
                pg_catalog.quote_literal('numbering=' OPERATOR(pg_catalog.||) t.numbering),
                pg_catalog.quote_literal('ids=' OPERATOR(pg_catalog.||) t.ids_unique_in)));
    END LOOP;
END
$tree_lock_trigger$;
