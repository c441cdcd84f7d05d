"""Helpers shared by the test suites (not a test module itself)."""

import threading

from django.db import connection


def run_concurrently(target, count, *, timeout=120):
    """Run `target(i)` for i in range(count) in threads released together by a barrier.

    Returns each call's result, or the exception it raised, in order. Each thread closes
    its own database connection, as Django opens one per thread. Meant for the
    PostgreSQL tier (transaction=True), where row locks are real.
    """
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def worker(i):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = target(i)
        except Exception as error:  # returned to the caller, who asserts on it
            outcomes[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes
