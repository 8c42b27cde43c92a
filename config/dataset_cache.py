"""The signed cache of a validated dataset: parsing and validating cost more than the rest
of a CLI command together, so a dataset read before from the very same files is reused.

The cache is a pickle, which runs code when loaded: it is read only from a directory
that is this user's own and writable by nobody else, and only with the keyed digest
written beside it, so a file planted there by anyone else is never unpickled. Any
failure to read or write it only costs speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
import secrets
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import VERSION as pydantic_version

from config.dataset import Dataset

_CACHE_KEY = "dataset-cache.key"
_DIGEST = 32


def cached(
    cache_dir: Path, inputs: Iterable[Path], salt: str, build: Callable[[], Dataset]
) -> Dataset:
    """The dataset cached for exactly these inputs, or the one `build` makes, kept for next time.

    `inputs` are every file the dataset comes from, the code that reads them included;
    `salt` names whatever else decides it (the operator's directory).
    """
    cache_file = cache_dir / f"dataset-{_fingerprint(inputs, salt)}.pickle"
    key = _cache_key(cache_dir)
    found = _read_cache(cache_file, key) if key is not None else None
    if found is not None:
        return found
    dataset = build()
    if key is not None:
        with contextlib.suppress(OSError):  # a read-only cache directory only costs speed
            for stale in cache_dir.glob("dataset-*.pickle"):
                stale.unlink(missing_ok=True)
            partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
            data = pickle.dumps(dataset, protocol=pickle.HIGHEST_PROTOCOL)
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(hmac.digest(key, data, "sha256") + data)
            partial.replace(cache_file)
    return dataset


def _owned_privately(path: Path) -> bool:
    """True when `path` is no link, is this user's, and no one else may write it."""
    try:
        stat = path.lstat()
    except OSError:
        return False
    return not path.is_symlink() and stat.st_uid == os.getuid() and not stat.st_mode & (0o022)


def _cache_key(cache_dir: Path) -> bytes | None:
    """The key of the cache's digests, made on first use; None where it cannot be trusted."""
    with contextlib.suppress(OSError):
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _owned_privately(cache_dir):
        return None
    path = cache_dir / _CACHE_KEY
    with contextlib.suppress(FileExistsError, OSError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    if not _owned_privately(path):
        return None
    try:
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == 32 else None


def _read_cache(cache_file: Path, key: bytes) -> Dataset | None:
    """The cached dataset, if the file is private and its digest is the key's."""
    if not _owned_privately(cache_file):
        return None
    try:
        blob = cache_file.read_bytes()
    except OSError:
        return None
    digest, data = blob[:_DIGEST], blob[_DIGEST:]
    if not hmac.compare_digest(digest, hmac.digest(key, data, "sha256")):
        return None
    try:
        cached = pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        return None  # one from another version: validate afresh
    return cached if isinstance(cached, Dataset) else None


def _fingerprint(inputs: Iterable[Path], salt: str) -> str:
    """Identity of the inputs: every file's path, size and mtime, and this cache's code."""
    digest = hashlib.sha256(f"{sys.version}|{pydantic_version}|{salt}".encode())
    for path in [Path(__file__), *inputs]:
        stat = path.stat()
        digest.update(f"|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]
