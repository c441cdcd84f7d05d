"""Where things are (the project, var/bench/, the venv's programs), the one host the
bench talks to, the settings read from BENCH_* (Config), BenchError and log()."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench"
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
GUNICORN = VENV_BIN / "gunicorn"
CELERY = VENV_BIN / "celery"

HOST = "127.0.0.1"
FORWARDED_PROTO = ("X-Forwarded-Proto", "https")


# The parts of a run, in order (BENCH_PARTS picks some; the set-up always runs).
PARTS = ("pages", "mixed", "customers", "pdf", "worker")


class BenchError(Exception):
    """A setup step failed: the bench cannot produce a meaningful table."""


@dataclass(frozen=True)
class Config:
    duration: int
    warmup: int
    rounds: int  # slices a page's duration is cut into, each beside a slice of /healthz
    connections: int
    threads: int
    workers: int
    database_url: str | None
    pdf_runs: int
    worker_orders: int
    worker_concurrency: int
    worker_timeout: int
    mixed_duration: int
    customers: int
    customers_duration: int
    parts: tuple[str, ...] = PARTS

    @classmethod
    def from_env(cls) -> Config:
        def positive(name, default, minimum=1):
            raw = os.environ.get(name, "").strip() or str(default)
            try:
                value = int(raw)
            except ValueError:
                raise BenchError(f"{name} must be a whole number, not {raw!r}") from None
            if value < minimum:
                raise BenchError(f"{name} must be at least {minimum}, not {value}")
            return value

        parts = tuple(part.strip() for part in os.environ.get("BENCH_PARTS", "").split(",") if part.strip()) or PARTS
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise BenchError(f"BENCH_PARTS: unknown {', '.join(unknown)} (the parts are {', '.join(PARTS)})")
        config = cls(
            duration=positive("BENCH_DURATION", 10),
            warmup=positive("BENCH_WARMUP", 2, minimum=0),
            rounds=positive("BENCH_ROUNDS", 5),
            connections=positive("BENCH_CONNECTIONS", 16),
            threads=positive("BENCH_THREADS", 2),
            workers=positive("BENCH_WORKERS", 2),
            database_url=os.environ.get("BENCH_DATABASE_URL") or None,
            pdf_runs=positive("BENCH_PDF_RUNS", 20),
            worker_orders=positive("BENCH_WORKER_ORDERS", 200),
            worker_concurrency=positive("BENCH_WORKER_CONCURRENCY", 2),
            worker_timeout=positive("BENCH_WORKER_TIMEOUT", 600),
            mixed_duration=positive("BENCH_MIXED_DURATION", 20),
            customers=positive("BENCH_CUSTOMERS", 200),
            customers_duration=positive("BENCH_CUSTOMERS_DURATION", 60, minimum=10),
            parts=tuple(part for part in PARTS if part in parts),
        )
        if config.threads > config.connections:
            raise BenchError("BENCH_THREADS must not exceed BENCH_CONNECTIONS (wrk needs a connection per thread)")
        return config


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
