"""The advisory bridge: pip-audit itself, reading PyPI-shaped project records from a
local stand-in for PyPI, finds what they list and refuses to call an old release clean."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reliability.advisories import ProjectRecords, answer, osv_bridge

ADVISORY = {
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-0001", "GHSA-xxxx-yyyy-zzzz"],
    "summary": "Templates can escape their sandbox",
    "details": "A longer text\nover two lines.",
    "fixed_in": ["3.1.3"],
    "withdrawn": None,
}
WITHDRAWN = {**ADVISORY, "id": "PYSEC-2099-2", "withdrawn": "2099-01-02T00:00:00Z"}
RECORDS: dict[str, dict[str, Any]] = {
    "jinja2": {"info": {"version": "3.1.2"}, "vulnerabilities": [ADVISORY, WITHDRAWN]},
    "httpx": {"info": {"version": "0.28.1"}, "vulnerabilities": []},
    "typer": {"info": {"version": "0.29.2"}, "vulnerabilities": []},
}


@pytest.fixture(scope="module")
def pypi() -> Iterator[str]:
    """Project records at `<url>/<name>/json`, as PyPI serves them; 404 for the rest."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.strip("/").removesuffix("/json")
            record = RECORDS.get(name)
            body = json.dumps(record).encode() if record else b""
            self.send_response(200 if record else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def records(pypi) -> Iterator[ProjectRecords]:
    opened = ProjectRecords(pypi)
    yield opened
    opened.close()


def audit(
    records: ProjectRecords, tmp_path: Path, *pins: str
) -> subprocess.CompletedProcess[bytes]:
    """pip-audit over `pins`, against the records through the bridge."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{pin}\n" for pin in pins))
    with osv_bridge(records) as url:
        return subprocess.run(
            [
                str(Path(sys.executable).with_name("pip-audit")),
                *("-r", str(requirements), "--no-deps", "--disable-pip"),
                *("--vulnerability-service", "osv", "--osv-url", url),
                *("--progress-spinner", "off", "--format", "json"),
            ],
            capture_output=True,
            timeout=120,
        )


def test_pip_audit_through_the_bridge_reports_what_the_records_say(records, tmp_path):
    result = audit(records, tmp_path, "jinja2==3.1.2", "httpx==0.28.1")
    assert result.returncode == 1, result.stderr  # a known vulnerability
    found = {p["name"]: p for p in json.loads(result.stdout)["dependencies"]}
    (vuln,) = found["jinja2"]["vulns"]  # the withdrawn advisory is not one
    assert vuln["id"] == "PYSEC-2099-1" and vuln["fix_versions"] == ["3.1.3"]
    assert set(vuln["aliases"]) == {"CVE-2099-0001", "GHSA-xxxx-yyyy-zzzz"}
    assert found["httpx"]["vulns"] == [] and "skip_reason" not in found["httpx"]
    assert audit(records, tmp_path, "httpx==0.28.1").returncode == 0


def test_a_release_the_records_do_not_cover_never_passes_as_clean(records, tmp_path):
    assert records.covers("jinja2", "3.1.2") and records.covers("httpx", "0.28.1")
    assert not records.covers("typer", "0.28.0")  # an older release than the record's
    assert not records.covers("no-such-project", "1.0")
    assert records.covers("httpx", "0.28.01")  # the same release, as PEP 440 reads it
    result = audit(records, tmp_path, "httpx==0.28.1", "typer==0.28.0")
    assert result.returncode != 0 and not result.stdout  # stopped, nothing claimed
    assert b"ServiceError" in result.stderr


@pytest.mark.parametrize("query", [None, [], {"package": {}}, {"version": "1"}, "x"])
def test_a_query_that_is_not_osvs_is_a_400(records, query):
    assert answer(records, query)[0] == 400
