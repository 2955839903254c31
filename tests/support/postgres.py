"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp dir.

The cluster listens on 127.0.0.1 (a free port) and on a unix socket in its own directory,
trusts local connections (nothing else can reach it) and is removed when stopped. As root
the server runs as the ``postgres`` user (Debian's package creates it; PostgreSQL refuses
to run as root), otherwise as the calling user.

``fsync=off`` by default: tests care about what is committed before an ack, not about
surviving a power cut of the test machine; benchmarks pass ``durable=True``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PostgresCluster", "find_pg_bin", "free_port"]


def find_pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or one on PATH."""
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0,
    )
    for d in reversed(dirs):
        if (Path(d) / "initdb").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> tuple[list[str], int | None, int | None]:
    """The command prefix, uid and gid to run the server as."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], pw.pw_uid, pw.pw_gid
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass
class PostgresCluster:
    durable: bool = False
    user: str = "meetingd"
    base: Path = field(init=False)
    port: int = field(init=False, default=0)
    _bin: Path = field(init=False)
    _prefix: list[str] = field(init=False, default_factory=list)
    _counter: int = field(init=False, default=0)
    _options: str = field(init=False, default="")

    def start(self, timeout: float = 60.0) -> PostgresCluster:
        pg_bin = find_pg_bin()
        if pg_bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self._bin = pg_bin
        self.base = Path(tempfile.mkdtemp(prefix="meetingd-pg-"))
        self._prefix, uid, gid = _run_as()
        if uid is not None and gid is not None:
            os.chown(self.base, uid, gid)
        data = self.base / "data"
        self._pg(
            "initdb",
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            self.user,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            timeout=timeout,
        )
        self.port = free_port()
        options = [
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base}",
            "-c max_connections=200 -c shared_buffers=64MB",
        ]
        if not self.durable:
            options.append("-c fsync=off -c full_page_writes=off")
        self._options = " ".join(options)
        self.resume(timeout)
        return self

    def resume(self, timeout: float = 60.0) -> None:
        """Start the server (again) on the same data directory and port."""
        self._pg(
            "pg_ctl",
            "-D",
            str(self.base / "data"),
            "-l",
            str(self.base / "server.log"),
            "-w",
            "-t",
            str(int(timeout)),
            "-o",
            self._options,
            "start",
            timeout=timeout + 5,
        )

    def crash(self) -> None:
        """Stop the server at once (``-m immediate``: like a crash); :meth:`resume` restarts it."""
        self._pg("pg_ctl", "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop", timeout=30)

    def _pg(self, tool: str, *args: str, timeout: float = 60.0) -> str:
        cmd = [*self._prefix, str(self._bin / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}{tail}")
        return done.stdout

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its SQLAlchemy async URL."""
        if name is None:
            self._counter += 1
            name = f"t{os.getpid()}_{self._counter}_{int(time.monotonic() * 1000) % 100000}"
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._pg(
            "dropdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "--force", "--if-exists", name
        )

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.port:
            try:
                self._pg("pg_ctl", "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop", timeout=30)
            finally:
                self.port = 0
        shutil.rmtree(self.base, ignore_errors=True)
