"""Readings the runtimes' samplers take: a process tree (local), a cgroup (containers).

Memory of a process tree is the root's resident set plus each descendant's resident
pages that are not shared: PostgreSQL's backends all map its shared buffers, and summing
their RSS would count those once per backend. (PSS would split them exactly, but reading
smaps costs a millisecond a process; statm costs microseconds.) CPU is user + system of
every live process plus what each reaped of its exited children, so a backend that ended
between readings is still counted (its parent waited for it).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from orchestrator.cost.meter import Reading, Sampler


def process_tree(pid: int, started: float | None, disk: Path | None = None) -> Sampler:
    """Readings of ``pid`` and all its descendants; None once ``pid`` is gone (or reused)."""
    import psutil

    try:
        root = psutil.Process(pid)
        if started is not None and abs(root.create_time() - started) > 1.0:
            raise psutil.NoSuchProcess(pid)
    except psutil.Error:
        return lambda storage: None
    cache: dict[int, psutil.Process] = {pid: root}

    def read(storage: bool) -> Reading | None:
        try:
            if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            return None
        cpu = 0.0
        memory = 0
        for member in _TABLE.descendants(pid):
            proc = cache.get(member)
            if proc is None:
                try:
                    proc = cache[member] = psutil.Process(member)
                except psutil.Error:
                    continue
            try:
                times = proc.cpu_times()
                cpu += times.user + times.system + times.children_user + times.children_system
                mem = proc.memory_info()
                # Children's shared pages (PostgreSQL's shared buffers, libraries) are the
                # root's too: count them once, with the root.
                memory += mem.rss if member == pid else max(0, mem.rss - mem.shared)
            except psutil.Error:
                continue  # exited between the listing and the reading
        return Reading(cpu, memory, directory_bytes(disk) if storage and disk else None)

    return read


class _ProcessTable:
    """Children of every process, from one listing of /proc that serves every reading
    taken within ``ttl`` seconds (the listing, not the readings, is what costs)."""

    def __init__(self, ttl: float = 0.05) -> None:
        self.ttl = ttl
        self._taken = 0.0
        self._children: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def descendants(self, pid: int) -> list[int]:
        """``pid`` and every process below it."""
        import psutil

        with self._lock:
            if time.monotonic() - self._taken > self.ttl:
                children: dict[int, list[int]] = {}
                for proc in psutil.process_iter(["ppid"]):
                    ppid = proc.info.get("ppid")
                    if ppid is not None:
                        children.setdefault(int(ppid), []).append(proc.pid)
                self._children, self._taken = children, time.monotonic()
            children = self._children
        out, stack = [], [pid]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(children.get(current, ()))
        return out


_TABLE = _ProcessTable()


def directory_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (what storage costs), without following links."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup(container_id: str) -> Sampler | None:
    """Readings of a Docker container from its cgroup files (v2 or v1, systemd or cgroupfs
    driver); None when they are not found here (a remote engine: the caller falls back)."""
    for cpu_file, memory_file, kind in _cgroup_files(container_id):
        if cpu_file.is_file() and memory_file.is_file():
            return _cgroup_sampler(cpu_file, memory_file, kind)
    return None


def _cgroup_files(cid: str) -> list[tuple[Path, Path, str]]:
    v2 = [CGROUP_ROOT / "system.slice" / f"docker-{cid}.scope", CGROUP_ROOT / "docker" / cid]
    out = [(d / "cpu.stat", d / "memory.current", "v2") for d in v2]
    for parent in ("docker", f"system.slice/docker-{cid}.scope"):
        leaf = cid if parent == "docker" else ""
        cpu = CGROUP_ROOT / "cpuacct" / parent / leaf / "cpuacct.usage"
        memory = CGROUP_ROOT / "memory" / parent / leaf / "memory.stat"
        out.append((cpu, memory, "v1"))
    return out


def _cgroup_sampler(cpu_file: Path, memory_file: Path, kind: str) -> Sampler:
    def read(storage: bool) -> Reading | None:
        try:
            if kind == "v2":
                stat = dict(line.split() for line in cpu_file.read_text().splitlines())
                cpu = int(stat["usage_usec"]) / 1e6
                memory = int(memory_file.read_text().strip())
                inactive = _stat_value(memory_file.parent / "memory.stat", "inactive_file")
            else:
                cpu = int(cpu_file.read_text().strip()) / 1e9
                memory = _stat_value(memory_file, "total_rss") + _stat_value(
                    memory_file, "total_mapped_file"
                )
                inactive = 0
        except (OSError, ValueError, KeyError):
            return None  # the container (and its cgroup) is gone
        return Reading(cpu, max(0, memory - inactive))

    return read


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0
