-- Every object of the schemas in $1, as one JSON document, in one round trip.
-- Objects that belong to an extension are left out: the extension owns them.
WITH nsp AS (
    SELECT oid, nspname FROM pg_namespace WHERE nspname = ANY($1::text[])
),
ext AS (
    SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
),
rel AS (
    SELECT c.oid, c.relname, c.relkind, n.nspname, format('%s.%s', n.nspname, c.relname) AS qualified
    FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
)
SELECT json_build_object(
  'schemas', (SELECT coalesce(json_agg(nspname ORDER BY nspname), '[]') FROM nsp),
  'tables', (
    SELECT coalesce(json_agg(json_build_object(
      'name', rel.qualified,
      'partitioned', rel.relkind = 'p',
      'comment', obj_description(rel.oid, 'pg_class'),
      'columns', (
        SELECT coalesce(json_agg(json_build_object(
          'name', a.attname,
          'data_type', format_type(a.atttypid, a.atttypmod),
          'not_null', a.attnotnull,
          'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
          'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
          'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
          'collation', CASE WHEN a.attcollation <> t.typcollation THEN
                         (SELECT format('%I.%I', cn.nspname, co.collname)
                            FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                           WHERE co.oid = a.attcollation) END,
          'comment', col_description(a.attrelid, a.attnum)
        ) ORDER BY a.attnum), '[]')
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
      ),
      'constraints', (
        SELECT coalesce(json_agg(json_build_object(
          'name', con.conname,
          'kind', con.contype,
          'definition', pg_get_constraintdef(con.oid),
          'columns', (SELECT coalesce(json_agg(an.attname::text ORDER BY k.ord), '[]')
                        FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute an ON an.attrelid = con.conrelid AND an.attnum = k.attnum),
          'references', (SELECT format('%s.%s', fn.nspname, fc.relname)
                           FROM pg_class fc JOIN pg_namespace fn ON fn.oid = fc.relnamespace
                          WHERE fc.oid = con.confrelid),
          'referenced_columns', (SELECT coalesce(json_agg(fa.attname::text ORDER BY k.ord), '[]')
                                   FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                                   JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.attnum),
          'validated', con.convalidated
        ) ORDER BY con.conname), '[]')
        FROM pg_constraint con WHERE con.conrelid = rel.oid AND con.contype IN ('p', 'u', 'f', 'c', 'x')
      ),
      'indexes', (
        SELECT coalesce(json_agg(json_build_object(
          'name', ic.relname,
          'unique', i.indisunique,
          'method', am.amname,
          'definition', pg_get_indexdef(i.indexrelid),
          'backs_constraint', EXISTS (SELECT 1 FROM pg_constraint bc
                                       WHERE bc.conindid = i.indexrelid AND bc.conrelid = i.indrelid
                                         AND bc.contype IN ('p', 'u', 'x')),
          'keys', (SELECT coalesce(json_agg(json_build_object(
                     'column', an.attname::text,
                     'expression', CASE WHEN k.attnum = 0 THEN pg_get_indexdef(i.indexrelid, k.ord::int, true) END,
                     'opclass', (SELECT CASE WHEN oc.opcdefault THEN NULL ELSE format('%I.%I', ocn.nspname, oc.opcname) END
                                   FROM pg_opclass oc JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
                                  WHERE oc.oid = i.indclass[k.ord - 1]),
                     'collation', (SELECT format('%I.%I', cn.nspname, co.collname)
                                     FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                                    WHERE co.oid = i.indcollation[k.ord - 1] AND co.oid <> 0
                                      AND co.oid IS DISTINCT FROM (SELECT typcollation FROM pg_type WHERE oid = (
                                            SELECT atttypid FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = k.attnum))),
                     'descending', (i.indoption[k.ord - 1] & 1) <> 0,
                     'nulls_first', (i.indoption[k.ord - 1] & 2) <> 0
                   ) ORDER BY k.ord), '[]')
                   FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                   LEFT JOIN pg_attribute an ON an.attrelid = i.indrelid AND an.attnum = k.attnum AND k.attnum > 0
                   WHERE k.ord <= i.indnkeyatts),
          'include', (SELECT coalesce(json_agg(an.attname::text ORDER BY k.ord), '[]')
                        FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute an ON an.attrelid = i.indrelid AND an.attnum = k.attnum
                       WHERE k.ord > i.indnkeyatts),
          'predicate', pg_get_expr(i.indpred, i.indrelid)
        ) ORDER BY ic.relname), '[]')
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_am am ON am.oid = ic.relam
        WHERE i.indrelid = rel.oid
      ),
      'triggers', (
        SELECT coalesce(json_agg(json_build_object(
          'name', tg.tgname,
          'definition', pg_get_triggerdef(tg.oid, true)
        ) ORDER BY tg.tgname), '[]')
        FROM pg_trigger tg WHERE tg.tgrelid = rel.oid AND NOT tg.tgisinternal
      )
    ) ORDER BY rel.qualified), '[]')
    FROM rel WHERE rel.relkind IN ('r', 'p')
  ),
  'views', (
    SELECT coalesce(json_agg(json_build_object(
      'name', rel.qualified,
      'materialized', rel.relkind = 'm',
      'definition', pg_get_viewdef(rel.oid, true),
      'comment', obj_description(rel.oid, 'pg_class')
    ) ORDER BY rel.qualified), '[]')
    FROM rel WHERE rel.relkind IN ('v', 'm')
  ),
  'sequences', (
    SELECT coalesce(json_agg(json_build_object(
      'name', rel.qualified,
      'data_type', format_type(s.seqtypid, NULL),
      'start', s.seqstart::text,
      'increment', s.seqincrement::text,
      'min', s.seqmin::text,
      'max', s.seqmax::text,
      'cache', s.seqcache::text,
      'cycle', s.seqcycle,
      'owned_by', (SELECT format('%s.%s', ot.qualified, oa.attname)
                     FROM pg_depend dep
                     JOIN rel ot ON ot.oid = dep.refobjid
                     JOIN pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
                    WHERE dep.classid = 'pg_class'::regclass AND dep.objid = rel.oid AND dep.deptype = 'a')
    ) ORDER BY rel.qualified), '[]')
    FROM rel JOIN pg_sequence s ON s.seqrelid = rel.oid
    WHERE rel.relkind = 'S'
      -- An identity column's sequence is the column's: it is modelled there.
      AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass
                        AND dep.objid = rel.oid AND dep.deptype = 'i')
  ),
  'types', (
    SELECT coalesce(json_agg(json_build_object(
      'name', format('%s.%s', n.nspname, t.typname),
      'kind', t.typtype,
      'labels', (SELECT coalesce(json_agg(e.enumlabel ORDER BY e.enumsortorder), '[]')
                   FROM pg_enum e WHERE e.enumtypid = t.oid),
      'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
      'not_null', t.typnotnull,
      'default', t.typdefault,
      'checks', (SELECT coalesce(json_agg(json_build_object('name', con.conname,
                                                             'definition', pg_get_constraintdef(con.oid))
                                          ORDER BY con.conname), '[]')
                   FROM pg_constraint con WHERE con.contypid = t.oid),
      'comment', obj_description(t.oid, 'pg_type')
    ) ORDER BY n.nspname, t.typname), '[]')
    FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd')
      AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = t.oid)
  ),
  'routines', (
    SELECT coalesce(json_agg(json_build_object(
      'name', format('%s.%s', n.nspname, p.proname),
      'arguments', pg_get_function_identity_arguments(p.oid),
      'procedure', p.prokind = 'p',
      'definition', pg_get_functiondef(p.oid),
      'comment', obj_description(p.oid, 'pg_proc')
    ) ORDER BY n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), '[]')
    FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
  )
)::text AS model
