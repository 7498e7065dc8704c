#!/usr/bin/env python3
"""Memory while streaming one very large object: PUT then GET of a 2 GiB object.

Starts the release binary on a temporary data dir, streams a 2 GiB body in 1 MiB
pieces (never held in memory here either), reads it back, and samples the
server's VmRSS every 50 ms. Target (foundation issue): peak RSS under 100 MiB.

    cargo build --release && python3 benches/big_object_memory.py [SIZE_MIB]

Standard library only. Needs ~2 GiB free disk for the data dir.
"""
import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import cos_sign

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LOCALCOS_BIN") or os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "localcos")
ID, KEY = "AKIDbigobject", "big-object-key"


def auth(method, path, host):
    return cos_sign.header(ID, KEY, method, path, host)


def main():
    size = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else 2 << 30
    data_dir = tempfile.mkdtemp(prefix="localcos-bigmem-")
    env = dict(os.environ, LOCALCOS_SECRET_ID=ID, LOCALCOS_SECRET_KEY=KEY)
    proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--bucket", "big"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        host = proc.stdout.readline().strip().rsplit("/", 1)[-1]
        rss = lambda: int(open(f"/proc/{proc.pid}/status").read().split("VmRSS:")[1].split("kB")[0]) // 1024
        idle = rss()
        peak = [idle]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss())
                time.sleep(0.05)

        threading.Thread(target=sample, daemon=True).start()
        piece = bytes(range(256)) * 4096  # 1 MiB
        md5 = hashlib.md5()
        t0 = time.time()
        conn = http.client.HTTPConnection(host)
        conn.putrequest("PUT", "/big/object")
        conn.putheader("Authorization", auth("put", "/big/object", host))
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        for _ in range(size // len(piece)):
            conn.send(piece)
            md5.update(piece)
        resp = conn.getresponse()
        resp.read()
        put_s = time.time() - t0
        assert resp.status == 200, resp.status
        put_peak = peak[0]
        t0 = time.time()
        conn = http.client.HTTPConnection(host)
        conn.request("GET", "/big/object", headers={"Authorization": auth("get", "/big/object", host)})
        resp = conn.getresponse()
        got = hashlib.md5()
        n = 0
        while chunk := resp.read(1 << 20):
            got.update(chunk)
            n += len(chunk)
        get_s = time.time() - t0
        done.set()
        assert resp.status == 200 and n == size and got.digest() == md5.digest(), "GET body differs"
        mib = size >> 20
        print(f"object {mib} MiB: PUT {mib / put_s:.0f} MiB/s, GET {mib / get_s:.0f} MiB/s (bytes verified)")
        print(f"server RSS: idle {idle} MiB, peak during PUT {put_peak} MiB, peak overall {peak[0]} MiB (target < 100 MiB)")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
