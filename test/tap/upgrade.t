#!/usr/bin/python3
"""upgrade.t — ALTER EXTENSION ntg UPDATE from every released version gives the same catalog as a
fresh install of the current version: the same member objects, function definitions (arguments,
defaults, volatility, strictness, parallel safety, SET clauses, bodies), types, table columns,
constraints, indexes, triggers, policies, comments, privileges and pg_dump configuration.

Released versions are the frozen install scripts sql/ntg--X.Y.Z.sql; each is installed in a
database of its own and updated, then described and compared line by line with a fresh one."""
import difflib
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
repo = os.environ.get("NTG_REPO", ".")

# One line per property of every object that belongs to the extension, keyed by names, not OIDs.
DESCRIBE = r"""
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'ntg'),
mem AS (
  SELECT d.classid, d.objid FROM pg_depend d, ext
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
lines AS (
  SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) AS l FROM mem m
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure || E'\n' || pg_get_functiondef(p.oid)
         || E'\nacl ' || coalesce(p.proacl::text, '-')
         || E'\ncomment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
    FROM mem m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT 'type ' || format_type(t.oid, NULL) || ' ' || t.typtype::text
         || ' comment ' || coalesce(obj_description(t.oid, 'pg_type'), '-')
    FROM mem m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
  UNION ALL
  SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' rls ' || c.relrowsecurity
         || ' force ' || c.relforcerowsecurity || ' acl ' || coalesce(c.relacl::text, '-')
         || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  UNION ALL
  SELECT 'column ' || c.oid::regclass || '.' || a.attname || ' #'
         || (SELECT count(*) FROM pg_attribute b WHERE b.attrelid = c.oid AND b.attnum > 0
                AND NOT b.attisdropped AND b.attnum <= a.attnum) || ' '
         || format_type(a.atttypid, a.atttypmod) || ' notnull ' || a.attnotnull
         || ' identity ' || a.attidentity::text || ' generated ' || a.attgenerated::text
         || ' storage ' || a.attstorage::text
         || ' default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-')
         || ' comment ' || coalesce(col_description(c.oid, a.attnum), '-')
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
  UNION ALL
  SELECT 'column of type ' || format_type(t.oid, NULL) || '.' || a.attname || ' #'
         || (SELECT count(*) FROM pg_attribute b WHERE b.attrelid = t.typrelid AND b.attnum > 0
                AND NOT b.attisdropped AND b.attnum <= a.attnum) || ' '
         || format_type(a.atttypid, a.atttypmod)
    FROM mem m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'constraint ' || co.conrelid::regclass || ' ' || co.conname || ' '
         || pg_get_constraintdef(co.oid)
    FROM mem m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM mem m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(tg.oid)
    FROM mem m JOIN pg_trigger tg ON m.classid = 'pg_class'::regclass AND tg.tgrelid = m.objid
   WHERE NOT tg.tgisinternal
  UNION ALL
  SELECT 'policy ' || po.polrelid::regclass || ' ' || po.polname || ' ' || po.polcmd::text || ' '
         || po.polpermissive || ' ' || coalesce(pg_get_expr(po.polqual, po.polrelid), '-') || ' '
         || coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '-') || ' '
         || array_to_string(ARRAY(SELECT CASE r WHEN 0 THEN 'public' ELSE r::regrole::text END
                                  FROM unnest(po.polroles) r ORDER BY 1), ',')
    FROM mem m JOIN pg_policy po ON m.classid = 'pg_class'::regclass AND po.polrelid = m.objid
  UNION ALL
  SELECT 'schema ' || n.nspname || ' acl ' || coalesce(n.nspacl::text, '-')
         || ' comment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '-')
    FROM mem m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
  UNION ALL
  SELECT 'config dump ' || c::regclass || ' ' || coalesce(ext.extcondition[i], '-')
    FROM ext, unnest(ext.extconfig) WITH ORDINALITY AS u(c, i)
)
SELECT l FROM lines ORDER BY l
"""


def describe(db):
    return taplib.psql_db(db, DESCRIBE)


def released_versions():
    out = []
    for path in glob.glob(os.path.join(repo, "sql", "ntg--*.sql")):
        m = re.fullmatch(r"ntg--(\d+\.\d+\.\d+)\.sql", os.path.basename(path))
        if m:
            out.append(m.group(1))
    return sorted(out, key=lambda v: tuple(int(x) for x in v.split(".")))


current = taplib.psql("SELECT default_version FROM pg_available_extensions WHERE name = 'ntg'").strip()
taplib.psql("DROP DATABASE IF EXISTS ntg_upgrade_fresh")
taplib.psql("CREATE DATABASE ntg_upgrade_fresh")
taplib.psql_db("ntg_upgrade_fresh", "CREATE EXTENSION ntg")
fresh = describe("ntg_upgrade_fresh")
tap.ok(fresh.count("\nfunction ") > 20, "a fresh install of %s has its functions" % current,
       fresh[:2000])

olds = [v for v in released_versions() if v != current]
tap.ok(len(olds) >= 1, "there is at least one released version to update from", str(olds))
for v in olds:
    db = "ntg_upgrade_" + v.replace(".", "_")
    taplib.psql("DROP DATABASE IF EXISTS %s" % db)
    taplib.psql("CREATE DATABASE %s" % db)
    try:
        taplib.psql_db(db, "CREATE EXTENSION ntg VERSION '%s'" % v)
        installed = True
    except RuntimeError as e:
        installed = False
        tap.ok(False, "version %s installs" % v, str(e))
    if installed:
        tap.ok(True, "version %s installs" % v)
        try:
            taplib.psql_db(db, "ALTER EXTENSION ntg UPDATE")
            got = taplib.psql_db(db, "SELECT extversion FROM pg_extension WHERE extname = 'ntg'").strip()
            tap.ok(got == current, "ALTER EXTENSION ntg UPDATE takes %s to %s" % (v, current), got)
        except RuntimeError as e:
            tap.ok(False, "ALTER EXTENSION ntg UPDATE takes %s to %s" % (v, current), str(e))
        updated = describe(db)
        diff = "\n".join(difflib.unified_diff(fresh.splitlines(), updated.splitlines(),
                                              "fresh " + current, "updated from " + v, lineterm="", n=1))
        tap.ok(diff == "", "the catalog updated from %s equals a fresh install" % v, diff)
    taplib.psql("DROP DATABASE IF EXISTS %s" % db)
taplib.psql("DROP DATABASE IF EXISTS ntg_upgrade_fresh")
sys.exit(tap.done())
