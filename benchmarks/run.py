"""Run every benchmark in ``benchmarks/`` and write the results where runs can be compared.

Each ``benchmarks/bench_*.py`` runs as its own subprocess (a fresh interpreter, so no
script warms or pollutes another's caches), its output captured. A script that writes
JSON rows to the path in ``CONVO_BENCH_JSON`` gets them rendered as a table; the
printed output of every script is kept too. The results go to
``benchmarks/results/latest.md`` and ``latest.json`` with the date, the machine and
the git commit.

    python benchmarks/run.py                   # everything, a few minutes
    python benchmarks/run.py --quick           # a smoke run (sets CONVO_BENCH_QUICK=1)
    python benchmarks/run.py http store        # only bench_http.py and bench_store.py
    python benchmarks/run.py --compare old.json   # add the previous run's ratios to the table
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PACKAGES = ("httpx", "httpx2", "pydantic", "tiktoken", "sqlalchemy", "orjson")


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they only compare on the same kind of machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "packages": versions,
    }


def run_script(script: Path, quick: bool, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "rows.json"
        env = {
            **os.environ,
            "CONVO_BENCH_JSON": str(out_json),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        if quick:
            env["CONVO_BENCH_QUICK"] = "1"
        args = [
            sys.executable,
            str(script),
            *(["--quick"] if quick and _knows_quick(script) else []),
        ]
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
            )
            code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            code = None
            stdout = _text(exc.stdout)
            stderr = _text(exc.stderr) + f"\n(stopped after {timeout:.0f} s)"
        seconds = time.perf_counter() - started
        data: Any = None
        if out_json.exists():
            try:
                data = json.loads(out_json.read_text())
            except ValueError as exc:
                stderr += f"\n(its JSON could not be read: {exc})"
    print(stdout, end="" if stdout.endswith("\n") else "\n")
    if code != 0:
        print(stderr[-3000:], file=sys.stderr)
    print(f"   ({seconds:.0f} s, exit {code})", flush=True)
    return {
        "script": script.name,
        "exit": code,
        "seconds": round(seconds, 1),
        "data": data,
        "stdout": stdout,
        "stderr": stderr[-3000:] if code != 0 else "",
    }


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _knows_quick(script: Path) -> bool:
    return "--quick" in script.read_text(encoding="utf-8", errors="replace")


def rows_table(rows: list[dict[str, Any]], previous: dict[str, float]) -> str:
    head = "| case | median [min-max] | ratio vs floor, median [min-max] | target |"
    rule = "|---|---|---|---|"
    if previous:
        head += " previous ratio |"
        rule += "---|"
    lines = [head, rule]
    for r in rows:
        unit = r.get("unit", "")
        timing = f"{_num(r['median'])} [{_num(r['min'])}-{_num(r['max'])}] {unit}".strip()
        ratio = "floor"
        if r.get("ratio"):
            q = r["ratio"]
            ratio = f"**{q['median']:.2f}x** [{q['min']:.2f}-{q['max']:.2f}] vs {r.get('floor')}"
        target = ""
        if r.get("target") is not None:
            target = f"<= {r['target']}x, " + ("met" if r.get("met") else "**not met**")
        line = f"| {r['name']} | {timing} | {ratio} | {target} |"
        if previous:
            before = previous.get(r["name"])
            line += f" {before:.2f}x |" if before is not None else " |"
        lines.append(line)
    return "\n".join(lines)


def _num(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def previous_ratios(path: Path | None) -> dict[str, float]:
    if path is None:
        return {}
    old = json.loads(path.read_text())
    found = {}
    for result in old.get("results", []):
        for r in (result.get("data") or {}).get("rows", []):
            if r.get("ratio"):
                found[r["name"]] = r["ratio"]["median"]
    return found


def markdown(report: dict[str, Any], previous: dict[str, float]) -> str:
    m = report["machine"]
    load = m["load_average"]
    lines = [
        "# convo benchmark results",
        "",
        f"- date: {report['date']}",
        f"- commit: `{report['commit']}`"
        + (" (with uncommitted changes)" if report["dirty"] else ""),
        f"- machine: {m['cpu']}, {m['cpus']} CPUs, {m['platform']}",
        f"- Python {m['python']} ({m['implementation']}); "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- load average at start: {', '.join(f'{x:.2f}' for x in load) if load else 'unknown'}",
        f"- total wall time: {report['seconds']:.0f} s"
        + (" (quick run)" if report["quick"] else ""),
        "",
        "Ratios are paired per round against the floor measured in the same run; "
        "see benchmarks/README.md for what each case does.",
    ]
    for result in report["results"]:
        lines += ["", f"## {result['script']}", ""]
        lines.append(f"{result['seconds']:.0f} s, exit {result['exit']}")
        data = result["data"] or {}
        if data.get("rows"):
            lines += ["", rows_table(data["rows"], previous)]
        if result["stdout"].strip():
            lines += ["", "Output:", "", "```", result["stdout"].rstrip(), "```"]
        if result["stderr"].strip():
            lines += ["", "Errors:", "", "```", result["stderr"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("only", nargs="*", help="run only these (bench_NAME.py or NAME)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rounds")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per script")
    parser.add_argument("--compare", type=Path, help="a previous results JSON to compare with")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.md/json go")
    args = parser.parse_args()

    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in args.only}
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
        if not scripts:
            parser.error(f"no benchmark named {', '.join(sorted(wanted))} in {HERE}")
    previous = previous_ratios(args.compare)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "machine": machine(),
        "quick": args.quick,
    }
    started = time.perf_counter()
    report["results"] = [run_script(s, args.quick, args.timeout) for s in scripts]
    report["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "latest.md").write_text(markdown(report, previous))
    failed = [r["script"] for r in report["results"] if r["exit"] != 0]
    print(f"\nwrote {args.out / 'latest.md'} ({report['seconds']:.0f} s)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
