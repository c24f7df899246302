"""A throwaway PostgreSQL server for integration tests.

``PostgresServer`` runs the Debian package's own binaries (``/usr/lib/postgresql/<version>/bin``)
against a fresh data directory in a temporary folder, listening on ``127.0.0.1`` on a free port
with its Unix socket inside that folder, so it never touches (or collides with) a system cluster::

    with PostgresServer() as pg:
        pg.create_database("radar_test")
        engine = sqlalchemy.create_engine(pg.url("radar_test"))

Durability is switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``) because the
data is thrown away anyway; authentication is ``trust`` for the ``postgres`` superuser.

PostgreSQL refuses to run as root. When the tests run as root (CI), ``initdb`` and the server are
run as the unprivileged ``postgres`` account that the Debian package creates (``os_user`` picks
another one); the temporary folder is handed over to that account. As any other user they simply
run as that user.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PostgresServer", "PostgresServerError", "find_bindir"]

INSTALL_HINT = "install the Debian package: apt-get install postgresql"
SUPERUSER = "postgres"
HOST = "127.0.0.1"


class PostgresServerError(RuntimeError):
    """The test PostgreSQL server could not be found, started or used."""


def find_bindir(root: str | os.PathLike[str] = "/usr/lib/postgresql") -> Path:
    """Return the newest ``<root>/<version>/bin`` that has ``initdb``, ``pg_ctl`` and ``postgres``.

    Raises ``PostgresServerError`` (saying how to install PostgreSQL) when there is none.
    """
    candidates: list[tuple[tuple[int, ...], Path]] = []
    base = Path(root)
    if base.is_dir():
        for entry in base.iterdir():
            bindir = entry / "bin"
            if not re.fullmatch(r"\d+(\.\d+)*", entry.name):
                continue
            if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
                candidates.append((tuple(int(part) for part in entry.name.split(".")), bindir))
    if not candidates:
        raise PostgresServerError(f"no PostgreSQL server binaries under {base}/*/bin; {INSTALL_HINT}")
    return max(candidates)[1]


def _free_port() -> int:
    """Ask the kernel for a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _world_searchable(path: Path) -> bool:
    """Whether every directory from ``/`` down to ``path`` can be traversed by any user."""
    for part in (path, *path.parents):
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file, or a note that it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


class PostgresServer:
    """A private PostgreSQL server in a temporary directory; see the module docstring.

    ``start()`` and ``stop()`` (or ``with``) bracket its life; ``url()``, ``create_database()`` and
    ``drop_database()`` use it. ``port`` is known once it has started.
    """

    def __init__(
        self,
        bindir: str | os.PathLike[str] | None = None,
        *,
        os_user: str | None = None,
        start_timeout: float = 30.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        """Prepare (but do not start) a server.

        ``bindir`` defaults to the newest Debian install; ``os_user`` is the account the server
        runs as when the caller is root (default ``postgres``); ``settings`` are extra
        ``postgresql.conf`` lines (name -> already quoted value).
        """
        self.bindir = Path(bindir) if bindir is not None else find_bindir()
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not os.access(self.bindir / tool, os.X_OK):
                raise PostgresServerError(f"{self.bindir / tool} is missing; {INSTALL_HINT}")
        self.start_timeout = start_timeout
        self.extra_settings = dict(settings or {})
        self.os_user = os_user
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self._run_as: pwd.struct_passwd | None = None

    # -- paths -----------------------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        """The cluster's data directory (inside the temporary directory)."""
        return self._require_tmpdir() / "data"

    @property
    def socketdir(self) -> Path:
        """The directory holding the server's Unix socket."""
        return self._require_tmpdir() / "socket"

    @property
    def logfile(self) -> Path:
        """The server's log file."""
        return self._require_tmpdir() / "server.log"

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise PostgresServerError("the server has not been started")
        return self.tmpdir

    # -- running commands as the right user ------------------------------------------------------

    def _resolve_user(self) -> pwd.struct_passwd | None:
        """The account to run PostgreSQL as, or ``None`` to run as ourselves (not root)."""
        if os.geteuid() != 0:
            return None
        name = self.os_user or SUPERUSER
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            raise PostgresServerError(
                f"running as root, and PostgreSQL refuses to run as root, but there is no {name!r} "
                f"system user to run it as. The Debian package creates 'postgres' ({INSTALL_HINT}); "
                "otherwise create an unprivileged user (useradd --system --user-group <name>) and pass "
                "os_user=<name>, or run the tests as a non-root user."
            ) from None
        if account.pw_uid == 0:
            raise PostgresServerError(f"os_user {name!r} is root; PostgreSQL needs an unprivileged user")
        return account

    def _run(self, args: Sequence[str | os.PathLike[str]], what: str, timeout: float) -> None:
        """Run a PostgreSQL tool (as the server's account) and raise with its output if it fails."""
        kwargs: dict[str, Any] = {}
        env = {
            "PATH": f"{self.bindir}:/usr/bin:/bin",
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": os.environ.get("TZ", "UTC"),
        }
        if self._run_as is not None:
            kwargs = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
            env |= {
                "HOME": self._run_as.pw_dir,
                "USER": self._run_as.pw_name,
                "LOGNAME": self._run_as.pw_name,
            }
        else:
            env["HOME"] = os.environ.get("HOME", str(self._require_tmpdir()))
        try:
            proc = subprocess.run(
                [str(arg) for arg in args],
                cwd=self._require_tmpdir(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
                **kwargs,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresServerError(
                f"{what} did not finish within {timeout:.0f}s\nserver log ({self.logfile}):\n"
                + _tail(self.logfile)
            ) from exc
        if proc.returncode != 0:
            raise PostgresServerError(
                f"{what} failed (exit {proc.returncode}): {' '.join(str(a) for a in args)}\n"
                f"{proc.stdout.strip()}\nserver log ({self.logfile}):\n{_tail(self.logfile)}"
            )

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        """Create a cluster in a new temporary directory and start the server; return ``self``.

        Waits until the server accepts connections; raises ``PostgresServerError`` (with the tail of
        the server log) if it does not within ``start_timeout`` seconds.
        """
        if self.tmpdir is not None:
            raise PostgresServerError("the server is already started")
        self._run_as = self._resolve_user()
        base = None
        if self._run_as is not None and not _world_searchable(Path(tempfile.gettempdir())):
            base = "/tmp"  # the server's account must be able to reach its directory
        self.tmpdir = Path(tempfile.mkdtemp(prefix="crisis-radar-pg-", dir=base))
        atexit.register(self.stop)
        try:
            self.socketdir.mkdir()
            if self._run_as is not None:
                for path in (self.tmpdir, self.socketdir):
                    os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
            self._initdb()
            self._launch()
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb(self) -> None:
        self._run(
            [
                self.bindir / "initdb",
                "--pgdata",
                self.datadir,
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
            timeout=120,
        )

    def _launch(self) -> None:
        """Write the settings and start the postmaster on a free port (retrying a lost port race)."""
        base_conf = (self.datadir / "postgresql.conf").read_text()
        for attempt in range(3):
            self.port = _free_port()
            settings = {
                "listen_addresses": f"'{HOST}'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.socketdir}'",
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "50",
                "shared_buffers": "32MB",
                **self.extra_settings,
            }
            conf = "\n# crisis-radar test server\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
            (self.datadir / "postgresql.conf").write_text(base_conf + conf)
            try:
                self._run(
                    [
                        self.bindir / "pg_ctl",
                        "start",
                        "--pgdata",
                        self.datadir,
                        "--log",
                        self.logfile,
                        "--wait",
                        "--timeout",
                        str(int(max(self.start_timeout, 1))),
                    ],
                    "starting PostgreSQL",
                    timeout=self.start_timeout + 10,
                )
                return
            except PostgresServerError:
                if attempt < 2 and "Address already in use" in _tail(self.logfile, 10):
                    continue
                raise

    def _wait_until_ready(self) -> None:
        """Poll until a real client connection succeeds."""
        import psycopg

        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with psycopg.connect(**self._connect_kwargs("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresServerError(
                        f"PostgreSQL on {HOST}:{self.port} does not accept connections after "
                        f"{self.start_timeout:.0f}s: {exc}\nserver log ({self.logfile}):\n"
                        + _tail(self.logfile)
                    ) from exc
                time.sleep(0.05)

    def pause(self) -> None:
        """Stop the server but keep its cluster (an outage): :meth:`resume` starts it again."""
        if self.tmpdir is None:
            raise PostgresServerError("the server is not started")
        self._stop_postmaster()

    def _stop_postmaster(self) -> None:
        self._run(
            [self.bindir / "pg_ctl", "stop", "--pgdata", self.datadir, "--mode", "fast", "--wait"],
            "stopping PostgreSQL",
            timeout=60,
        )

    def resume(self) -> None:
        """Start a paused server again on the same port, with its data."""
        if self.tmpdir is None:
            raise PostgresServerError("the server is not started")
        self._run(
            [self.bindir / "pg_ctl", "start", "--pgdata", self.datadir, "--log", self.logfile, "--wait"],
            "starting PostgreSQL",
            timeout=self.start_timeout + 10,
        )
        self._wait_until_ready()

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) and delete its temporary directory.

        Safe to call more than once, and on a server that never started.
        """
        tmpdir = self.tmpdir
        if tmpdir is None:
            return
        atexit.unregister(self.stop)
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._stop_postmaster()
        finally:
            self.tmpdir = None
            self.port = None
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        """Start the server (if not started yet) for a ``with`` block."""
        return self if self.tmpdir is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server at the end of a ``with`` block."""
        self.stop()

    # -- using it ----------------------------------------------------------------------------------

    def _connect_kwargs(self, database: str) -> dict[str, Any]:
        if self.port is None:
            raise PostgresServerError("the server has not been started")
        return {"host": HOST, "port": self.port, "user": SUPERUSER, "dbname": database}

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server (psycopg 3 driver, no password)."""
        if self.port is None:
            raise PostgresServerError("the server has not been started")
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def _admin(self, statement: Any) -> None:
        """Run one statement on the ``postgres`` database outside a transaction."""
        import psycopg

        with psycopg.connect(**self._connect_kwargs("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str) -> None:
        """Create an empty database called ``name`` (UTF8, from ``template0``)."""
        from psycopg import sql

        self._admin(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
        )

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, closing any connections still open to it."""
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
