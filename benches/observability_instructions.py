#!/usr/bin/env python3
"""Instructions per request that metrics and the access log add (issue 11, "Speed").

`cargo bench --bench observability` measures CPU time, which on a shared VM drifts by
more than the effect from one second to the next. This counts instructions instead,
which do not drift: the release server runs under valgrind's callgrind, once per
variant (both off; both on with text lines; both on with JSON lines), and serves
pre-signed 4 KiB GETs over one keep-alive connection. Only a window is counted: after
a warm-up of 200 GETs the counts are zeroed (`callgrind_control -z`), N GETs run, and
the counts are dumped (`callgrind_control -d`), so start-up and shut-down (the index's
open and close vary by a million instructions from run to run) stay out:

    per request = instructions in the window / N

It prints each variant's user-space instructions per request, the "on" variants'
ratio to "off", and the functions that account for the difference. What it does not
see: the kernel (the log thread's write(2)), caches, and the wake-ups that the CPU-time
bench includes; it is the direct cost in user space, for comparing builds. Work that
runs on a timer (the log thread's batches, background jobs) falls into the window by its
duration, not per request: the "on" minus "off" difference varies by about 180
instructions per request from run to run.

    apt-get install -y valgrind
    cargo build --release && python3 benches/observability_instructions.py [N]

Standard library only; about 30 seconds with the default N (2000).
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

WARMUP = 200

VARIANTS = [
    ("both off", ["--metrics", "off", "--access-log", "off"]),
    ("both on, text lines", ["--metrics", "on", "--access-log", "on", "--log-format", "text"]),
    ("both on, JSON lines", ["--metrics", "on", "--access-log", "on", "--log-format", "json"]),
]


def control(option, pid):
    """Runs `callgrind_control OPTION PID`: -z zeroes the counts, -d dumps them (and zeroes)."""
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True,
                   timeout=120)


def run(flags, requests, out):
    """Runs one server under callgrind: a warm-up, then `requests` GETs counted in a dump of
    their own (the file `out` + ".1"). Returns `out` and the number of access-log lines
    the server wrote."""
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

        def gets(count):
            for _ in range(count):
                conn.request("GET", f"{path}?{query}", headers={"Host": HOST})
                resp = conn.getresponse()
                body = resp.read()
                assert resp.status == 200 and len(body) == 4096, (resp.status, body[:200])

        gets(WARMUP)
        control("-z", server.pid)  # count from here ...
        gets(requests)
        control("-d", server.pid)  # ... to here, into a dump of its own
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
    # A dump taken while the server runs lists the frames still on a thread's stack
    # (thread start, the runtime's loop) with the whole total as their own cost.
    return total, {k: v for k, v in by_fn.items() if v < 0.99 * total}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for tool in ("valgrind", "callgrind_annotate", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y valgrind")
    if not os.path.exists(BIN):
        raise SystemExit(f"no binary at {BIN}: cargo build --release (or set LOCALCOS_BIN)")
    tmp = tempfile.mkdtemp(prefix="localcos-instr-out-")
    results = {}
    for i, (label, flags) in enumerate(VARIANTS):
        out, lines = run(flags, n, os.path.join(tmp, f"cg-{i}.out"))
        expected = 0 if "off" in label else 1 + WARMUP + n
        assert lines == expected, f"{label}: {lines} access lines for {n} GETs, expected {expected}"
        # The window's dump is the first numbered file; the unnumbered one is the rest.
        total, by_fn = totals(out + ".1")
        results[label] = (total / n, {k: v / n for k, v in by_fn.items()})
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
