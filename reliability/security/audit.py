"""Known vulnerabilities in the installed dependencies (pip-audit)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reliability.inputs import (
    ROOT,
)
from reliability.security._common import Finding

AUDIT_TIMEOUT = 900


PROJECT = "untoc-watch"  # this project, installed editable: not on PyPI


def _online(host: str = "pypi.org") -> str | None:
    """None if PyPI answers on its port; otherwise why not."""
    try:
        with socket.create_connection((host, 443), timeout=5):
            return None
    except (OSError, RuntimeError) as error:  # tests forbid leaving the machine
        return f"{type(error).__name__}: {error}"[:120]


def _canonical(name: str) -> str:
    """A package's name as PyPI compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_audit(executable: Path, *options: str) -> list[dict[str, Any]] | str:
    """pip-audit's packages (name, version, vulns, skip_reason), or why it failed."""
    command = [str(executable), "--progress-spinner", "off", "--skip-editable", "--format", "json"]
    result = subprocess.run(
        [*command, *options], capture_output=True, timeout=AUDIT_TIMEOUT, cwd=ROOT
    )
    try:
        packages = json.loads(result.stdout)["dependencies"]
    except (ValueError, KeyError, TypeError):
        error = result.stderr.decode(errors="replace").strip().splitlines()
        return f"pip-audit failed: {error[-1] if error else result.returncode}"
    return [p for p in packages if "editable" not in (p.get("skip_reason") or "")]


def _audit(quick: bool) -> Finding:
    """pip-audit over the installed packages; strict: a package it cannot audit fails it.

    First against PyPI's release records, as pip-audit does by default; the packages
    that leaves unaudited (a proxy that serves no release records) are audited again
    against PyPI's project records, through `reliability.advisories`, which covers each
    project's latest release only. It runs without `--strict` and applies the rule here,
    so that the figure names every package that could not be audited rather than the
    first. Without the network the quick form reports "not run"; the full run fails.
    """
    from reliability.advisories import ProjectRecords, osv_bridge

    check = "dependency audit"
    unavailable = None if quick else False
    executable = Path(sys.executable).with_name("pip-audit")
    if not executable.exists():
        return Finding(check, unavailable, "pip-audit is not installed: pip install -e '.[test]'")
    offline = _online()
    if offline is not None:
        return Finding(check, unavailable, f"not run (offline: {offline})")
    first = _pip_audit(executable)
    if isinstance(first, str):
        return Finding(check, False, first)
    first = [p for p in first if p["name"] != PROJECT]
    # pip-audit gives no version for what it skipped; this interpreter's packages are its.
    versions = {
        _canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    for package in first:
        package.setdefault("version", versions.get(_canonical(package["name"])))
    results = {p["name"]: p for p in first if not p.get("skip_reason")}
    by_release = len(results)
    records = ProjectRecords()
    try:
        covered = [
            f"{p['name']}=={p['version']}"
            for p in first
            if p["name"] not in results and records.covers(p["name"], str(p["version"]))
        ]
        if covered:
            with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
                requirements.write("\n".join(covered) + "\n")
                requirements.flush()
                with osv_bridge(records) as url:
                    second = _pip_audit(
                        executable,
                        *("-r", requirements.name, "--no-deps", "--disable-pip"),
                        *("--vulnerability-service", "osv", "--osv-url", url),
                    )
            if isinstance(second, str):
                return Finding(check, False, f"{second} (against PyPI's project records)")
            results.update((p["name"], p) for p in second if not p.get("skip_reason"))
    finally:
        records.close()
    vulnerable = [
        f"{package['name']} {package.get('version')}: {vuln['id']}"
        + (f" (fixed in {', '.join(vuln['fix_versions'])})" if vuln.get("fix_versions") else "")
        for package in results.values()
        for vuln in package.get("vulns", [])
    ]
    unaudited = [f"{p['name']} {p.get('version')}" for p in first if p["name"] not in results]
    sources = (
        f"{by_release} against PyPI's release records, "
        f"{len(results) - by_release} against its project records (latest releases)"
    )
    if vulnerable:
        return Finding(
            check, False, f"{len(vulnerable)} known vulnerabilities: {'; '.join(vulnerable)}"
        )
    if unaudited:
        return Finding(
            check,
            unavailable,
            f"{len(unaudited)} of {len(first)} installed packages could not be audited: "
            f"neither record this machine reaches covers their version "
            f"({', '.join(unaudited)}); no known vulnerability in the {len(results)} others "
            f"({sources})",
        )
    return Finding(
        check,
        True,
        f"{len(results)} installed packages audited ({sources}), no known vulnerability",
    )
