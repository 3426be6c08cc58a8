-- Tree maintenance runs as the table's owner.  When a statement of it fails
-- on a constraint of the owner's table, PostgreSQL describes the failing row
-- or key (DETAIL "Failing row contains (...)", "Key (...)=(...)") by the
-- privileges of the role running it: the owner, who may read every column.
-- The role whose statement caused the maintenance must not read through that
-- DETAIL what it may not SELECT (a plain statement of its own would not
-- show it): a role with INSERT only, or UPDATE of the parent column and
-- SELECT of the id, learns nothing of the other rows' columns.
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE TABLE public.err_t (id int PRIMARY KEY, parent_id int, secret text);
SELECT chronicle.tree_attach('public.err_t');
INSERT INTO public.err_t VALUES (1, NULL, 'root secret'), (2, 1, 'child secret'), (3, NULL, 'other');
-- No number may pass 6, no depth 1 (limits on the trees' size and height,
-- as an owner may set them).
ALTER TABLE public.err_t ADD CONSTRAINT small CHECK (rgt <= 6), ADD CONSTRAINT flat CHECK (depth <= 1);
CREATE ROLE regress_err_w IN ROLE chronicle_writer;
GRANT INSERT ON public.err_t TO regress_err_w;
GRANT UPDATE (parent_id), SELECT (id) ON public.err_t TO regress_err_w;

SET ROLE regress_err_w;
-- A plain INSERT: the renumbering of the rows after it fails; nothing of
-- them is shown.
INSERT INTO public.err_t VALUES (4, 1, 'mine');
-- A plain UPDATE of the parent: the moved subtree's depth fails.
UPDATE public.err_t SET parent_id = 3 WHERE id = 1;
-- The same through tree_move.
SELECT chronicle.tree_move('public.err_t', 1, 3);
RESET ROLE;

-- A role that may read the table sees PostgreSQL's DETAIL as before.
GRANT SELECT ON public.err_t TO regress_err_w;
SET ROLE regress_err_w;
INSERT INTO public.err_t VALUES (5, 1, 'mine');
RESET ROLE;

-- Nothing was written.
SELECT * FROM public.err_t ORDER BY id;
SELECT * FROM chronicle.tree_validate('public.err_t');

SELECT chronicle.tree_detach('public.err_t');
DROP TABLE public.err_t;
DROP ROLE regress_err_w;
