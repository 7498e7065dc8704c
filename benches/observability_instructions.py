#!/usr/bin/env python3
"""Instructions per request that metrics and the access log add (issue 11, "Speed").

`cargo bench --bench observability` measures CPU time, which on a shared VM drifts by
more than the effect from one second to the next. This counts instructions instead,
which do not drift: the release server runs under valgrind's callgrind, once per
variant (both off; both on with text lines; both on with JSON lines) and request count,
and serves that many pre-signed 4 KiB GETs over one keep-alive connection. Two counts
per variant (`N1` and `N2` requests) cancel start-up and shut-down:

    per request = (instructions at N2 - instructions at N1) / (N2 - N1)

It prints each variant's user-space instructions per request, the "on" variants'
ratio to "off", and the functions that account for the difference. What it does not
see: the kernel (the log thread's write(2)), caches, and the wake-ups that the CPU-time
bench includes; it is the direct cost in user space, for comparing builds.

    apt-get install -y valgrind
    cargo build --release && python3 benches/observability_instructions.py [N1 N2]

Standard library only; about a minute with the defaults (1000 and 3000).
"""
import collections
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cos_sign

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LOCALCOS_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "localcos")
ID, KEY = "AKIDlocalcosObsInstr0000000000000000", "localcosObsInstrSecretKey0000000"
BUCKET, OBJECT = "obs-1250000000", "obj-4k"
HOST = f"{BUCKET}.cos.ap-guangzhou.myqcloud.com"

VARIANTS = [
    ("both off", ["--metrics", "off", "--access-log", "off"]),
    ("both on, text lines", ["--metrics", "on", "--access-log", "on", "--log-format", "text"]),
    ("both on, JSON lines", ["--metrics", "on", "--access-log", "on", "--log-format", "json"]),
]


def run(flags, requests, out):
    """Runs one server under callgrind for `requests` GETs; returns its callgrind file and
    the number of access-log lines it wrote."""
    work = tempfile.mkdtemp(prefix="localcos-instr-")
    env = dict(os.environ, LOCALCOS_SECRET_ID=ID, LOCALCOS_SECRET_KEY=KEY,
               # No re-exec at start-up (src/memcpy_fix.rs): callgrind would lose the process.
               LOCALCOS_KEEP_MEMCPY="1")
    env.pop("RUST_LOG", None)
    log = open(os.path.join(work, "stderr"), "wb")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", BIN, "serve",
         "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"),
         "--bucket", BUCKET, *flags],
        env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        # The first stdout line is the banner, ending in the bound address.
        banner = server.stdout.readline().strip()
        if not banner:
            raise SystemExit(f"server did not start; see {log.name}")
        addr = banner.rsplit("/", 1)[-1]
        conn = http.client.HTTPConnection(addr, timeout=60)
        path = "/" + OBJECT
        auth = cos_sign.header(ID, KEY, "PUT", path, HOST)
        conn.request("PUT", path, body=b"x" * 4096, headers={"Host": HOST, "Authorization": auth})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, f"PUT answered {resp.status}"
        query = cos_sign.query(ID, KEY, "GET", path, HOST)
        for _ in range(requests):
            conn.request("GET", f"{path}?{query}", headers={"Host": HOST})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200 and len(body) == 4096, (resp.status, body[:200])
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=120)
        log.close()
    lines = sum(1 for line in open(os.path.join(work, "stderr"), "rb") if b"localcos::access" in line)
    shutil.rmtree(work, ignore_errors=True)
    return out, lines


def totals(path):
    """Total instructions and instructions by function (self cost) of a callgrind file."""
    text = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", path],
                          capture_output=True, text=True, check=True).stdout
    total, by_fn = None, collections.Counter()
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if not m:
            continue
        count, name = int(m.group(1).replace(",", "")), m.group(2)
        if name.startswith("PROGRAM TOTALS"):
            total = count
            continue
        name = re.sub(r" \[[^]]*\]$", "", name)
        by_fn[name.split(":", 1)[-1]] += count
    return total, by_fn


def main():
    n1, n2 = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (1000, 3000)
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y valgrind")
    if not os.path.exists(BIN):
        raise SystemExit(f"no binary at {BIN}: cargo build --release (or set LOCALCOS_BIN)")
    tmp = tempfile.mkdtemp(prefix="localcos-instr-out-")
    results = {}
    for label, flags in VARIANTS:
        counts = []
        for n in (n1, n2):
            out, lines = run(flags, n, os.path.join(tmp, f"cg-{len(results)}-{n}.out"))
            expected = 0 if "off" in label else n + 1
            assert lines == expected, f"{label}: {lines} access lines for {n} GETs, expected {expected}"
            counts.append(totals(out))
        (t1, f1), (t2, f2) = counts
        per_fn = {k: (f2[k] - f1[k]) / (n2 - n1) for k in set(f1) | set(f2)}
        results[label] = ((t2 - t1) / (n2 - n1), per_fn)
        print(f"{label:24} {results[label][0]:10.0f} instructions per request", flush=True)
    off, off_fn = results[VARIANTS[0][0]]
    for label, _ in VARIANTS[1:]:
        on, on_fn = results[label]
        print(f"\n{label} / both off: {on / off:.4f} ({on - off:+.0f} instructions per request)")
        diff = sorted(((on_fn.get(k, 0) - off_fn.get(k, 0), k) for k in set(on_fn) | set(off_fn)),
                      key=lambda d: -abs(d[0]))
        for d, name in diff[:15]:
            if abs(d) >= 5:
                print(f"  {d:+8.0f}  {name[:110]}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
