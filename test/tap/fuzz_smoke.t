#!/usr/bin/python3
"""fuzz_smoke.t — the two libFuzzer targets of test/fuzz, built with ASan and UBSan (undefined
behaviour fatal), each run over its seeds and a fixed number of inputs mutated from them with a fixed
random seed: the capture reader (fuzz_capture.c; seeds: the project's captures and the benchmark
data's fixture captures) and the model loader (fuzz_model_loader.c; seeds: a saved tiny model of
every kind, the int8 copies, older llama formats).  Every input must load or be refused without a
crash, an undefined behaviour, a leak or a hang.

Not a fuzzing campaign (`test/fuzz/run_fuzz.sh SECONDS` and `run_model_loader.sh SECONDS` are): a
regression check that the same tree runs on the same inputs each time.  It would have caught a loaded
model's copy index leaking in the loader harness.  Needs clang with libFuzzer (test/deps.sh
installs it); skips without clang."""
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

# (script, runs, fewest seeds it must have loaded): runs are sized for ~15-30 s each on 2 cores.
TARGETS = [
    ("capture reader", "test/fuzz/run_fuzz.sh", 100000, 6),
    ("model loader", "test/fuzz/run_model_loader.sh", 6000, 15),
]


def run_target(name, script, runs, min_seeds):
    scratch = tempfile.mkdtemp(prefix="ntg-fuzz-smoke.")
    try:
        env = dict(os.environ, NTG_FUZZ_CORPUS=os.path.join(scratch, "corpus"))
        args = ["bash", script, "0", "-runs=%d" % runs, "-seed=1", "-timeout=60",
                "-artifact_prefix=%s/" % scratch]
        rc, out = taplib.run(args, 900, cwd=repo, env=env)
        # (a slow-unit-* file only says an input took over 10 s: not a finding)
        artifacts = [os.path.basename(p) for p in glob.glob(os.path.join(scratch, "*-*"))
                     if re.match(r"(crash|leak|timeout|oom)-", os.path.basename(p))]
        done = re.search(r"^Done (\d+) runs", out, re.M)
        seeds = re.search(r"seed corpus: files: (\d+)", out)
        ok(rc == 0 and not artifacts,
           "%s: %d inputs, no crash, undefined behaviour, leak or hang" % (name, runs),
           "exit status %s, artifacts %s\n%s" % (rc, artifacts, out))
        ok(done is not None and int(done.group(1)) >= runs,
           "%s: ran all %d inputs" % (name, runs), out[-3000:])
        ok(seeds is not None and int(seeds.group(1)) >= min_seeds,
           "%s: started from at least %d seeds (%s)" % (name, min_seeds, seeds.group(1) if seeds else "none"),
           out[-3000:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    if shutil.which("clang") is None and shutil.which("clang-14") is None:
        print("1..0 # SKIP clang is not installed (test/deps.sh installs it)")
        return 0
    for target in TARGETS:
        run_target(*target)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
