"""PyPI's advisory records, served to pip-audit as an OSV query endpoint.

pip-audit reads each release's record from PyPI (`/pypi/<name>/<version>/json`). Some
package index proxies serve only the project records (`/pypi/<name>/json`); each of those
still carries PyPI's advisories for the project's latest release. This bridge answers
pip-audit's OSV queries (`--vulnerability-service osv --osv-url <bridge>`) from them:

- for the latest release, with its advisories in OSV form (none: an empty answer);
- for any other release, with a 404, which stops pip-audit: an advisory fixed since
  that release is not in the record, so it must not pass as clean. `ProjectRecords.covers`
  says beforehand which releases the records cover.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from packaging.version import InvalidVersion, Version

PYPI_JSON = "https://pypi.org/pypi"
TIMEOUT = 20.0


def osv_entry(advisory: dict[str, Any], name: str, version: str) -> dict[str, Any]:
    """One of PyPI's advisories (`vulnerabilities` of a record) as an OSV entry."""
    events: list[dict[str, str]] = [{"introduced": "0"}]
    events += [{"fixed": fixed} for fixed in advisory.get("fixed_in") or ()]
    entry: dict[str, Any] = {
        "id": advisory["id"],
        "aliases": list(advisory.get("aliases") or ()),
        "affected": [
            {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": [version],
            }
        ],
    }
    for key in ("summary", "details", "withdrawn"):
        if advisory.get(key):
            entry[key] = advisory[key]
    return entry


class ProjectRecords:
    """PyPI's project records, each fetched once."""

    def __init__(self, base_url: str = PYPI_JSON) -> None:
        self.base_url = base_url.rstrip("/")
        self._records: dict[str, dict[str, Any] | None] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=True)

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            if name in self._records:
                return self._records[name]
        try:
            response = self._client.get(f"{self.base_url}/{name}/json")
            record = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            record = None
        if not isinstance(record, dict):
            record = None
        with self._lock:
            self._records[name] = record
        return record

    def covers(self, name: str, version: str) -> bool:
        """True when the record of `name` speaks for `version` (its latest release);
        versions compare as PEP 440 has them (`2022.12.07` is `2022.12.7`)."""
        record = self.get(name)
        latest = str((record or {}).get("info", {}).get("version"))
        try:
            return record is not None and Version(latest) == Version(version)
        except InvalidVersion:
            return latest == version

    def close(self) -> None:
        self._client.close()


def answer(records: ProjectRecords, query: Any) -> tuple[int, dict[str, Any]]:
    """The status and body for one OSV query `{"package": {"name"}, "version"}`."""
    try:
        name = str(query["package"]["name"])
        version = str(query["version"])
    except (KeyError, TypeError):
        return 400, {"message": "expected {package: {name, ecosystem}, version}"}
    record = records.get(name)
    if record is None or not records.covers(name, version):
        return 404, {"message": f"no record of {name} covers {version}"}
    advisories = record.get("vulnerabilities") or []
    if not advisories:
        return 200, {}
    return 200, {"vulns": [osv_entry(advisory, name, version) for advisory in advisories]}


@contextmanager
def osv_bridge(records: ProjectRecords) -> Iterator[str]:
    """A local OSV query endpoint answering from `records`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                query = json.loads(self.rfile.read(length))
            except ValueError:
                status, body = 400, {"message": "the query is not JSON"}
            else:
                status, body = answer(records, query)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()
