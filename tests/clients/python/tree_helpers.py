"""A local directory tree with awkward names, for the sync clients (rclone,
s3cmd): nested folders, spaces, unicode, `+ % # & ? ' " ~`, a 0-byte file and a
multi-MiB file that goes multipart with a small chunk size.

Also the environment those clients run in (NOTES 21): a minimal one built for
each subprocess, so the machine's proxies and AWS_* settings (AWS_CA_BUNDLE
breaks rclone's S3 backend: "LoadCustomCABundleError") never reach them.
"""

import hashlib
import os
from pathlib import Path

# Relative path -> content. Bytes are deterministic so failures reproduce.
BIG_SIZE = 6 * 1024 * 1024 + 12345  # > 5 MiB: two parts at a 5 MiB chunk size


def big_bytes(size: int = BIG_SIZE, seed: bytes = b"localcos") -> bytes:
    out = bytearray()
    block = seed
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 128  # 4 KiB per hash: fast, not trivially compressible
    return bytes(out[:size])


TREE = {
    "top.txt": b"top level\n",
    "dir one/file with spaces.txt": b"spaces in the folder and the name\n",
    "dir one/\u00fcn\u00ef c\u00f8d\u00e9/\u65e5\u672c\u8a9e.txt": "unicode \u2713\n".encode(),
    "dir one/\u00fcn\u00ef c\u00f8d\u00e9/deep/empty": b"",
    "a+b/c+d.txt": b"plus signs stay plus signs\n",
    "p%20q/100%.txt": b"percent signs are not escapes\n",
    "odd/h#sh & amp.txt": b"hash and ampersand\n",
    "odd/what?.txt": b"question mark\n",
    "odd/~tilde 'single' \"double\".txt": b"quotes\n",
    "odd/semi;colon=equals,comma@at.txt": b"more punctuation\n",
    "big/multipart.bin": None,  # filled with big_bytes()
}


def tree_content() -> dict:
    return {k: (big_bytes() if v is None else v) for k, v in TREE.items()}


def write_tree(root: Path, files: dict) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict:
    """Every file under root, relative path (with `/`) -> bytes."""
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def change_tree(root: Path, files: dict) -> dict:
    """Local changes for a sync: one file added, one modified, two deleted
    (one of them the only file of its folder). Returns the new content."""
    files = dict(files)
    files["added/new file \u00e9+.txt"] = b"added after the first upload\n"
    files["a+b/c+d.txt"] = b"modified: a different length and content\n"
    for gone in ("odd/h#sh & amp.txt", "p%20q/100%.txt"):
        (root / gone).unlink()
        del files[gone]
    (root / "p%20q").rmdir()
    write_tree(root, {k: files[k] for k in ("added/new file \u00e9+.txt", "a+b/c+d.txt")})
    return files


def client_env(home: Path, **extra) -> dict:
    """A minimal environment for one client subprocess: PATH, a private HOME
    (no ~/.s3cfg, ~/.config/rclone), UTF-8, plus ``extra``. No proxy and no
    AWS_* variable unless given in ``extra``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
    }
    env.update(extra)
    return env
