-- chronicle's tree triggers stand aside while chronicle's own maintenance
-- statement renumbers a table: that statement keeps the numbering itself.
-- They stand aside for that statement only, not for what the table owner's
-- triggers do meanwhile: a writer's trigger on the writer's own tree table,
-- fired by the renumbering of it, must not be able to write another role's
-- tree table with its guard (TR005) and maintenance switched off.
\set VERBOSITY terse
CREATE TABLE public.depth_b (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('public.depth_b');
INSERT INTO public.depth_b VALUES (1, NULL, 'root'), (2, 1, 'child');
CREATE ROLE regress_depth_w IN ROLE chronicle_writer;
GRANT SELECT, INSERT, UPDATE ON public.depth_b TO regress_depth_w;
CREATE SCHEMA depth_s AUTHORIZATION regress_depth_w;

SET ROLE regress_depth_w;
-- Directly: refused.
UPDATE public.depth_b SET lft = 100 WHERE id = 1;
-- From a trigger on the writer's own tree table, fired by chronicle's
-- renumbering of it.
CREATE TABLE depth_s.a (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('depth_s.a');
INSERT INTO depth_s.a VALUES (1, NULL);
CREATE FUNCTION depth_s.t() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        UPDATE public.depth_b SET lft = 100 WHERE id = 1;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'update of lft: %', SQLSTATE;
    END;
    INSERT INTO public.depth_b VALUES (3, 1, 'inserted') ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER zz AFTER UPDATE ON depth_s.a FOR EACH STATEMENT EXECUTE FUNCTION depth_s.t();
INSERT INTO depth_s.a VALUES (2, 1);
RESET ROLE;
-- The row the trigger inserted is numbered; lft was not written.
SELECT * FROM public.depth_b ORDER BY id;
SELECT * FROM chronicle.tree_validate('public.depth_b');
SELECT * FROM chronicle.tree_validate('depth_s.a');

SELECT chronicle.tree_detach('public.depth_b');
DROP TABLE public.depth_b;
SET client_min_messages = warning;
DROP SCHEMA depth_s CASCADE;
RESET client_min_messages;
DROP ROLE regress_depth_w;
