#!/usr/bin/python3
"""TAP: test/run.sh's counters count honestly, at one grain, on made-up test output.

test/lib/tap_count.pl (TAP subtests): a passing subtest passes; `ok # skip` and a file that skips
as a whole (`1..0 # SKIP`) are skipped, not passed; `not ok` fails, `not ok # TODO` does not; a
file that dies, breaks its plan or exits non-zero without a failing subtest is one failure more;
a missing file is one failure.  test/lib/regress_count.sh (pg_regress files): `ok` passes unless
the file's output has a `skipped:` line (its skip variant), FAILED fails, and pg_regress failing
without a failing file is one failure.  Needs no server."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

repo = os.environ.get("NTG_REPO", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
tap = taplib.Tap()

TAP_FILES = {
    # name: (script body, expected (passed, failed, skipped))
    "pass.t": ('echo 1..3; echo ok 1; echo ok 2 - two; echo ok 3', (3, 0, 0)),
    "mixed.t": ('echo 1..5; echo ok 1; echo "not ok 2 - bad"; echo "ok 3 # skip no data"; '
                'echo "ok 4 # SKIP no data either"; echo "not ok 5 # TODO later"', (2, 1, 2)),
    "skipall.t": ('echo "1..0 # SKIP nothing here"', (0, 0, 1)),
    "died.t": ('echo 1..5; echo ok 1; echo ok 2; exit 3', (2, 1, 0)),
    "noplan.t": ('echo ok 1; echo "not ok 2"', (1, 2, 0)),
    "exit1.t": ('echo ok 1; echo 1..1; exit 1', (1, 1, 0)),
}


def tap_count(tmp, files):
    counts = os.path.join(tmp, "counts")
    if os.path.exists(counts):
        os.unlink(counts)
    out = subprocess.run(["perl", os.path.join(repo, "test", "lib", "tap_count.pl"), "--counts", counts] + files,
                         cwd=tmp, capture_output=True, text=True)
    got = tuple(int(v) for v in open(counts).read().split()) if os.path.exists(counts) else None
    return got, out


def regress_count(tmp, log, status, outputs):
    results = os.path.join(tmp, "results")
    os.makedirs(results, exist_ok=True)
    for name, text in outputs.items():
        with open(os.path.join(results, name + ".out"), "w") as f:
            f.write(text)
    path = os.path.join(tmp, "regress.log")
    with open(path, "w") as f:
        f.write(log)
    out = subprocess.run(["bash", os.path.join(repo, "test", "lib", "regress_count.sh"), path, str(status), results],
                         capture_output=True, text=True)
    return tuple(int(v) for v in out.stdout.split()) if out.returncode == 0 else out.stderr


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, (body, _) in TAP_FILES.items():
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + body + "\n")
            os.chmod(path, 0o755)
        for name, (_, want) in TAP_FILES.items():
            got, out = tap_count(tmp, [name])
            tap.ok(got == want, "tap_count.pl: %s counts %s passed, failed, skipped" % (name, want),
                   "got %s\n%s%s" % (got, out.stdout, out.stderr))
        names = list(TAP_FILES) + ["missing.t"]
        want = tuple(sum(w[i] for _, w in TAP_FILES.values()) + (1 if i == 1 else 0) for i in range(3))
        got, out = tap_count(tmp, names)
        tap.ok(got == want, "tap_count.pl: all files and a missing one together count %s" % (want,),
               "got %s\n%s%s" % (got, out.stdout, out.stderr))
        tap.ok(out.returncode != 0, "tap_count.pl exits non-zero when something failed")

        log = ("============== running regression test queries        ==============\n"
               "test alpha                       ... ok           71 ms\n"
               "parallel group (2 tests):  beta gamma\n"
               "     beta                        ... ok           86 ms\n"
               "     gamma                       ... FAILED      573 ms\n"
               "test delta                       ... ok          128 ms\n"
               "test epsilon                     ... failed (ignored)      12 ms\n"
               " 2 of 5 tests failed. \n")
        outputs = {"alpha": "SELECT 1;\n", "beta": "\\echo 'skipped: no data'\nskipped: no data\n",
                   "gamma": "x\n", "delta": "-- a comment that says skipped: but not at the start\n"}
        got = regress_count(tmp, log, 1, outputs)
        tap.ok(got == (2, 2, 1), "regress_count.sh: 2 passed, 2 failed, 1 skipped (the skip variant)",
               "got %s" % (got,))
        got = regress_count(tmp, "pg_regress: could not start the temporary instance\n", 2, {})
        tap.ok(got == (0, 1, 0), "regress_count.sh: pg_regress that could not start is one failure",
               "got %s" % (got,))
        got = regress_count(tmp, "test alpha                       ... ok           71 ms\n", 0, {})
        tap.ok(got == (1, 0, 0), "regress_count.sh: one passing file", "got %s" % (got,))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
