"""The isolation pass after the many-customers load: every customer, with their own
session and the page cache on (as in production), reads My Orders, their first and
newest order, 我的消息 (each twice: rendered, then from the page cache) and their
documents; then tries the next customer's order page and documents, which must be 404.
A page may show its customer's marker and order numbers only."""

from __future__ import annotations

import http.client
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from .config import FORWARDED_PROTO, HOST

MARKER_RE = re.compile(r"KH\d{4}Q")
ORDER_NUMBER_RE = re.compile(r"BS-ZX\d+")
CLIENTS = 4  # concurrent readers: a little more than gunicorn's two workers


class Reader:
    """One keep-alive connection per thread, as a browser tab would hold it."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def get(self, path: str, customer: dict) -> tuple[int, bytes, str]:
        headers = {
            FORWARDED_PROTO[0]: FORWARDED_PROTO[1],
            "Cookie": f"sessionid={customer['session']}; csrftoken={customer['csrf']}",
        }
        for attempt in (1, 2):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                return response.status, response.read(), response.getheader("Content-Type", "")
            except (http.client.HTTPException, OSError):
                connection.close()
                self.local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def isolation_check(port: int, seeded: dict, facts: dict) -> dict:
    customers = seeded["customers"]
    owner = {row["number"]: row["customer"] for row in facts["orders"]}
    orders_of: dict[int, list[dict]] = {}
    for row in facts["orders"]:
        orders_of.setdefault(row["customer"], []).append(row)
    reader = Reader(port)
    counter = {"requests": 0}
    lock = threading.Lock()

    def check(index: int) -> list[str]:
        customer, neighbour = customers[index], customers[(index + 1) % len(customers)]
        mine, theirs = orders_of.get(customer["id"], []), orders_of.get(neighbour["id"], [])
        failures = []

        def fetch(path):
            with lock:
                counter["requests"] += 1
            return reader.get(path, customer)

        def page(path, *, must_show=()):
            for reading in ("rendered", "cached"):
                status, body, _ = fetch(path)
                text = body.decode(errors="replace")
                where = f"{customer['marker']} GET {path} ({reading})"
                if status != 200:
                    failures.append(f"{where}: {status}")
                    return
                markers = set(MARKER_RE.findall(text))
                if markers != {customer["marker"]}:
                    failures.append(f"{where}: markers {sorted(markers)}")
                strangers = {n for n in ORDER_NUMBER_RE.findall(text) if owner.get(n) != customer["id"]}
                if strangers:
                    failures.append(f"{where}: order numbers not theirs {sorted(strangers)[:3]}")
                missing = [n for n in must_show if n not in text]
                if missing:
                    failures.append(f"{where}: does not show {missing[:3]}")

        def document(path, *, own):
            status, body, content_type = fetch(path)
            where = f"{customer['marker']} GET {path}"
            if own and (status != 200 or not body.startswith(b"%PDF-") or content_type != "application/pdf"):
                failures.append(f"{where}: {status} {content_type}, not their PDF")
            if not own and status != 404:
                failures.append(f"{where} (another customer's): {status}, not 404")

        numbers = [row["number"] for row in mine]
        page("/account/orders/", must_show=numbers[-10:])  # page 1: the newest 10
        for number in dict.fromkeys(numbers[:1] + numbers[-1:]):
            page(f"/account/orders/{number}/", must_show=[number])
        page("/account/messages/")
        with_documents = [row for row in mine if row["contract"] and row["invoice"]]
        if with_documents:
            row = with_documents[0]
            document(f"/account/orders/{row['number']}/contract.pdf", own=True)
            document(f"/account/invoices/{row['invoice']}.pdf", own=True)
        if theirs:
            status, _, _ = fetch(f"/account/orders/{theirs[0]['number']}/")
            if status != 404:
                failures.append(f"{customer['marker']} GET another customer's order {theirs[0]['number']}: {status}, not 404")
        other_documents = [row for row in theirs if row["contract"] and row["invoice"]]
        if other_documents:
            row = other_documents[0]
            document(f"/account/orders/{row['number']}/contract.pdf", own=False)
            document(f"/account/invoices/{row['invoice']}.pdf", own=False)
        return failures

    with ThreadPoolExecutor(CLIENTS) as pool:
        failures = [failure for result in pool.map(check, range(len(customers))) for failure in result]
    with_documents = sum(1 for rows in orders_of.values() if any(r["contract"] and r["invoice"] for r in rows))
    return {
        "customers": len(customers),
        "with_documents": with_documents,
        "requests": counter["requests"],
        "failures": failures,
    }
