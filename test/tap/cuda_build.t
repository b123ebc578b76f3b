#!/usr/bin/python3
"""cuda_build.t — both builds of the CUDA switch (Makefile NTG_CUDA=auto|yes|no, docs/gpu.md).

ntg.so never links CUDA, whatever the switch: its dynamic dependencies and undefined symbols name
no CUDA library (a server without the CUDA runtime loads it).  In a scratch copy of the built tree:
`make NTG_CUDA=no install` installs ntg.so and no kernels and says so; where nvcc is found,
`make NTG_CUDA=yes install` installs ntg_cuda.so beside it, the kernels library exports only its
table (ntg_cuda_api), carries the CUDA runtime statically and needs no CUDA library to load (it
loads cuBLAS when a device starts), and ntg.so is the same file in both installs.  Without nvcc, NTG_CUDA=yes stops with a clear error."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
repo = os.path.abspath(os.environ.get("NTG_REPO", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
CUDA_LIB = re.compile(r"cuda|cublas|nvidia", re.I)


def sh(*args, cwd=repo):
    r = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def needed(lib):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", sh("readelf", "-d", lib)[1])


def symbols(lib, which):
    rc, out = sh("nm", "-D", which, lib)
    return {line.split()[-1] for line in out.splitlines() if line.strip()} if rc == 0 else None


def check_ntg_so(lib, where):
    deps = needed(lib)
    ok(deps and not [d for d in deps if CUDA_LIB.search(d)],
       "%s: ntg.so needs no CUDA library (%s)" % (where, " ".join(deps)))
    undef = symbols(lib, "--undefined-only") or {"?"}
    ok(not [s for s in undef if re.match(r"(cuda|cublas|cu[A-Z])", s)],
       "%s: ntg.so calls no CUDA function directly (it dlopen()s the kernels)" % where,
       " ".join(sorted(s for s in undef if s.startswith("cu"))))


def main():
    check_ntg_so(os.path.join(repo, "ntg.so"), "this build")
    pkglib = sh("pg_config", "--pkglibdir")[1].strip()
    nvcc = sh("make", "-s", "NTG_CUDA=auto", "print-cuda-build")[1].strip() == "yes"
    scratch = tempfile.mkdtemp(prefix="ntg-cuda-build.")
    try:
        tree = os.path.join(scratch, "tree")
        shutil.copytree(repo, tree, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", "tmp_install", "tmp_check", "tmp_pgtap", "tmp_logs", "results"))
        rc, out = sh("make", "-s", "NTG_CUDA=no", "install", "DESTDIR=" + scratch + "/no", cwd=tree)
        inst_no = scratch + "/no" + pkglib
        ok(rc == 0 and os.path.exists(inst_no + "/ntg.so") and not os.path.exists(inst_no + "/ntg_cuda.so"),
           "NTG_CUDA=no installs ntg.so and no kernels", out)
        ok("building without CUDA kernels (NTG_CUDA=no)" in out, "and says so", out)
        if not nvcc:
            rc, out = sh("make", "-s", "NTG_CUDA=yes", "print-cuda-build", cwd=tree)
            ok(rc != 0 and "NTG_CUDA=yes but nvcc is not found" in out, "no nvcc: NTG_CUDA=yes stops, saying why", out)
            tap.skip(5, "no nvcc: the CUDA build is not made here")
            return tap.done()
        rc, out = sh("make", "-s", "NTG_CUDA=yes", "install", "DESTDIR=" + scratch + "/yes", cwd=tree)
        inst_yes = scratch + "/yes" + pkglib
        lib = inst_yes + "/ntg_cuda.so"
        ok(rc == 0 and os.path.exists(lib), "NTG_CUDA=yes installs ntg_cuda.so beside ntg.so", out)
        exported = symbols(lib, "--defined-only")
        ok(exported == {"ntg_cuda_api"}, "ntg_cuda.so exports its table's entry point only",
           " ".join(sorted(exported or [])))
        deps = needed(lib)
        ok(deps and not [d for d in deps if CUDA_LIB.search(d)],
           "it carries the CUDA runtime statically and needs no CUDA library to load (%s)" % " ".join(deps))
        check_ntg_so(inst_yes + "/ntg.so", "NTG_CUDA=yes")
        same = open(inst_yes + "/ntg.so", "rb").read() == open(inst_no + "/ntg.so", "rb").read()
        ok(same, "ntg.so is the same file in both builds")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
