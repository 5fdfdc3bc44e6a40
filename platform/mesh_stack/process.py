"""Detached server processes tracked by pid files, so that `mesh` invocations can find them again."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class PidRecord:
    pid: int
    create_time: float  # guards against a recycled pid being taken for our server (shown as when it started)
    # The same, in seconds since boot: the wall clock can be stepped (a VM paused and resumed moved it
    # 33 s once, and every process of a mesh then looked like somebody else's), this cannot.
    since_boot: float | None = None


def _since_boot(pid: int) -> float | None:
    """When the process started, in seconds since boot (Linux: /proc/PID/stat's starttime)."""
    try:
        after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(after_name[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):  # not Linux, or the process is gone
        return None


class ManagedProcess:
    """One server process: started detached in its own session, stopped with its whole group."""

    def __init__(self, name: str, run_dir: Path, log_path: Path) -> None:
        self.name = name
        self.pid_path = run_dir / f"{name}.pid"
        self.log_path = log_path

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> int:
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                user=user,
                start_new_session=True,
            )
        started = psutil.Process(proc.pid)
        record = PidRecord(proc.pid, started.create_time(), _since_boot(proc.pid))
        self.pid_path.write_text(json.dumps(record.__dict__))
        return proc.pid

    def _record(self) -> PidRecord | None:
        try:
            data = json.loads(self.pid_path.read_text())
            since_boot = data.get("since_boot")
            return PidRecord(
                int(data["pid"]), float(data["create_time"]), None if since_boot is None else float(since_boot)
            )
        except (OSError, ValueError, KeyError):
            return None

    def process(self) -> psutil.Process | None:
        record = self._record()
        if record is None:
            return None
        try:
            proc = psutil.Process(record.pid)
            now_since_boot = _since_boot(record.pid) if record.since_boot is not None else None
            if now_since_boot is not None and record.since_boot is not None:
                recycled = abs(now_since_boot - record.since_boot) > 0.5
            else:
                recycled = abs(proc.create_time() - record.create_time) > 1
            if recycled or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    @property
    def pid(self) -> int | None:
        proc = self.process()
        return proc.pid if proc else None

    def is_running(self) -> bool:
        return self.process() is not None

    def exited_early(self) -> bool:
        """True when a pid file exists but its process is gone (it crashed during start-up)."""
        return self._record() is not None and self.process() is None

    def rss_bytes(self) -> int:
        proc = self.process()
        if proc is None:
            return 0
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30.0) -> None:
        """Ask the process group to stop, wait, then kill whatever is left of it."""
        proc = self.process()
        if proc is not None:
            group = [proc, *proc.children(recursive=True)]
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            except PermissionError:
                proc.send_signal(sig)
            _gone, alive = psutil.wait_procs(group, timeout=timeout_s)
            for p in alive:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            psutil.wait_procs(alive, timeout=5)
            # A stop asked for is told apart from a crash or a kill -9 by this line in the log.
            with contextlib.suppress(OSError), open(self.log_path, "ab") as log:
                log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} stopped by mesh ({sig.name})\n".encode())
        self.pid_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 25) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
