#!/usr/bin/python3
"""bench_programs.t — the C programs of bench/ build as their scripts build them, and the two that
back the int8 figures run: bench/simd_peak.c prints its instruction table, and
bench/quantize_core.c, on a tiny model of each token kind, prints the products' share of a sampled
row through its link-time wrapper of nn_matmul (a changed nn_matmul or a lost wrapper shows here,
not in a benchmark run months later).  No timing is checked, only that the figures are there and
make sense (shares between 0 and 1, products that did multiply-adds, positive bounds)."""
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

repo = os.path.abspath(os.environ.get("NTG_REPO", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
tap = taplib.Tap()
ok = tap.ok

CORE = "test/unit/bin/libntgcore.a"
# (program, extra gcc arguments before the source, links the core): as the bench scripts build them
PROGRAMS = [
    ("aligned_rows", ["-std=gnu11", "-Isrc/core"], True),
    ("fidelity_core_bench", ["-std=gnu11", "-Isrc/core"], True),
    ("ntg_flows", ["-std=gnu11", "-Isrc/core"], True),
    ("pcap_write_core", ["-std=gnu11", "-Isrc/core"], True),
    ("quantize_core", ["-std=gnu11", "-Isrc/core", "-Wl,--wrap=nn_matmul"], True),
    ("pcap_loop", [], False),
    ("pcap_dump_floor", [], False),
    ("fresh_memory", [], False),
    ("simd_peak", [], False),
]


def dep_flags():
    out = subprocess.run(["make", "-s", "--no-print-directory", "print-dep-flags"], cwd=repo,
                         capture_output=True, text=True)
    return out.stdout.split()


def build_all(work):
    rc, out = taplib.run(["make", "-s", "-j2", "unit-build"], 1800, cwd=repo)
    ok(rc == 0, "the core library builds", out[-3000:])
    deps = dep_flags()
    for name, extra, core in PROGRAMS:
        args = ["gcc", "-O2"] + extra + ["-o", os.path.join(work, name), "bench/%s.c" % name]
        args += ([CORE] if core else []) + deps
        rc, out = taplib.run(args, 300, cwd=repo)
        ok(rc == 0, "bench/%s.c builds as its script builds it" % name, " ".join(args) + "\n" + out)
    rc, out = taplib.run(["make", "-s", "-C", "bench/research"], 600, cwd=repo)
    ok(rc == 0, "bench/research's programs build", out[-3000:])


def check_simd_peak(work):
    rc, out = taplib.run([os.path.join(work, "simd_peak")], 120)
    if "skipped: no AVX2" in out:
        tap.skip(1, "no AVX2 + FMA on this CPU: simd_peak measures nothing")
        return
    rows = dict(re.findall(r"^\| (float32 FMA|int8 AVX2)[^|]*\| ([0-9.]+) \|", out, re.M))
    ok(rc == 0 and len(rows) == 2 and all(float(v) > 0 for v in rows.values()),
       "simd_peak prints multiply-adds per ns for float32 FMAs and the int8 dot product (%s)" % rows, out)


def tiny_rows(path):
    """2 classes x 24 rows of 2 to 5 values: a model of a few seconds."""
    with open(path, "w") as f:
        for c, label in enumerate(("web", "dns")):
            for r in range(24):
                n = 2 + (r + c) % 4
                f.write("%s\t%s\n" % (label, ",".join(str((60 + 40 * c + 7 * r * k) % 1400 + 40)
                                                       for k in range(1, n + 1))))


def check_quantize_core(work, kind, params):
    rows = os.path.join(work, "rows.tsv")
    tiny_rows(rows)
    args = [os.path.join(work, "quantize_core"), "--kind", kind, "--tsv", rows, "--epochs", "1",
            "--samples", "4", "--rounds", "1"]
    for p in params:
        args += ["--param", p]
    rc, out = taplib.run(args, 600, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    share = re.findall(r"^\| (float32|weight_only|dynamic) \| ([0-9.]+) \(([0-9]+) %\) \| ([0-9.]+) \| "
                       r"([0-9.]+) \(([0-9]+) %\) \| ([0-9.]+) \| ([0-9.]+) / ([0-9.]+) \| "
                       r"([0-9.]+)x / ([0-9.]+)x \|$", out, re.M)
    modes = [m[0] for m in share]
    sane = all(0 < int(m[2]) <= 100 and 0 < int(m[5]) <= 100 and float(m[7]) > 0 and float(m[8]) > 0
               and float(m[9]) > 0 and float(m[10]) > 0 for m in share)
    ok(rc == 0 and modes == ["float32", "weight_only", "dynamic"] and sane,
       "quantize_core --kind %s: the products' share of a row, their rate and the bound, per mode" % kind,
       "exit %s\n%s" % (rc, out[-4000:]))


def main():
    if shutil.which("gcc") is None:
        print("1..0 # SKIP gcc is not installed")
        return 0
    if platform.machine() not in ("x86_64", "AMD64"):
        print("1..0 # SKIP quantize_core and simd_peak measure x86 instructions (this is %s)" % platform.machine())
        return 0
    work = tempfile.mkdtemp(prefix="ntg-bench-programs.")
    try:
        build_all(work)
        check_simd_peak(work)
        check_quantize_core(work, "mamba", ["dim=16", "n_layers=1"])
        check_quantize_core(work, "llama", ["dim=16", "n_layers=1", "n_heads=2", "hidden_dim=32"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
