"""The documents, measured after gunicorn has stopped: the two PDFs' render times in one
process (pdf_render), and a real worker making the documents of many confirmed orders
from a private Redis (worker_run)."""

from __future__ import annotations

import json
import re

from .config import BENCH_DIR, HOST, BenchError, Config, log
from .environment import manage
from .servers import WORKER_QUEUE, free_port, start_redis, start_worker, stop_process_group, tail
from .shell_scripts import PDF_RENDER, WORKER_RUN


def pdf_render(env: dict[str, str], config: Config, number: str) -> dict:
    output = manage(env, "shell", "-c", PDF_RENDER % {"runs": config.pdf_runs, "number": number})
    match = re.search(r"^BENCH_PDF (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"could not time the PDFs:\n{output}")
    return json.loads(match.group(1))


def worker_run(env: dict[str, str], config: Config) -> dict:
    """The documents of config.worker_orders confirmed orders made by a real worker
    (prefork, config.worker_concurrency processes) taking them from a private Redis."""
    port = free_port()
    worker_env = dict(env, REDIS_URL=f"redis://{HOST}:{port}/0")
    log_path = BENCH_DIR / "worker.log"
    redis_server = worker = None
    with open(log_path, "w") as log_file:
        try:
            redis_server = start_redis(port, log_file)
            worker = start_worker(worker_env, config.worker_concurrency, log_file)
            log(f"{config.worker_orders} confirmed orders for the worker (timeout {config.worker_timeout} s)")
            script = WORKER_RUN % {"count": config.worker_orders, "timeout": config.worker_timeout, "queue": WORKER_QUEUE}
            output = manage(worker_env, "shell", "-c", script)
            if worker.poll() is not None:
                raise BenchError(f"the worker exited with {worker.returncode}; see {log_path}:\n{tail(log_path)}")
        finally:
            if worker is not None:
                stop_process_group(worker, "the worker")
            if redis_server is not None:
                stop_process_group(redis_server, "redis-server")
            log("worker and redis-server stopped")
    match = re.search(r"^BENCH_WORKER (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"the worker run printed no result:\n{output}")
    result = json.loads(match.group(1))
    result.update(concurrency=config.worker_concurrency, port=port)
    return result
