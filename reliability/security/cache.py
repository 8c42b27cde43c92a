"""Files the service reads back from disk, planted by someone else: none runs or is trusted.

The dataset cache is a pickle (loading one runs code), read only from a directory that is
the user's own with the keyed digest beside it; the calendar key file is used only when
nobody else may read or change it. Each check plants the file a local attacker could
write and loads as the service does.
"""

from __future__ import annotations

import hmac
import os
import pickle
from pathlib import Path

from reliability.inputs import Lab
from reliability.security._common import Finding, _verdict


class _Runs:
    """Unpickling this writes a marker file: proof that a planted pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _cache_checks(lab: Lab) -> list[Finding]:
    from config.dataset_loader import load_dataset
    from config.keys import KeyFileError, key_from_file

    problems: list[str] = []
    marker = lab.root / "planted-pickle-ran"
    cache = lab.root / "planted-cache"
    load_dataset(None, cache_dir=cache)  # makes the cache and its key
    (cached,) = cache.glob("dataset-*.pickle")
    evil = pickle.dumps(_Runs(marker))
    shapes = {
        "a pickle without a digest": evil,
        "a pickle behind a digest of zeros": b"\0" * 32 + evil,
        "a pickle behind the digest of another key": os.urandom(32) + evil,
    }
    for shape, content in shapes.items():
        cached.write_bytes(content)
        dataset = load_dataset(None, cache_dir=cache)
        if marker.exists():
            problems.append(f"{shape} ran")
            marker.unlink()
        elif not dataset.states:
            problems.append(f"{shape}: the dataset did not load")
    # A directory others may write: its cache is not read, however it is signed.
    shared = lab.root / "shared-cache"
    load_dataset(None, cache_dir=shared)
    shared.chmod(0o777)
    (signed,) = shared.glob("dataset-*.pickle")
    key = (shared / "dataset-cache.key").read_bytes()
    signed.write_bytes(hmac.digest(key, evil, "sha256") + evil)
    load_dataset(None, cache_dir=shared)
    if marker.exists():
        problems.append("a signed pickle in a directory others may write ran")
    key_file = lab.root / "untoc-watch.key"
    key_file.write_text("a-calendar-key-someone-else-chose-for-us-all\n")
    key_file.chmod(0o666)
    try:
        key_from_file(key_file)
        problems.append("a calendar key file others may change was used")
    except KeyFileError as error:
        if "chmod 600" not in str(error):
            problems.append(f"the refusal does not say the fix: {error}")
    return [
        _verdict(
            "planted files",
            problems,
            f"{len(shapes)} planted dataset caches (no digest, a zero digest, another key's) "
            "and a signed one in a directory others may write: none ran, the dataset loaded "
            "afresh; a calendar key file others may change refused, naming `chmod 600`",
        )
    ]
