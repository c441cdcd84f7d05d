"""What the scanners found: wapiti's JSON reports (and the methods its log names), sqlmap's
output, the server's log; merged, judged against scripts/scan_findings.json, and the table."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import ScanError


@dataclass
class Finding:
    scanner: str
    check: str
    finding: str
    where: str  # "METHOD /path/ parameter", ids in the path replaced by *
    count: int = 1
    verdict: str = ""
    known: bool = False


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    note: str = ""
    findings: list[Finding] = field(default_factory=list)


def where(method: str, path: str, parameter: str = "") -> str:
    path = re.sub(r"(?<=/)(\d+|[^/]*\d{6,}[^/]*)(?=/|$)", "*", path.split("?")[0])  # ids, order numbers
    return f"{method} {path} {parameter}".strip()


def wapiti_findings(report: Path, output: str) -> list[Finding]:
    if not report.exists():
        raise ScanError(f"wapiti wrote no report ({report}); the end of its log:\n{output[-2000:]}")
    data = json.loads(report.read_text())
    found = []
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for check, items in data.get(section, {}).items():
            for item in items:
                place = where(item["method"], item["path"], item.get("parameter") or "")
                found.append(Finding("wapiti", check, " ".join(item["info"].split()), place))
    # 3.0.4's methods module only prints what it finds.
    for url, methods in re.findall(r"Interesting methods allowed on http://[^/]+(/\S*): (.+)", output):
        found.append(Finding("wapiti", "methods", f"allows {methods.strip()}", where("OPTIONS", url)))
    return found


def sqlmap_findings(output: str, name: str) -> list[Finding]:
    found = []
    for parameter, kind in re.findall(r"^Parameter: (.+?)\n\s+Type: (.+)$", output, re.MULTILINE):
        found.append(Finding("sqlmap", "injection", kind.strip(), f"{name}: {parameter}"))
    heuristic = r"heuristic \(\w+\) test shows that (\w+) parameter '([^']+)' might be vulnerable to (.+?) attacks"
    for method, parameter, what in re.findall(heuristic, output):
        found.append(Finding("sqlmap", "heuristic", f"might be vulnerable to {what}", f"{name}: {method} {parameter}"))
    if not found and "do not appear to be injectable" not in output:
        errors = re.findall(r"\[CRITICAL\] (.+)", output)
        raise ScanError(f"sqlmap ({name}) ended without a verdict: {'; '.join(errors) or 'see its log'}")
    return found


def server_log_findings(log_path: Path) -> list[Finding]:
    """Every 500 (with the last line of its traceback), every 503 the shop answered because
    it lost the database (with why), every request gunicorn killed."""
    lines = log_path.read_text(errors="replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if match := re.search(r"mall\.middleware database unavailable, answered 503: (\w+) (\S+): (.+)", line):
            found.append(Finding("server log", "503", match.group(3), where(match.group(1), match.group(2))))
        elif match := re.search(r"ERROR django\.request Internal Server Error: (\S+)", line):
            rest = [later for later in lines[i + 1 : i + 200] if later.strip()]
            end = next((n for n, later in enumerate(rest) if re.match(r"\d{4}-\d\d-\d\d |\[\d{4}-", later)), len(rest))
            found.append(Finding("server log", "500", rest[end - 1].strip() if end else "?", where("", match.group(1))))
        elif "WORKER TIMEOUT" in line:
            found.append(Finding("server log", "worker timeout", "a request ran past gunicorn's 30 s", "-"))
    return found


def merge(findings: list[Finding]) -> list[Finding]:
    merged: dict[tuple, Finding] = {}
    for finding in findings:
        key = (finding.scanner, finding.check, finding.finding, finding.where)
        if key in merged:
            merged[key].count += 1
        else:
            merged[key] = finding
    return list(merged.values())


def judge(findings: list[Finding], known: list[dict]) -> list[Finding]:
    """Give each finding its verdict; the known ones not seen are listed too (seen 0)."""
    def matches(entry, finding):
        keys = ("scanner", "check", "finding", "where")
        return all(fnmatch.fnmatchcase(getattr(finding, key), entry.get(key, "*")) for key in keys)

    seen = set()
    for finding in findings:
        entry = next((e for e in known if matches(e, finding)), None)
        if entry is None:
            finding.verdict = "OPEN: fix it, or add it to scripts/scan_findings.json with why it is not real"
            continue
        seen.add(id(entry))
        if entry["verdict"] == "fixed":
            finding.verdict = f"OPEN: back again (fixed before: {entry['reason']})"
        else:
            finding.known, finding.verdict = True, f"not real: {entry['reason']}"
    for entry in known:
        if id(entry) not in seen:
            verdict = "fixed" if entry["verdict"] == "fixed" else "not seen this run; when seen, not real"
            verdict = f"{verdict}: {entry['reason']}"
            findings.append(Finding(entry["scanner"], entry["check"], entry["finding"], entry["where"], 0, verdict, True))
    return findings


def table(runs: list[Run], findings: list[Finding], header: str) -> str:
    def cell(text):
        return str(text).replace("|", "\\|")

    lines = [header, "", "| run | took | result |", "|---|---:|---|"]
    lines += [f"| {run.name} | {run.seconds:.0f} s | {cell(run.note)} |" for run in runs]
    lines += ["", "| scanner | check | finding | where | seen | verdict |", "|---|---|---|---|---:|---|"]
    order = sorted(findings, key=lambda f: (f.known, f.count == 0, f.scanner, f.check, f.where))
    lines += [
        f"| {f.scanner} | {cell(f.check)} | {cell(f.finding)} | {cell(f.where)} | {f.count} | {cell(f.verdict)} |"
        for f in order
    ]
    return "\n".join(lines) + "\n"
