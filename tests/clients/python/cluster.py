"""A localcos cluster for the tests: PostgreSQL, N localcos nodes on one shared blob
directory, and nginx as a round-robin balancer in front of them.

Everything runs as child processes on 127.0.0.1 in temp dirs that are removed at
the end:

* ``Postgres``: the Debian ``postgresql`` package's binaries
  (``/usr/lib/postgresql/<ver>/bin``, or ``LOCALCOS_PG_BIN``), ``initdb`` + ``pg_ctl``
  in a temp dir.  ``initdb`` and ``postgres`` refuse to run as root, so under root
  they run as the ``postgres`` user (``runuser -u postgres --``) in a dir that user
  owns (NOTES 19).  Trust authentication on 127.0.0.1 only; one fresh DATABASE per
  cluster.
* ``Node``: ``localcos serve`` with ``LOCALCOS_META_URL=postgres://...`` and
  ``LOCALCOS_BLOB_STORE=<shared dir>``, its own node-local ``--data-dir``; it can be killed with SIGKILL and started
  again on the same port.
* ``Balancer``: Debian's nginx with the settings an S3 balancer needs (NOTES 20):
  no body size limit, no request or response buffering, HTTP/1.1 upstream, the
  client's Host, no retry on another node, the request URI passed untouched.

Run as a script it brings a cluster up for another test runner (the node:test
suite) and prints one JSON line describing it, then obeys one command per stdin
line (``kill9 I``, ``start I``, ``pg-stop``, ``pg-start``) answering ``ok`` or
``error: ...``; EOF tears everything down::

    .venv/bin/python tests/clients/python/cluster.py --secret-id ID --secret-key KEY
"""

import argparse
import atexit
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import SECRET_ID, SECRET_KEY, clean_env, localcos_bin  # noqa: E402

LISTEN_RE = re.compile(r"^localcos listening on (https?)://127\.0\.0\.1:(\d+)$")
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/bin/nginx")
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, alive=lambda: True) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            if not alive():
                return False
            time.sleep(0.02)
    return False


def http_status(port: int, path: str, timeout: float = 2.0) -> int:
    """Status of a plain GET on 127.0.0.1:port (0 when it cannot connect)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


# --- PostgreSQL -------------------------------------------------------------------


def pg_bin_dir() -> Path:
    env = os.environ.get("LOCALCOS_PG_BIN")
    if env:
        return Path(env)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL not found in /usr/lib/postgresql/<ver>/bin: install the Debian package "
            "(`apt-get install -y postgresql`; scripts/test.sh does it) or set LOCALCOS_PG_BIN"
        )
    return Path(found[-1]).parent


class Postgres:
    """A private PostgreSQL server in a temp dir, on 127.0.0.1 and a free port."""

    USER = "postgres"

    def __init__(self):
        self.bin = pg_bin_dir()
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="localcos-pg-"))
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self._dbs = 0
        self._run(
            "initdb",
            "-D", str(self.data),
            "-U", self.USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()
        atexit.register(self.destroy)

    def _cmd(self, tool, *args):
        cmd = [str(self.bin / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def _run(self, tool, *args, timeout=60):
        r = subprocess.run(
            self._cmd(tool, *args),
            cwd=self.dir,
            env=clean_env(LC_ALL="C"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
        if r.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({r.returncode}):\n"
                f"{r.stdout.decode(errors='replace')}{r.stderr.decode(errors='replace')}\n{log}"
            )
        return r.stdout.decode()

    def start(self):
        # fsync off: these tests never crash the machine, only processes; commits stay
        # synchronous, so an acknowledged commit survives an immediate stop.
        opts = (
            f"-p {self.port} -h 127.0.0.1 -k {self.dir} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast"):
        """``fast`` closes sessions cleanly; ``immediate`` is a crash (recovery on start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        r = subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data), "status"),
            env=clean_env(LC_ALL="C"),
            capture_output=True,
        )
        return r.returncode == 0

    def sql(self, statement: str, db: str = "postgres") -> str:
        return self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER, "-d", db,
            "-v", "ON_ERROR_STOP=1", "-At", "-c", statement,
        )

    def create_database(self, prefix: str = "localcos") -> str:
        self._dbs += 1
        name = f"{prefix}_{os.getpid()}_{self._dbs}"
        self.sql(f'CREATE DATABASE "{name}"')
        return name

    def url(self, db: str) -> str:
        return f"postgres://{self.USER}@127.0.0.1:{self.port}/{db}"

    def destroy(self):
        if self.dir is None:
            return
        try:
            if self.running():
                self.stop("immediate")
        except Exception as e:  # best effort at exit
            print(f"stopping PostgreSQL in {self.dir} failed: {e}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


# --- localcos nodes -----------------------------------------------------------------


def node_tmp_dirs(blob_dir) -> set:
    """The per-node temp dirs of a shared blob dir (``tmp/node-<id>``)."""
    root = Path(blob_dir or "/nonexistent") / "tmp"
    return {p for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


class Node:
    """One ``localcos serve`` of a cluster; ``kill9`` and ``start`` keep its port."""

    def __init__(self, name, args, work: Path, env: dict, blob_dir: Path = None):
        self.name = name
        self.blob_dir = blob_dir
        # This process's temp dir in the shared blob dir (``tmp/node-<id>``, a fresh one per
        # process), told apart as the one that appeared while it started.
        self.tmp_dir = None
        self.args = list(args)
        self.env = env
        self.data_dir = work / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work / f"{name}.stderr.log"
        self.port = 0
        self.proc = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        cmd = [
            str(localcos_bin()), "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", str(self.data_dir),
            *self.args,
        ]
        before = node_tmp_dirs(self.blob_dir)
        stderr = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=self.env
        )
        stderr.close()
        box = {}

        def first_line():
            box["line"] = self.proc.stdout.readline().decode("utf-8", "replace").rstrip("\r\n")

        t = threading.Thread(target=first_line, daemon=True)
        t.start()
        t.join(STARTUP_TIMEOUT)
        m = LISTEN_RE.match(box.get("line", ""))
        if not m:
            self.kill9()
            raise RuntimeError(
                f"{self.name}: no `localcos listening on` line (got {box.get('line')!r}) from "
                f"{cmd!r}; stderr:\n{self.stderr_tail()}"
            )
        self.port = int(m.group(2))
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        self.wait_ready()
        new = node_tmp_dirs(self.blob_dir) - before
        self.tmp_dir = new.pop() if len(new) == 1 else None

    @staticmethod
    def _drain(proc):
        for _ in proc.stdout:
            pass

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT):
        end = time.time() + timeout
        while time.time() < end:
            if http_status(self.port, "/-/health/ready") == 200:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} never became ready; stderr:\n{self.stderr_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


# --- nginx ----------------------------------------------------------------------------


def nginx_bin() -> str:
    for p in NGINX_PATHS:
        if os.path.isfile(p):
            return p
    raise RuntimeError(
        "nginx not found (/usr/sbin/nginx): install the Debian package "
        "(`apt-get install -y nginx`; scripts/test.sh does it)"
    )


def nginx_conf(d: Path, port: int, upstreams) -> str:
    """Round-robin over ``upstreams`` with what S3 traffic needs (NOTES 20)."""
    servers = "".join(f"        server {u} max_fails=0;\n" for u in upstreams)
    return f"""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream localcos {{
{servers}        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        large_client_header_buffers 8 64k;
        underscores_in_headers on;
        ignore_invalid_headers off;
        location / {{
            proxy_pass http://localcos;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            # COS clients read the Server header (tencent-cos): pass the node's.
            proxy_pass_header Server;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_max_temp_file_size 0;
            proxy_next_upstream off;
            proxy_read_timeout 120s;
            proxy_send_timeout 120s;
        }}
    }}
}}
"""


class Balancer:
    """nginx in the foreground on a free 127.0.0.1 port, round-robin over the nodes."""

    def __init__(self, upstreams, work: Path):
        self.dir = work / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        last = ""
        for _ in range(5):  # the free port may be taken between probe and bind
            self.port = free_port()
            conf = self.dir / "nginx.conf"
            conf.write_text(nginx_conf(self.dir, self.port, upstreams))
            self.proc = subprocess.Popen(
                [nginx_bin(), "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=clean_env(),
            )
            if wait_for_port(self.port, 10, lambda: self.proc.poll() is None):
                return
            last = (self.dir / "error.log").read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"nginx did not start: {last}")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its worker
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --- the cluster ----------------------------------------------------------------------


class Cluster:
    """N nodes over one PostgreSQL database and one shared blob dir, behind nginx.

    ``url``/``endpoint``/``port`` are the balancer's (what a client uses);
    ``nodes[i]`` are the nodes themselves (for requests that must hit one node).
    """

    def __init__(
        self,
        pg: Postgres,
        nodes: int = 3,
        gc_grace_seconds=None,
        extra_args=(),
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        balancer: bool = True,
        blob_store: str = None,
        blob_env: dict = None,
    ):
        """``blob_store`` (``s3://BUCKET/PREFIX``, with ``blob_env`` giving the nodes
        ``LOCALCOS_BLOB_ENDPOINT`` and the AWS credential variables) replaces the shared
        blob dir; ``blob_dir`` is then None."""
        self.pg = pg
        self.work = Path(tempfile.mkdtemp(prefix="localcos-cluster-"))
        if blob_store is None:
            self.blob_dir = self.work / "blobs"
            self.blob_dir.mkdir()
        else:
            self.blob_dir = None
        self.database = pg.create_database()
        self.meta_url = pg.url(self.database)
        args = []
        if gc_grace_seconds is not None:
            args += ["--gc-grace-seconds", str(gc_grace_seconds)]
        args += list(extra_args)
        # A LOCALCOS_* setting of the caller's shell must not change the nodes; the cluster
        # settings go through the environment (LOCALCOS_META_URL, LOCALCOS_BLOB_STORE), as
        # docker/compose.cluster.yml gives them (benches/cluster.rs uses the flags).
        env = {k: v for k, v in clean_env().items() if not k.startswith("LOCALCOS_")}
        env.update(
            LOCALCOS_SECRET_ID=secret_id,
            LOCALCOS_SECRET_KEY=secret_key,
            LOCALCOS_META_URL=self.meta_url,
            LOCALCOS_BLOB_STORE=str(self.blob_dir) if blob_store is None else blob_store,
        )
        if blob_store is not None:
            for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE"):
                env.pop(k, None)
            env.update(blob_env or {})
        self.nodes = []
        self.balancer = None
        try:
            for i in range(nodes):
                self.nodes.append(Node(f"node{i}", args, self.work, env, self.blob_dir))
            if balancer:
                self.balancer = Balancer([n.endpoint for n in self.nodes], self.work)
        except BaseException:
            self.stop()
            raise

    @property
    def port(self) -> int:
        return self.balancer.port

    @property
    def endpoint(self) -> str:
        return self.balancer.endpoint

    @property
    def url(self) -> str:
        return self.balancer.url

    def blob_files(self):
        """Every regular file below the shared blob dir: blobs and temp files, but not the
        heartbeat files of live nodes (``tmp/node-<id>/ALIVE``, touched while a node runs)."""
        live = {n.tmp_dir / "ALIVE" for n in self.nodes if n.alive() and n.tmp_dir}
        return [p for p in self.blob_dir.rglob("*") if p.is_file() and p not in live]


    def logs(self) -> str:
        return "\n".join(f"--- {n.name} ---\n{n.stderr_tail(1500)}" for n in self.nodes)

    def stop(self):
        if self.balancer is not None:
            self.balancer.stop()
        for n in self.nodes:
            n.stop()
        if not os.environ.get("LOCALCOS_KEEP_LOGS"):
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--secret-id", default=SECRET_ID)
    ap.add_argument("--secret-key", default=SECRET_KEY)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--gc-grace-seconds", type=int)
    ap.add_argument("extra", nargs="*", help="more `localcos serve` arguments (after --)")
    a = ap.parse_args()
    pg = Postgres()
    cluster = Cluster(
        pg, nodes=a.nodes, gc_grace_seconds=a.gc_grace_seconds, extra_args=a.extra,
        secret_id=a.secret_id, secret_key=a.secret_key,
    )

    def describe():
        return {
            "balancer": cluster.endpoint,
            "nodes": [n.endpoint for n in cluster.nodes],
            "blob_dir": str(cluster.blob_dir),
            "meta_url": cluster.meta_url,
        }

    print(json.dumps(describe()), flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                if words[0] == "kill9":
                    cluster.nodes[int(words[1])].kill9()
                elif words[0] == "start":
                    cluster.nodes[int(words[1])].start()
                elif words[0] == "pg-stop":
                    pg.stop(words[1] if len(words) > 1 else "fast")
                elif words[0] == "pg-start":
                    pg.start()
                elif words[0] == "describe":
                    print(json.dumps(describe()), flush=True)
                    continue
                else:
                    raise ValueError(f"unknown command {words[0]!r}")
                print("ok", flush=True)
            except Exception as e:
                print(f"error: {e}".replace("\n", " "), flush=True)
    finally:
        cluster.stop()
        pg.destroy()


if __name__ == "__main__":
    main()
