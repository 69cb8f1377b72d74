"""An event-loop watchdog for the benchmarks: what the GUI thread does while it does not beat.

The GUI thread's heartbeat timer calls ``Watchdog.beat()``.  A Python thread (not Qt, so
it keeps running while the GUI thread's event loop is stuck) wakes when the last beat is
``threshold_ms`` old and then, every ``sample_ms`` until the next beat, records the
watched thread's Python stack (``sys._current_frames()``) and, from ``/proc``, how much
of the time since the previous sample that thread spent on a core, waiting for a core
(the run queue), or neither (blocked: waiting for the interpreter lock, a mutex, or
sleeping in the event loop's own wait), and what CPU every other thread of the process
used meanwhile.  Garbage collections are timed through ``gc.callbacks`` so that a gap
can be matched with the collection inside it.  ``summary()`` counts the gaps and the
most common innermost frames and stacks seen during them.
"""

from __future__ import annotations

import gc
import json
import linecache
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the innermost Python frame is a call into Qt's event loop: the thread is in C++ code
QT_LOOP = re.compile(r"\.(processEvents|exec_?)\(")
STACK_DEPTH = 8  # innermost frames that make up one counted stack


def add_option(parser: Any, help_text: str) -> None:
    """``--watchdog [MS]`` on a benchmark's command line (30 ms when no number is given)."""
    parser.add_argument(
        "--watchdog", type=float, nargs="?", const=30.0, metavar="MS", help=help_text
    )


def _frames(frame: Any, limit: int = 60) -> list[str]:
    """``function (file:line) `source``` for each frame, innermost first."""
    out = []
    while frame is not None and len(out) < limit:
        code = frame.f_code
        name = code.co_filename
        short = "/".join(Path(name).parts[-2:])
        line = linecache.getline(name, frame.f_lineno).strip()
        out.append(f"{code.co_name} ({short}:{frame.f_lineno}) `{line}`")
        frame = frame.f_back
    return out


def in_qt_loop(stack: list[str]) -> bool:
    """Whether the innermost Python frame is a call into Qt's event loop (no Python
    slot above it: the thread is in Qt's C++ code, or waits there for the GIL)."""
    return bool(stack) and bool(QT_LOOP.search(stack[0]))


class _SchedStats:
    """``/proc/self/task/TID/schedstat`` of the process's threads (on-CPU and run-queue
    nanoseconds), read with one ``pread`` each on descriptors kept open."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}
        self._comms: dict[int, str] = {}  # the kernel's names (Qt names its threads)
        self.names: dict[int, str] = {}

    def refresh(self) -> None:
        """Pick up threads started since the last refresh, and their names."""
        try:
            tids = {int(t) for t in os.listdir("/proc/self/task")}
        except OSError:
            return
        for tid in set(self._fds) - tids:
            os.close(self._fds.pop(tid))
            self._comms.pop(tid, None)
        for tid in tids - set(self._fds):
            try:
                self._fds[tid] = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY)
                with open(f"/proc/self/task/{tid}/comm") as comm:
                    self._comms[tid] = comm.read().strip()
            except OSError:
                continue
        for tid, comm in self._comms.items():
            self.names[tid] = comm
        for thread in threading.enumerate():
            comm = self._comms.get(thread.native_id)
            if comm is None:
                continue
            # a thread Qt started is a Dummy to Python: Qt's name tells more
            dummy = thread.name.startswith("Dummy-")
            self.names[thread.native_id] = f"{comm} ({thread.name})" if dummy else thread.name

    def read(self) -> dict[int, tuple[int, int]]:
        out = {}
        for tid, fd in self._fds.items():
            try:
                cpu, wait, _ = os.pread(fd, 100, 0).split()
            except (OSError, ValueError):
                continue
            out[tid] = (int(cpu), int(wait))
        return out

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


@dataclass
class Gap:
    """One stretch without a beat: when it began (the last beat) and what was sampled."""

    start: float
    end: float | None = None
    samples: list[dict] = field(default_factory=list)
    on_cpu_ms: float = 0.0  # the watched thread, between the first and the last sample
    run_queue_ms: float = 0.0
    blocked_ms: float = 0.0
    threads_cpu_ms: dict[str, float] = field(default_factory=dict)
    collections: list[dict] = field(default_factory=list)
    native: list[str] = field(default_factory=list)  # py-spy's native stack, if dumped

    @property
    def ms(self) -> float:
        return ((self.end or time.perf_counter()) - self.start) * 1000


class Watchdog:
    """Records the stack of ``thread`` (by default the one that makes the watchdog)
    whenever it has not called ``beat()`` for more than ``threshold_ms``."""

    def __init__(
        self, threshold_ms: float = 30.0, sample_ms: float = 2.0, native_dumps: int = 0
    ) -> None:
        self.threshold = threshold_ms / 1000
        self.sample = sample_ms / 1000
        # py-spy --native dumps of the watched thread, in gaps twice the threshold long;
        # each stops the process for a while (tens to hundreds of ms): it lengthens gaps
        self.native_dumps = native_dumps
        self.natives: list[dict] = []
        self.ident = threading.get_ident()
        self.native_id = threading.get_native_id()
        self.gaps: list[Gap] = []
        self.collections: list[dict] = []  # every garbage collection while running
        self.lags: list[float] = []  # how late the sampling thread woke, ms
        self._last = time.perf_counter()
        self._open: Gap | None = None
        self._stats = _SchedStats()
        self._previous: dict[int, tuple[int, int]] = {}
        self._previous_t = 0.0
        self._gc_start: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    # the watched thread
    def beat(self) -> None:
        """Called by the watched thread's heartbeat; as cheap as can be."""
        self._last = time.perf_counter()

    def start(self) -> None:
        self._last = time.perf_counter()
        self._stats.refresh()
        gc.callbacks.append(self._on_gc)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._open is not None:  # a beat the sampler had not seen yet ends it
            self._close(self._last if self._last != self._open.start else None)
        self._stats.close()

    def _on_gc(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_start = now
            return
        if self._gc_start is None:
            return
        name = threading.current_thread().name
        name = self._stats.names.get(threading.get_native_id(), name)
        if threading.get_ident() == self.ident:
            name += " (watched)"
        self.collections.append(
            {
                "start": self._gc_start,
                "ms": (now - self._gc_start) * 1000,
                "generation": info["generation"],
                "collected": info["collected"],
                "thread": name,
            }
        )
        self._gc_start = None

    def samples_in_gap(self) -> int:
        """Samples taken so far of the gap going on now (0 when the thread beats)."""
        gap = self._open
        return len(gap.samples) if gap is not None else 0

    # the sampling thread
    def _run(self) -> None:
        timeout = self.threshold
        while not self._stop.wait(timeout):
            woke = time.perf_counter()
            last = self._last
            if self._open is not None and self._open.start != last:
                self._close(last)
            since = woke - last
            if since <= self.threshold:
                timeout = self.threshold - since + 0.0005
                continue
            if self._open is None:
                self._open = Gap(start=last)
                self._stats.refresh()
                self._previous = self._stats.read()
                self._previous_t = time.perf_counter()
            else:
                self.lags.append((woke - self._previous_t - self.sample) * 1000)
            self._take_sample(self._open)
            if (
                len(self.natives) < self.native_dumps
                and not self._open.native
                and since > 2 * self.threshold
            ):
                self._dump_native(self._open)
            timeout = self.sample

    def _take_sample(self, gap: Gap) -> None:
        frame = sys._current_frames().get(self.ident)
        stack = _frames(frame)
        now = time.perf_counter()
        stats = self._stats.read()
        sample: dict[str, Any] = {"t_ms": round((now - gap.start) * 1000, 2), "stack": stack}
        mine, before = stats.get(self.native_id), self._previous.get(self.native_id)
        if mine and before:
            wall = (now - self._previous_t) * 1000
            cpu = (mine[0] - before[0]) / 1e6
            queue = (mine[1] - before[1]) / 1e6
            if gap.samples:  # the first sample only sets the reference
                gap.on_cpu_ms += cpu
                gap.run_queue_ms += queue
                gap.blocked_ms += max(0.0, wall - cpu - queue)
                for tid, (used, _) in stats.items():
                    if tid != self.native_id and tid in self._previous:
                        name = self._stats.names.get(tid, str(tid))
                        spent = (used - self._previous[tid][0]) / 1e6
                        gap.threads_cpu_ms[name] = gap.threads_cpu_ms.get(name, 0.0) + spent
            sample["on_cpu"] = round(cpu / wall, 2) if wall > 0 else None
        sample["gc"] = self._gc_start is not None
        gap.samples.append(sample)
        self._previous, self._previous_t = stats, now

    def _dump_native(self, gap: Gap) -> None:
        """The watched thread's native and Python stack from ``py-spy dump --native``."""
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        t0 = time.perf_counter()
        try:
            out = subprocess.run(
                [exe, "dump", "--native", "--pid", str(os.getpid())],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            out = f"Thread {self.native_id} py-spy failed: {exc}"
        lines, mine = [], False
        for line in out.splitlines():
            if line.startswith("Thread "):
                mine = line.split()[1].lower() in (str(self.native_id), hex(self.ident))
            elif mine and line.strip():
                lines.append(line.strip())
        gap.native = lines or ["(py-spy gave no stack for the thread)"]
        self.natives.append(
            {
                "at_ms": round((t0 - gap.start) * 1000, 1),
                "took_ms": round((time.perf_counter() - t0) * 1000, 1),
                "stack": gap.native,
            }
        )

    def _close(self, end: float | None) -> None:
        gap, self._open = self._open, None
        if gap is None:
            return
        gap.end = end or time.perf_counter()
        gap.collections = [
            c
            for c in self.collections
            if c["start"] < gap.end and c["start"] + c["ms"] / 1000 > gap.start
        ]
        self.gaps.append(gap)

    # results
    def summary(self, top: int = 10) -> dict:
        """Counts over every gap: lengths, where the watched thread's time went, the most
        common innermost frames and stacks, and the collections that fell in a gap."""
        gaps = self.gaps
        samples = [s for g in gaps for s in g.samples]
        innermost = Counter(s["stack"][0] if s["stack"] else "(no Python frame)" for s in samples)
        stacks = Counter(tuple(s["stack"][:STACK_DEPTH]) for s in samples)
        qt = [s for s in samples if in_qt_loop(s["stack"])]
        threads: Counter = Counter()
        for g in gaps:
            threads.update(g.threads_cpu_ms)
        by_generation: Counter = Counter(c["generation"] for c in self.collections)
        lengths = sorted(g.ms for g in gaps)
        return {
            "threshold_ms": round(self.threshold * 1000, 1),
            "gaps": len(gaps),
            "gap_ms_p50": round(statistics.median(lengths), 1) if lengths else None,
            "gap_ms_max": round(lengths[-1], 1) if lengths else None,
            "gap_ms": [round(x, 1) for x in lengths],
            "samples": len(samples),
            "samples_in_qt_loop": len(qt),
            "samples_in_qt_loop_on_cpu": sum(1 for s in qt if (s.get("on_cpu") or 0) >= 0.5),
            "samples_during_gc": sum(1 for s in samples if s["gc"]),
            "watched_on_cpu_ms": round(sum(g.on_cpu_ms for g in gaps), 1),
            "watched_run_queue_ms": round(sum(g.run_queue_ms for g in gaps), 1),
            "watched_blocked_ms": round(sum(g.blocked_ms for g in gaps), 1),
            "other_threads_cpu_ms": {k: round(v, 1) for k, v in threads.most_common(top)},
            "gaps_with_gc": sum(1 for g in gaps if g.collections),
            "gc_collections": dict(sorted(by_generation.items())),
            "gc_max_ms": {
                gen: round(max(c["ms"] for c in self.collections if c["generation"] == gen), 1)
                for gen in sorted(by_generation)
            },
            "gc_threads": dict(Counter(c["thread"] for c in self.collections)),
            "sampler_lag_ms_max": round(max(self.lags), 1) if self.lags else None,
            "native_dumps": self.natives,
            "innermost": innermost.most_common(top),
            "stacks": [[list(s), n] for s, n in stacks.most_common(top)],
        }

    def write(self, path: Path) -> None:
        """The summary and every gap with its samples, as JSON."""
        gaps = [
            {
                "ms": round(g.ms, 1),
                "on_cpu_ms": round(g.on_cpu_ms, 1),
                "run_queue_ms": round(g.run_queue_ms, 1),
                "blocked_ms": round(g.blocked_ms, 1),
                "threads_cpu_ms": {k: round(v, 1) for k, v in g.threads_cpu_ms.items()},
                "collections": [
                    {k: v for k, v in c.items() if k != "start"} for c in g.collections
                ],
                "native": g.native,
                "samples": g.samples,
            }
            for g in self.gaps
        ]
        path.write_text(json.dumps({"summary": self.summary(), "gaps": gaps}, indent=1))


def print_summary(summary: dict, out: Any = None) -> None:
    """The summary in a few lines for a benchmark's output."""
    out = out or sys.stdout
    s = summary
    print(
        f"  watchdog: {s['gaps']} gaps without a beat > {s['threshold_ms']:g} ms "
        f"(p50 {s['gap_ms_p50']} ms, max {s['gap_ms_max']} ms), {s['samples']} samples",
        file=out,
    )
    if not s["gaps"]:
        gcs = f"{s['gc_collections']} (max ms {s['gc_max_ms']})"
        print(f"    garbage collections: {gcs}", file=out)
        return
    print(
        f"    GUI thread during gaps: on a core {s['watched_on_cpu_ms']} ms, waiting for a "
        f"core {s['watched_run_queue_ms']} ms, blocked (GIL, lock or idle wait) "
        f"{s['watched_blocked_ms']} ms; in Qt's loop with no Python frame: "
        f"{s['samples_in_qt_loop']} samples ({s['samples_in_qt_loop_on_cpu']} on a core)",
        file=out,
    )
    others = ", ".join(f"{k} {v}" for k, v in s["other_threads_cpu_ms"].items())
    print(f"    other threads' CPU during gaps (ms): {others}", file=out)
    print(
        f"    garbage collections: {s['gc_collections']} (max ms {s['gc_max_ms']}, "
        f"threads {s['gc_threads']}); gaps with one: {s['gaps_with_gc']}; samples during "
        f"one: {s['samples_during_gc']}; sampler woke late by up to {s['sampler_lag_ms_max']} ms",
        file=out,
    )
    print("    innermost frames (samples):", file=out)
    for frame, n in s["innermost"]:
        print(f"      {n:5}  {frame}", file=out)
    print("    stacks (samples), innermost first:", file=out)
    for stack, n in s["stacks"][:5]:
        print(f"      {n:5}  " + "\n             < ".join(stack), file=out)
    for dump in s["native_dumps"]:
        print(
            f"    py-spy --native, {dump['at_ms']} ms into a gap (took {dump['took_ms']} ms):",
            file=out,
        )
        for line in dump["stack"][:14]:
            print(f"      {line}", file=out)
