"""The fault tests' world (customers signed in, orders in trade) and a private PostgreSQL
cluster they may stop and start."""

import os
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders.models import Order
from orders.tests.factories import agreement, order_in
from tests.support.helpers import LOCALHOST, free_port
from tests.support.traffic import Shopper

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _server_binaries() -> Path:
    """PG_BIN, else the newest PostgreSQL where Debian and Ubuntu install it."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    versions = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb") if path.parts[-3].isdigit()]
    return max(versions, key=lambda path: int(path.parts[-2]), default=Path("/usr/lib/postgresql/15/bin"))


PG_BIN = _server_binaries()


def make_shoppers(count, *, orders_each, long_order_lines=0):
    """`count` customers with a default invoice profile and a session, three services on
    sale, a published agreement, and `orders_each` orders in 交易中 each (the first of
    customer 0 with `long_order_lines` lines when given). Returns (shoppers, {index:
    order numbers})."""
    services = [ServiceFactory(standard_price=Decimal("2000.00")) for _ in range(3)]
    current = agreement()
    shoppers, numbers = [], {}
    for index in range(count):
        customer = UserFactory()
        profile = InvoiceProfileFactory(user=customer, is_default=True)
        client = Client()
        client.force_login(customer, backend=MODEL_BACKEND)
        shoppers.append(
            Shopper(client.cookies["sessionid"].value, profile.pk, current.pk, [service.pk for service in services])
        )
        orders = []
        for position in range(orders_each):
            lines = [(ServiceFactory(), 1) for _ in range(long_order_lines)] if index == position == 0 and long_order_lines else None
            order = order_in(
                Order.Status.IN_TRADE, customer=customer, invoice_profile=profile, services_and_quantities=lines
            )
            orders.append(order.number)
        numbers[index] = orders
    return shoppers, numbers


def _as_postgres(*command, **kwargs):
    prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    return subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True, text=True, **kwargs)


class PostgresCluster:
    """A PostgreSQL cluster of one test: initdb in a temporary directory owned by the
    postgres user (initdb refuses root), on a free port of 127.0.0.1, trust
    authentication, fsync off. Stopped and started again by the test; destroyed after."""

    DATABASE = "cloudmall_faults"

    def __init__(self, directory: Path, port: int):
        self.directory, self.port = directory, port
        self.data = directory / "data"
        self.log = directory / "postgres.log"

    @classmethod
    def start(cls) -> "PostgresCluster":
        directory = Path(tempfile.mkdtemp(prefix="cloudmall-pg-"))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        cluster = cls(directory, free_port())
        _as_postgres(PG_BIN / "initdb", "-D", cluster.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        cluster.start_again()
        return cluster

    @property
    def url(self) -> str:
        return f"postgres://postgres@{LOCALHOST}:{self.port}/{self.DATABASE}"

    def start_again(self):
        options = f"-p {self.port} -c listen_addresses={LOCALHOST} -k {self.directory} -c fsync=off -c full_page_writes=off"
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "30", "start")

    def stop(self):
        """A fast shutdown: open connections are cut, their transactions rolled back."""
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop")

    def copy_of(self, database: dict) -> str:
        """A database here holding what `database` (a settings.DATABASES entry: the
        migrated test database and the test's rows, committed) holds; its URL. pg_dump
        and psql instead of `migrate`, which takes ~20 s on this schema."""
        source = ["-h", database.get("HOST") or LOCALHOST, "-U", database.get("USER") or "postgres"]
        if database.get("PORT"):
            source += ["-p", str(database["PORT"])]
        environment = {**os.environ, "PGPASSWORD": database.get("PASSWORD") or ""}
        _as_postgres(PG_BIN / "createdb", "-h", LOCALHOST, "-p", self.port, "-U", "postgres", self.DATABASE)
        dump = subprocess.run(
            [PG_BIN / "pg_dump", *source, "--no-owner", "--no-privileges", database["NAME"]],
            check=True, capture_output=True, env=environment,
        )
        subprocess.run(
            [PG_BIN / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", LOCALHOST, "-p", str(self.port), "-U", "postgres", self.DATABASE],
            input=dump.stdout, check=True, capture_output=True,
        )
        return self.url

    def destroy(self):
        try:
            _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_postgres(cannot_run):
    if not (PG_BIN / "initdb").exists():
        cannot_run("postgres", f"no initdb in {PG_BIN} (PG_BIN): the PostgreSQL restart test needs the server binaries")
    cluster = PostgresCluster.start()
    yield cluster
    cluster.destroy()
