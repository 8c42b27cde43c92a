"""The service as the suite runs it: real `web` and `worker` processes on a real database.

Each process is started the way the Procfile starts it (`python -m bot web|worker`), with
its environment pointing at the local fakes, and can be stopped, or killed with SIGKILL.
Databases are a SQLite file or a fresh database on the PostgreSQL server the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url

from config.settings import normalise_database_url

POSTGRES_URL_VARIABLE = "UNTOC_TEST_POSTGRES_URL"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
START_TIMEOUT = 60.0
# Every process of a run makes and checks personal calendar links with this key, and
# the drills compute the links they load with it.
CALENDAR_SECRET = secrets.token_urlsafe(32)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> float:
    """Poll `condition` until it holds; returns the seconds it took, raises on timeout."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


def http_status(url: str, timeout: float = 2.0) -> int:
    """The status of a GET, 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return 0


# Databases


def postgres_server() -> str | None:
    """The PostgreSQL server the tests use, if one answers; None otherwise."""
    url = os.environ.get(POSTGRES_URL_VARIABLE) or LOCAL_POSTGRES
    parsed = make_url(normalise_database_url(url))
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 2):
            return url
    except OSError:
        return None


async def _admin(server_url: str, statement: str, *args: object) -> None:
    import asyncpg

    url = make_url(normalise_database_url(server_url))
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


@contextlib.contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database for one run: a SQLite file, or a fresh PostgreSQL one."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'watch.db'}"
        return
    server = postgres_server()
    if server is None:
        raise RuntimeError(f"PostgreSQL does not answer; set {POSTGRES_URL_VARIABLE}")
    name = f"untoc_reliability_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalise_database_url(server)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(
                _admin(
                    server,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    name,
                )
            )
            asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}"'))


def database_name(url: str) -> str:
    """How the figures name a database."""
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


# Processes


@dataclass
class ServiceProcess:
    """One `web` or `worker` process; started again after each kill with the same setup."""

    role: str
    environment: Mapping[str, str]
    log: Path
    arguments: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: list[float] = field(default_factory=list)

    def start(self) -> ServiceProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", self.role, *self.arguments],
                env=dict(self.environment),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an out-of-memory kill."""
        if self.process is not None and self.alive:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.kills.append(time.monotonic())

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop. Returns the exit code."""
        if self.process is None:
            return None
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def environment(database_url: str, directory: Path, **extra: str) -> dict[str, str]:
    """What every process of one run shares: its database, its cache, no watcher."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "UNTOC_CACHE_DIR": str(directory / "cache"),
        "PUBLIC_BASE_URL": "https://watch.example.org",
        "WATCHER_ENABLED": "false",
        "CALENDAR_SECRET": CALENDAR_SECRET,
        **extra,
    }


def telegram_environment(token: str, base_url: str, rate: float | None = None) -> dict[str, str]:
    """The settings that point a process at a fake Bot API (and pace it at `rate`)."""
    env = {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_BASE_URL": base_url}
    if rate is not None:
        env["TELEGRAM_MAX_RATE"] = str(rate)
    return env


def start_worker(env: Mapping[str, str], directory: Path, name: str = "worker") -> ServiceProcess:
    """A worker process; each start under one name appends to the same log."""
    return ServiceProcess("worker", env, directory / f"{name}.log").start()


def start_web(
    env: Mapping[str, str], directory: Path, name: str = "web"
) -> tuple[ServiceProcess, str]:
    """A web process on a free port, once it serves the calendar; returns it and its URL."""
    port = free_port()
    web = ServiceProcess(
        "web", env, directory / f"{name}.log", ("--host", "127.0.0.1", "--port", str(port))
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_status(base + "/calendar.ics") == 200, START_TIMEOUT, "the web")
    except TimeoutError:
        web.stop()
        raise
    return web, base


def has_postgres_control() -> str | None:
    """Why the PostgreSQL server cannot be stopped and started here, or None if it can."""
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return "the cluster control command is not installed"
    if os.geteuid() != 0:
        return "stopping the server needs root"
    return None


def postgres_cluster(action: str) -> None:
    """Stop or start the local PostgreSQL cluster (fast shutdown: sessions are cut)."""
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action == "stop":
        command += ["-m", "fast"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def postgres_ready() -> bool:
    result = subprocess.run(
        ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], capture_output=True, timeout=10
    )
    return result.returncode == 0
