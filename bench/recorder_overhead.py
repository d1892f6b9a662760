#!/usr/bin/env python3
"""The recorder's own cost on a real X server (Xvfb 1920x1080 + openbox), driven by xdotool:
CPU (utime+stime of the record.py process, all threads, from /proc) while idle, during ordinary
work and during a burst; its memory (RSS) over the run; time spent inside input callbacks;
event log bytes per hour of ordinary work.

Screen content: a Chromium-rendered 1920x1080 web page as the root window background (so
frames cost what a real page costs to encode) with an xterm on top to type into.

Phases (default recorder settings):
  quiet   0-30 s after start, no input: the recorder still pre-grabs once a second
          (it was 'recently active'; this is what a pause of under --idle seconds costs)
  idle    30-50 s: past --idle (30 s), nothing happens: the true idle cost
  ordinary 60 s: a click every 5 s (mouse moved there over 0.5 s) and ~12 typed keys per
          cycle, Enter at the end
  burst   20 s: 20 input events per second (10 keys/s = 20 press/release events), plus a
          click every second

  soak    (optional, --soak S) S seconds of mixed load, repeating 50 s of ordinary work then
          10 s of burst, with RSS sampled every second: is memory flat over a long run?

Per phase, CPU is also split by thread (/proc/<pid>/task/*/stat: pynput's listener threads,
the 'recorder' processing thread, the 'frame-encoder', the main thread). With --profile, py-spy
records the recorder during the burst (collapsed stacks per thread in bench/_work/; py-spy's
sampling adds its own cost, so take CPU numbers from runs without --profile).

    python bench/recorder_overhead.py [--short] [--soak 600] [--profile] [--only burst]
        [-- extra record.py options]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.x11 import XServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (threads with the same name summed)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        fields = stat.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop_flag = pid, [], threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop_flag.wait(1.0):
            try:
                self.samples.append((time.monotonic() - start, rss_mb(self.pid)))
            except OSError:
                return


THREADS: dict[str, dict[str, float]] = {}  # phase -> thread name -> % of one core


def measure(pid: int, seconds: float, work=None, phase: str = "") -> float:
    """Percent of one core used by pid over `seconds` while `work()` runs (if given)."""
    c0, t0, th0 = cpu_seconds(pid), time.monotonic(), thread_cpu(pid)
    end = t0 + seconds
    if work is not None:
        work(end)
    time.sleep(max(0.0, end - time.monotonic()))
    wall = time.monotonic() - t0
    th1 = thread_cpu(pid)
    if phase:
        per = {name: round(100 * (v - th0.get(name, 0.0)) / wall, 2) for name, v in th1.items()}
        THREADS[phase] = {k: v for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v > 0}
    return 100 * (cpu_seconds(pid) - c0) / wall


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def background(xs: XServer, work: Path) -> None:
    chromium = shutil.which("chromium")
    page = ROOT / "bench" / "_work" / "overhead_page.png"
    if chromium and not page.exists():
        html = work / "page.html"
        from bench.recorder_storage import FILLER, PAGE, SCREENS  # noqa: PLC0415

        s = SCREENS[0]
        html.write_text(
            PAGE.format(typed=s["typed"][-1], filler=FILLER, **{k: v for k, v in s.items() if k != "typed"})
        )
        page.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1920,1080",
                f"--screenshot={page}",
                html.as_uri(),
            ],
            capture_output=True,
            timeout=120,
        )
    if page.exists() and shutil.which("display"):
        xs.run("display", "-window", "root", str(page), check=False, timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="shorter phases (smoke run)")
    ap.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="S",
        help="after the phases, S seconds of mixed load (50 s ordinary + 10 s burst, repeated) for memory",
    )
    ap.add_argument("--profile", action="store_true", help="py-spy record the recorder during the burst")
    ap.add_argument("--only", choices=["burst"], help="skip quiet/idle/ordinary (quick burst-only runs)")
    ap.add_argument("--tag", default="", help="suffix for the result file name")
    ap.add_argument("record_args", nargs="*", help="extra record.py options (after --)")
    args = ap.parse_args()
    k = 0.25 if args.short else 1.0
    work = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    timings = work / "timings.json"
    result: dict = {}
    with XServer(1920, 1080) as xs:
        background(xs, work)
        wid = xs.xterm("editor", geometry="100x30+500+250")
        env = xs.env | {"DATAMAKR_RECORDER_TIMINGS": str(timings)}
        rec = subprocess.Popen(
            [sys.executable, str(ROOT / "record.py"), "--out", str(work / "s"), "--no-status", *args.record_args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = rec.stdout.readline()
        session = Path(line.split("recording to ", 1)[1].split()[0])
        sampler = Sampler(rec.pid)
        sampler.start()
        result["record_args"] = args.record_args
        result["load_before"] = load_average()
        try:

            def ordinary(end: float) -> None:
                i = 0
                while time.monotonic() + 5 <= end + 0.01:
                    cycle = time.monotonic()
                    x, y = 600 + (i * 97) % 600, 300 + (i * 53) % 300
                    xs.xdotool("mousemove", "--sync", str(x - 40), str(y - 20))
                    for step in range(1, 11):
                        xs.xdotool("mousemove", str(x - 40 + 4 * step), str(y - 20 + 2 * step))
                        time.sleep(0.05)
                    xs.xdotool("click", "1")
                    time.sleep(0.6)
                    xs.xdotool("type", "--window", wid, "--delay", "120", f"echo note{i}, ok")
                    xs.xdotool("key", "--window", wid, "Return")
                    i += 1
                    time.sleep(max(0.0, cycle + 5 - time.monotonic()))

            def burst(end: float) -> None:
                while time.monotonic() + 1 <= end + 0.01:
                    second = time.monotonic()
                    xs.xdotool("type", "--window", wid, "--delay", "100", "abcdefghi")
                    xs.xdotool("click", "1")
                    time.sleep(max(0.0, second + 1 - time.monotonic()))

            if args.only != "burst":
                result["cpu_quiet_pct"] = measure(rec.pid, 30 * k, phase="quiet")
                result["cpu_idle_pct"] = measure(rec.pid, 20 * k, phase="idle")
                log0 = (session / "events.jsonl").stat().st_size
                t_ord = 60 * k
                result["cpu_ordinary_pct"] = measure(rec.pid, t_ord, ordinary, phase="ordinary")
                time.sleep(1.5)  # let the last burst's events reach the disk
                log1 = (session / "events.jsonl").stat().st_size
                result["event_log_mb_per_hour"] = (log1 - log0) / 1e6 * 3600 / (t_ord + 1.5)
            else:
                time.sleep(2)

            spy = None
            if args.profile and shutil.which("py-spy"):
                tag = f"-{args.tag}" if args.tag else ""
                prof = ROOT / "bench" / "_work" / f"recorder_burst{tag}"
                prof.parent.mkdir(parents=True, exist_ok=True)
                # --idle is off: only on-CPU samples; --native: time inside C code (mss, PIL, Xlib)
                spy = subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "--pid",
                        str(rec.pid),
                        "--threads",
                        "--native",
                        "--rate",
                        "200",
                        "--duration",
                        str(int(20 * k)),
                        "--format",
                        "raw",
                        "-o",
                        f"{prof}.txt",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                time.sleep(1.0)  # py-spy attaching
            result["cpu_burst_pct"] = measure(rec.pid, 20 * k, burst, phase="burst")
            if spy is not None:
                spy.wait(60)

            if args.soak:
                soak_rss: list[tuple[float, float]] = []
                t_start = time.monotonic()
                c0 = cpu_seconds(rec.pid)
                for _ in range(max(1, round(args.soak / 60))):  # 60 s cycles
                    ordinary(time.monotonic() + 50)
                    burst(time.monotonic() + 10)
                    soak_rss.append((round(time.monotonic() - t_start, 1), round(rss_mb(rec.pid), 1)))
                result["soak_seconds"] = round(time.monotonic() - t_start, 1)
                result["soak_cpu_pct"] = 100 * (cpu_seconds(rec.pid) - c0) / (time.monotonic() - t_start)
                result["soak_rss_per_minute"] = soak_rss
        finally:
            rec.send_signal(signal.SIGINT)
            out, err = rec.communicate(timeout=60)
            sampler.stop_flag.set()
        result["load_after"] = load_average()
        result["threads_pct"] = THREADS
        meta = json.loads((session / "session.json").read_text())
        result["stats"] = meta.get("stats")
        rss = [m for _, m in sampler.samples]
        result["rss_mb_first"] = rss[0] if rss else None
        result["rss_mb_max"] = max(rss) if rss else None
        result["rss_mb_last"] = rss[-1] if rss else None
        result["rss_samples"] = len(rss)
        cb = sorted(json.loads(timings.read_text())) if timings.exists() else []
        if cb:
            result["callbacks"] = len(cb)
            result["callback_p50_us"] = 1e6 * statistics.median(cb)
            result["callback_p99_us"] = 1e6 * cb[int(0.99 * (len(cb) - 1))]
            result["callback_max_us"] = 1e6 * cb[-1]
        result["session_mb"] = sum(f.stat().st_size for f in session.rglob("*") if f.is_file()) / 1e6
    shutil.rmtree(work, ignore_errors=True)
    (ROOT / "bench" / "_work").mkdir(parents=True, exist_ok=True)
    name = f"recorder_overhead{'-' + args.tag if args.tag else ''}.json"
    (ROOT / "bench" / "_work" / name).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
