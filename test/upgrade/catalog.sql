-- Everything chronicle's scripts create, as sorted text lines, so that an
-- upgraded database and a fresh install can be compared with diff.  Names
-- only, never OIDs; definitions as PostgreSQL prints them.
\pset format unaligned
\pset tuples_only on
SET search_path = pg_catalog, pg_temp;
WITH members AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
     WHERE e.extname = 'chronicle' AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
), lines AS (
    SELECT 'member ' || i.type || ' ' || i.identity AS line
      FROM members m, pg_identify_object(m.classid, m.objid, m.objsubid) i
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure::text
           || ' returns ' || pg_get_function_result(p.oid)
           || ' args ' || pg_get_function_arguments(p.oid)
           || ' lang ' || l.lanname || ' kind ' || p.prokind::text
           || ' volatile ' || p.provolatile::text || ' strict ' || p.proisstrict
           || ' secdef ' || p.prosecdef || ' parallel ' || p.proparallel::text
           || ' leakproof ' || p.proleakproof || ' cost ' || p.procost || ' rows ' || p.prorows
           || ' config ' || coalesce(array_to_string(p.proconfig, ','), '-')
           || ' acl ' || coalesce(p.proacl::text, '-')
           || ' owner ' || pg_get_userbyid(p.proowner)
           || ' src ' || md5(coalesce(p.prosrc, '') || coalesce(p.probin, ''))
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
     WHERE p.pronamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'aggregate ' || a.aggfnoid::regprocedure::text || ' ' || a.aggtransfn::regproc::text || ' '
           || a.aggfinalfn::regproc::text || ' ' || a.aggcombinefn::regproc::text || ' '
           || a.aggtranstype::regtype::text || ' ' || coalesce(a.agginitval, '-')
      FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
     WHERE p.pronamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text
           || ' acl ' || coalesce(c.relacl::text, '-') || ' owner ' || pg_get_userbyid(c.relowner)
           || ' persistence ' || c.relpersistence::text || ' options ' || coalesce(c.reloptions::text, '-')
      FROM pg_class c WHERE c.relnamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' #' || a.attnum || ' '
           || format_type(a.atttypid, a.atttypmod) || ' notnull ' || a.attnotnull
           || ' default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-')
           || ' identity ' || a.attidentity::text || ' generated ' || a.attgenerated::text
           || ' collation ' || coalesce(a.attcollation::regcollation::text, '-')
           || ' acl ' || coalesce(a.attacl::text, '-')
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
     WHERE c.relnamespace = 'chronicle'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint ' || co.conrelid::regclass::text || ' ' || co.conname || ' '
           || pg_get_constraintdef(co.oid)
      FROM pg_constraint co WHERE co.connamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relnamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'chronicle'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT 'view ' || c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid)
      FROM pg_class c WHERE c.relnamespace = 'chronicle'::regnamespace AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || s.seqtypid::regtype::text || ' '
           || s.seqstart || ' ' || s.seqincrement || ' ' || s.seqmin || ' ' || s.seqmax || ' ' || s.seqcycle
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
     WHERE c.relnamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text || ' acl ' || coalesce(t.typacl::text, '-')
      FROM pg_type t WHERE t.typnamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'comment ' || i.type || ' ' || i.identity || ': ' || d.description
      FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) i
     WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM members)
        OR (d.classoid = 'pg_class'::regclass
            AND d.objoid IN (SELECT oid FROM pg_class WHERE relnamespace = 'chronicle'::regnamespace))
    UNION ALL
    SELECT 'event_trigger ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc::text || ' '
           || evtenabled::text || ' ' || coalesce(evttags::text, '-')
      FROM pg_event_trigger
    UNION ALL
    SELECT 'schema chronicle acl ' || coalesce(nspacl::text, '-') || ' owner ' || pg_get_userbyid(nspowner)
      FROM pg_namespace WHERE nspname = 'chronicle'
    UNION ALL
    SELECT 'config_dump ' || c::regclass::text || ' ' || coalesce(e.extcondition[i], '-')
      FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY AS u(c, i)
     WHERE e.extname = 'chronicle'
    UNION ALL
    SELECT 'extension ' || extname || ' ' || extversion || ' relocatable ' || extrelocatable
           || ' schema ' || extnamespace::regnamespace::text
      FROM pg_extension WHERE extname = 'chronicle'
)
SELECT line FROM lines ORDER BY line COLLATE "C";
