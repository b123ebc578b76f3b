#!/usr/bin/python3
"""device.t — the setting ntg.device through SQL (docs/gpu.md).

1. On the test server (no GPU here; CI neither): ntg.device_status() says why there is no device,
   and the reason matches the build (ntg_cuda.so installed or not: `make print-cuda-build`);
   ntg.device = 'cuda' fails with 55000, the reason as DETAIL and the HINT.
2. On a second server whose environment names the emulated kernels (NTG_CUDA_LIBRARY: the
   kernel sources compiled by the C compiler, run thread after thread on the host), the whole
   device path through SQL: training on the device (its NOTICE), generation on the device, a
   model trained on one side generating the same rows on the other, a cancel in the middle of a
   device training (the device buffers go with the memory context, the backend keeps working),
   and a kind without a device path under 'cuda'.
3. Where a real GPU is visible, the same cross-device checks on it (skipped here)."""
import os
import re
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
repo = os.environ.get("NTG_REPO", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HARNESS = os.path.join(repo, "test", "lib", "pg_harness.sh")
TINY = '{"dim": 16, "hidden_dim": 24, "n_layers": 2, "n_heads": 2, "epochs": 3, "batch_size": 4, "seed": 3}'
ROWS = """
DROP TABLE IF EXISTS dev_rows;
CREATE TABLE dev_rows (label text, pl integer[]);
INSERT INTO dev_rows SELECT 'web', '{100,-200,300}' FROM generate_series(1, 6);
INSERT INTO dev_rows SELECT 'web', '{100,-200}' FROM generate_series(1, 3);
INSERT INTO dev_rows SELECT 'dns', '{52,-52}' FROM generate_series(1, 6);
INSERT INTO dev_rows SELECT 'video', '{-1448,1448,-1448,1448}' FROM generate_series(1, 6);
"""


def run(script, env=None):
    """A psql script (errors not fatal) against env's server or the test server."""
    e = dict(os.environ, **(env or {}))
    return subprocess.run([taplib.PSQL, "-X", "-q", "-A", "-t", "-v", "VERBOSITY=verbose"], input=script,
                          env=e, capture_output=True, text=True, timeout=600)


def rows(server, sql):
    r = run("SET ntg.progress = off;\n" + sql, server)
    if r.returncode != 0 or "ERROR" in r.stderr:
        raise RuntimeError(r.stderr)
    return r.stdout.strip()


def cross_device(server, label):
    """Train on cuda and on cpu; each model generates the same rows on both devices."""
    r = run("SET ntg.device = cuda;\n" + ROWS +
            "SELECT model FROM ntg.train('dev_gpu', 'llama', 'SELECT label, pl FROM dev_rows', '%s', replace => true);\n"
            % TINY, server)
    ok(r.returncode == 0 and "dev_gpu" in r.stdout, "%s: ntg.train under ntg.device = cuda" % label, r.stderr)
    notice = re.search(r"NOTICE:  00000: (training on cuda[^\n]*)", r.stderr)
    ok(notice is not None, "%s: its NOTICE names the device (%s)" % (label, notice.group(1) if notice else "-"),
       r.stderr)
    rows(server, "SET ntg.device = cpu; SELECT ntg.train('dev_cpu', 'llama', 'SELECT label, pl FROM dev_rows', '%s', replace => true);" % TINY)
    same = rows(server, """
SELECT g.bytes = c.bytes, g.config = c.config, cardinality(g.loss_history) = 3,
       (SELECT bool_and(abs(a - b) <= 1e-4 * b) FROM unnest(g.loss_history, c.loss_history) AS u(a, b))
FROM ntg.models g, ntg.models c WHERE g.name = 'dev_gpu' AND c.name = 'dev_cpu'""")
    ok(same == "t|t|t|t", "%s: the same stored size and configuration, losses within 1e-4 of the CPU's" % label, same)
    launches = "SELECT launches FROM ntg.device_status()"
    for model in ("dev_gpu", "dev_cpu"):
        # one session per device, so that launches counts what its generation ran on the device
        q = "SELECT md5(string_agg(g::text, ';')) FROM ntg.generate('%s', n => 60, seed => 4) AS g;" % model
        on_cpu = rows(server, "SET ntg.device = cpu; " + q + launches).split()
        on_gpu = rows(server, "SET ntg.device = cuda; " + q + launches).split()
        ok(len(on_cpu) == 2 and on_cpu[0] == on_gpu[0],
           "%s: the %s-trained model generates the same rows on either device"
           % (label, "device" if model == "dev_gpu" else "CPU"), "%s / %s" % (on_cpu, on_gpu))
        ok(on_cpu[1] == "0" and int(on_gpu[1]) > 0,
           "%s: ... the CPU with no kernel launched, the device with %s" % (label, on_gpu[1]), on_cpu + on_gpu)


def test_server_without_device():
    status = rows({}, "SELECT setting || '|' || coalesce(device, 'none') || '|' || detail FROM ntg.device_status()")
    setting, device, detail = status.split("|", 2)
    ok(setting == "auto", "ntg.device is auto by default", status)
    if device == "cuda":
        tap.skip(4, "a CUDA device is visible to the test server")
        cross_device({}, "GPU")
        return
    built = subprocess.run(["make", "-s", "-C", repo, "print-cuda-build"], capture_output=True,
                           text=True).stdout.strip()
    want = "No CUDA device is visible" if built == "yes" else "ntg was built without CUDA kernels"
    ok(device == "cpu" and detail.startswith(want),
       "without a device, auto is the CPU and the detail says why (kernels built: %s)" % built, status)
    r = run("SET ntg.device = cuda;\n" + ROWS +
            "SELECT ntg.train('dev_x', 'llama', 'SELECT label, pl FROM dev_rows');\n")
    ok("ERROR:  55000: no CUDA device is available" in r.stderr, "cuda: training fails with 55000", r.stderr)
    ok(("DETAIL:  " + want) in r.stderr, "with the reason as DETAIL", r.stderr)
    ok("HINT:  Set ntg.device to 'auto' or 'cpu' to run on the CPU." in r.stderr, "and the hint", r.stderr)
    rows({}, "DROP TABLE dev_rows")


def emulated_server():
    """A second server that loads the emulated kernels; its psql environment, or None."""
    lib = os.path.join(repo, "test", "unit", "bin", "ntg_cuda_emu.so")
    subprocess.run(["make", "-s", "-C", repo, "test/unit/bin/ntg_cuda_emu.so"], capture_output=True)
    bindir = os.path.dirname(taplib.PSQL)
    d = tempfile.mkdtemp(prefix="ntg-device-pg.")
    env = dict(os.environ, NTG_CUDA_LIBRARY=lib, NTG_BINDIR=bindir)
    out = subprocess.run(["bash", HARNESS, "start", d, "54341"], env=env, capture_output=True, text=True)
    if not ok(out.returncode == 0 and os.path.exists(lib), "a server with the emulated kernels starts", out.stderr):
        shutil.rmtree(d, ignore_errors=True)
        return None, d
    server = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    server.pop("NTG_BINDIR", None)
    rows(server, "CREATE EXTENSION ntg;")
    return server, d


def test_emulated(server):
    status = rows(server, "SELECT setting || '|' || device || '|' || detail || '|' || launches FROM ntg.device_status()")
    ok(status == "auto|cuda|emulated device (kernels run on the host)|0",
       "device_status(): auto runs on the (emulated) device, nothing launched yet", status)
    cross_device(server, "emulated")
    # a cancel in the middle of a training on the device
    r = run("SET ntg.device = cuda;\nSET ntg.progress = off;\nSET statement_timeout = '1500ms';\n"
            "SELECT ntg.train('dev_long', 'llama', 'SELECT label, pl FROM dev_rows', "
            "'{\"dim\": 32, \"hidden_dim\": 64, \"epochs\": 100000, \"batch_size\": 1}');\n"
            "RESET statement_timeout;\n\\echo sqlstate :LAST_ERROR_SQLSTATE\n"
            "SELECT count(*) FROM ntg.generate('dev_gpu', n => 10, seed => 1);\n"
            "SELECT count(*) FROM ntg.models WHERE name = 'dev_long';\n", server)
    ok(r.stdout.split() == ["sqlstate", "57014", "30", "0"],
       "a cancelled device training stores nothing; the backend then generates on the device", r.stdout + r.stderr)
    forest = rows(server, "SET ntg.device = cuda; SELECT model FROM ntg.rf_train('dev_rf', 'SELECT label, pl FROM dev_rows', '{\"n_estimators\": 3}')")
    ok(forest == "dev_rf", "a kind without a device path trains under cuda (on the CPU)", forest)


def main():
    test_server_without_device()
    server, d = emulated_server()
    try:
        if server is not None:
            test_emulated(server)
    finally:
        subprocess.run(["bash", HARNESS, "stop", d], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
