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

    python bench/recorder_overhead.py [--short]
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


def measure(pid: int, seconds: float, work=None) -> float:
    """Percent of one core used by pid over `seconds` while `work()` runs (if given)."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    end = t0 + seconds
    if work is not None:
        work(end)
    time.sleep(max(0.0, end - time.monotonic()))
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def background(xs: XServer, work: Path) -> None:
    chromium = shutil.which("chromium")
    page = ROOT / "bench" / "_work" / "overhead_page.png"
    if chromium and not page.exists():
        html = work / "page.html"
        from bench.recorder_storage import FILLER, PAGE, SCREENS  # noqa: PLC0415

        s = SCREENS[0]
        html.write_text(PAGE.format(typed=s["typed"][-1], filler=FILLER, **{k: v for k, v in s.items() if k != "typed"}))
        page.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1920,1080", f"--screenshot={page}", html.as_uri()], capture_output=True, timeout=120)
    if page.exists() and shutil.which("display"):
        xs.run("display", "-window", "root", str(page), check=False, timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="shorter phases (smoke run)")
    args = ap.parse_args()
    k = 0.25 if args.short else 1.0
    work = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    timings = work / "timings.json"
    result: dict = {}
    with XServer(1920, 1080) as xs:
        background(xs, work)
        wid = xs.xterm("editor", geometry="100x30+500+250")
        env = xs.env | {"DATAMAKR_RECORDER_TIMINGS": str(timings)}
        rec = subprocess.Popen([sys.executable, str(ROOT / "record.py"), "--out", str(work / "s"), "--no-status"],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = rec.stdout.readline()
        session = Path(line.split("recording to ", 1)[1].split()[0])
        sampler = Sampler(rec.pid)
        sampler.start()
        try:
            result["cpu_quiet_pct"] = measure(rec.pid, 30 * k)
            result["cpu_idle_pct"] = measure(rec.pid, 20 * k)
            log0 = (session / "events.jsonl").stat().st_size

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

            t_ord = 60 * k
            result["cpu_ordinary_pct"] = measure(rec.pid, t_ord, ordinary)
            time.sleep(1.5)  # let the last burst's events reach the disk
            log1 = (session / "events.jsonl").stat().st_size
            result["event_log_mb_per_hour"] = (log1 - log0) / 1e6 * 3600 / (t_ord + 1.5)

            def burst(end: float) -> None:
                while time.monotonic() + 1 <= end + 0.01:
                    second = time.monotonic()
                    xs.xdotool("type", "--window", wid, "--delay", "100", "abcdefghi")
                    xs.xdotool("click", "1")
                    time.sleep(max(0.0, second + 1 - time.monotonic()))

            result["cpu_burst_pct"] = measure(rec.pid, 20 * k, burst)
        finally:
            rec.send_signal(signal.SIGINT)
            out, err = rec.communicate(timeout=60)
            sampler.stop_flag.set()
        meta = json.loads((session / "session.json").read_text())
        result["stats"] = meta.get("stats")
        rss = [m for _, m in sampler.samples]
        result["rss_mb_first"] = rss[0] if rss else None
        result["rss_mb_max"] = max(rss) if rss else None
        result["rss_mb_last"] = rss[-1] if rss else None
        cb = sorted(json.loads(timings.read_text())) if timings.exists() else []
        if cb:
            result["callbacks"] = len(cb)
            result["callback_p50_us"] = 1e6 * statistics.median(cb)
            result["callback_p99_us"] = 1e6 * cb[int(0.99 * (len(cb) - 1))]
            result["callback_max_us"] = 1e6 * cb[-1]
        result["session_mb"] = sum(f.stat().st_size for f in session.rglob("*") if f.is_file()) / 1e6
    shutil.rmtree(work, ignore_errors=True)
    (ROOT / "bench" / "_work").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "_work" / "recorder_overhead.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
