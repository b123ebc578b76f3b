#!/usr/bin/python3
"""unit_sanitized.t — the core's unit tests again, built with AddressSanitizer, UndefinedBehaviorSanitizer
(fatal) and LeakSanitizer: every binary must pass its own checks with no sanitizer report.

Built in a scratch copy of the tree (`make unit-build UNIT_EXTRA_CFLAGS=…`), so the plain build the
`unit` suite ran stays as it is.  test_model_loader is left out (about 12 minutes instrumented on 2
cores: every truncation and bit flip of a model of every kind); test/tap/fuzz_smoke.t runs the
loader instrumented instead, and docs/development.md gives the command for the whole set."""
import glob
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

repo = os.path.abspath(os.environ.get("NTG_REPO", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
tap = taplib.Tap()
ok = tap.ok

SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
LEFT_OUT = {"test_model_loader"}
REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer")


def main():
    scratch = tempfile.mkdtemp(prefix="ntg-unit-sanitized.")
    try:
        tree = os.path.join(scratch, "tree")
        shutil.copytree(repo, tree, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", "tmp_install", "tmp_check", "tmp_pgtap", "tmp_logs", "tmp_demo", "results", "bin", "out"))
        rc, out = taplib.run(["make", "-s", "-j%d" % max(2, os.cpu_count() or 2), "unit-build",
                              "UNIT_EXTRA_CFLAGS=" + SANITIZE], 1800, cwd=tree)
        if not ok(rc == 0, "the unit tests build with the sanitizers", out):
            return tap.done()
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1",
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
        for binary in sorted(glob.glob(os.path.join(tree, "test/unit/bin/test_*"))):
            name = os.path.basename(binary)
            if name in LEFT_OUT or not os.access(binary, os.X_OK):
                continue
            rc, out = taplib.run([binary], 900, cwd=tree, env=env)
            failed = re.findall(r"^not ok .*", out, re.M)
            ok(rc == 0 and not failed and not REPORT.search(out) and re.search(r"^1\.\.\d+", out, re.M),
               "%s: its checks pass with no sanitizer report" % name,
               "exit status %s; %s\n%s" % (rc, "; ".join(failed[:5]), out[-4000:]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
