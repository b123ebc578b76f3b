#!/usr/bin/python3
"""conformance.t — every model kind the build has (ntg.model_kinds()), through SQL: trained with
its tiny hyperparameters, described as valid, used (generated from or classified with), profiled,
quantized in both modes when the kind can be (and refused when it cannot), refused when its stored
value is damaged, and cancelled in the middle of training without a trace in ntg.models or in the
backend's memory.  A new kind gets these checks by registering
(test/unit/test_conformance.c is the core half)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
psql = taplib.psql_script


def scalar(sql):
    r = psql("SET ntg.progress = off;\n" + sql)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


STATE = ("SELECT coalesce(string_agg(name || ':' || version || ':' || md5(weights), ',' ORDER BY name), '')"
         " FROM ntg.models")

scalar("""
DROP TABLE IF EXISTS conf_rows;
SELECT setseed(0.25);
CREATE TABLE conf_rows AS
  SELECT 'c' || (i % 3) AS label,
         ARRAY(SELECT (CASE WHEN j % 2 = 0 THEN 1 ELSE -1 END) * (40 + (i % 3) * 100 + (j * 7) % 30)
               FROM generate_series(1, 2 + i % 4) AS j) AS pl
  FROM generate_series(1, 240) AS i;
DROP TABLE IF EXISTS conf_big;
CREATE TABLE conf_big AS
  SELECT 'c' || (i % 3) AS label,
         ARRAY(SELECT (random() * 3000)::int - 1500 FROM generate_series(1, 2 + i % 8) WHERE i > 0) AS pl
  FROM generate_series(1, 20000) AS i;
""")
kinds = [line.split("|") for line in
         taplib.psql("SELECT kind, generates, classifies, quantizable, tiny_hyperparams FROM ntg.model_kinds()"
                     " ORDER BY kind")
         .splitlines() if line]
ok(len(kinds) >= 2, "the build has its model kinds: %s" % [k[0] for k in kinds])
# the hint lists the kinds in the registry's order, the order ntg.model_kinds() returns them in
quantizable = taplib.psql("SELECT string_agg(k.kind, ', ' ORDER BY k.ordinality)"
                          " FROM ntg.model_kinds() WITH ORDINALITY AS k WHERE k.quantizable").strip()


def check_quantize(kind, name, generates):
    """Both modes through ntg.quantize: smaller, valid, listed with the mode, usable, damage refused."""
    for mode in ("weight_only", "dynamic"):
        q = "%s_%s" % (name, mode)
        r = psql("SET ntg.progress = off;\nSELECT quantization, bytes < source_bytes FROM ntg.quantize('%s', '%s', '%s');"
                 % (name, q, mode))
        if not ok(r.returncode == 0 and ("%s|t" % mode) in r.stdout,
                  "%s: quantizes (%s) into a smaller value" % (kind, mode), r.stderr):
            continue
        ok(scalar("SELECT l.quantization || ':' || d.valid FROM ntg.list_models() l, ntg.describe_model('%s') d"
                  " WHERE l.name = '%s'" % (q, q)) == mode + ":true",
           "%s %s: list_models shows the mode, describe_model finds it valid" % (kind, mode))
        if generates == "t":
            a = scalar("SELECT array_agg(g::text) FROM ntg.generate('%s', n => 30, seed => 1) g" % q)
            b = scalar("SELECT array_agg(g::text) FROM ntg.generate('%s', n => 30, seed => 1) g" % q)
            ok(a == b and a != "", "%s %s: generates, the same seed the same rows" % (kind, mode))
            ok(scalar("""SELECT count(*) FROM ntg.generate('%s', n => 50, seed => 3) g, unnest(g.pl) v
                         WHERE v NOT IN (SELECT unnest(pl) FROM conf_rows)""" % q) == "0",
               "%s %s: generated values occur in the training rows" % (kind, mode))
            scalar("UPDATE ntg.models SET weights = substring(weights FROM 1 FOR octet_length(weights) - 9)"
                   " WHERE name = '%s'" % q)
            r = psql("\\set VERBOSITY verbose\nSELECT count(*) FROM ntg.generate('%s', n => 1);" % q)
            ok("XX001" in r.stderr, "%s %s: a damaged int8 value is refused as corrupt (XX001)" % (kind, mode),
               r.stderr)
        scalar("SELECT ntg.drop_model('%s')" % q)


for kind, generates, classifies, can_quantize, tiny in kinds:
    name = "conf_" + kind
    scalar("SELECT ntg.drop_model('%s', if_exists => true)" % name)
    r = psql("SET ntg.progress = off;\nSELECT model, kind FROM ntg.train('%s', '%s', 'SELECT label, pl FROM conf_rows', '%s');"
             % (name, kind, tiny))
    if not ok(r.returncode == 0 and ("%s|%s" % (name, kind)) in r.stdout,
              "%s: trains through SQL with its tiny hyperparameters" % kind, r.stderr):
        continue
    ok(scalar("SELECT valid::text || ':' || coalesce(problem, '') FROM ntg.describe_model('%s')" % name) == "true:",
       "%s: describe_model finds it valid" % kind)
    if generates == "t":
        a = scalar("SELECT array_agg(g::text) FROM ntg.generate('%s', n => 30, seed => 1) g" % name)
        b = scalar("SELECT array_agg(g::text) FROM ntg.generate('%s', n => 30, seed => 1) g" % name)
        c = scalar("SELECT array_agg(g::text) FROM ntg.generate('%s', n => 30, seed => 2) g" % name)
        ok(a == b and a != c and a != "", "%s: the same seed gives the same rows, another seed others" % kind)
        ok(scalar("""SELECT count(*) FROM ntg.generate('%s', n => 50, seed => 3) g, unnest(g.pl) v
                     WHERE v NOT IN (SELECT unnest(pl) FROM conf_rows)""" % name) == "0",
           "%s: generated values occur in the training rows" % kind)
        ok(scalar("SELECT count(DISTINCT label) || ':' || count(*) FROM ntg.generate('%s', n => 7)" % name) == "3:21",
           "%s: n rows of every class" % kind)
        r = psql("SELECT * FROM ntg.generate('%s', options => '{\"no_such_option\": 1}');" % name)
        ok("unknown sampling option" in r.stderr, "%s: an unknown sampling option is refused" % kind, r.stderr)
    if classifies == "t":
        ok(scalar("""SELECT count(*) FROM conf_rows WHERE ntg.rf_predict('%s', pl) IS NULL""" % name) == "0" and
           float(scalar("SELECT f1 FROM ntg.rf_evaluate('%s', 'SELECT label, pl FROM conf_rows') WHERE kind = 'accuracy'"
                        % name)) > 0.9,
           "%s: classifies its training rows" % kind)
    prof = scalar("SELECT (one_row_ms > 0)::text || ':' || (parameters > 0)::text || ':' || (bytes > 0)::text"
                  " FROM ntg.profile_model('%s', n => 20)" % name)
    ok(prof == "true:true:true", "%s: profile_model measures it" % kind, prof)
    if can_quantize == "t":
        check_quantize(kind, name, generates)
    else:
        r = psql("\\set VERBOSITY verbose\nSELECT ntg.quantize('%s', '%s_q');" % (name, name))
        ok("42809" in r.stderr and ("Kinds that can: %s." % quantizable) in r.stderr,
           "%s: cannot be quantized (42809), the hint names the kinds that can" % kind, r.stderr)
    # damaged: cut in half, then the checks of loading refuse it
    scalar("DROP TABLE IF EXISTS conf_keep; CREATE TABLE conf_keep AS SELECT weights FROM ntg.models WHERE name = '%s';"
           "UPDATE ntg.models SET weights = substring(weights FROM 1 FOR octet_length(weights) / 2) WHERE name = '%s'"
           % (name, name))
    use = ("SELECT count(*) FROM ntg.generate('%s', n => 1);" % name if generates == "t" else
           "SELECT ntg.rf_predict('%s', '{1,2}'::int[]);" % name)
    r = psql("\\set VERBOSITY verbose\n" + use)
    ok("XX001" in r.stderr, "%s: a truncated stored value is refused as corrupt (XX001)" % kind, r.stderr)
    ok(scalar("SELECT valid FROM ntg.describe_model('%s')" % name) == "f", "%s: describe_model says so" % kind)
    scalar("UPDATE ntg.models SET weights = (SELECT weights FROM conf_keep) WHERE name = '%s'" % name)

    # cancelled in the middle of training: nothing stored, no training memory left behind
    long = json.loads(tiny)
    if kind == "random_forest":
        long["n_estimators"] = 300
    else:
        long["epochs"] = 100000
    before = scalar(STATE)
    r = psql("SET ntg.progress = off;\nSET statement_timeout = '1s';\n"
             "SELECT ntg.train('%s', '%s', 'SELECT label, pl FROM conf_big', '%s', replace => true);\n"
             "RESET statement_timeout;\n\\echo sqlstate :LAST_ERROR_SQLSTATE\n"
             "SELECT 'alive ' || count(*) FROM pg_backend_memory_contexts WHERE name = 'ntg train';\n"
             % (name, kind, json.dumps(long)))
    ok("sqlstate 57014" in r.stdout and "alive 0" in r.stdout,
       "%s: a training cancelled by statement_timeout stops and leaves no memory behind" % kind,
       r.stdout + r.stderr)
    ok(scalar(STATE) == before, "%s: ntg.models is as it was" % kind)
    scalar("SELECT ntg.drop_model('%s')" % name)

scalar("DROP TABLE IF EXISTS conf_rows, conf_big, conf_keep")
sys.exit(tap.done())
