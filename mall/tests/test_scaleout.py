"""Scale-out: two web processes and two Celery workers, separate processes as on separate
machines, sharing one PostgreSQL database (the test database), one Redis (a private
redis-server) and one S3 bucket (moto_server), with production settings and one signing
key pair. Customers confirm receipt over HTTP through both web processes, one order
through both at the same moment; every confirmed order then has exactly one invoice and
one contract, one object each in the bucket, and `manage.py reconcile --json --files`
run as another process finds nothing wrong.

Each process is bounded in time and stopped (its process group) in the fixture's
teardown, also when the test fails, before the test database is flushed.
"""

import hashlib
import http.client
import json
import os
import secrets
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from accounts.tests.factories import UserFactory
from invoicing.models import Contract, DocumentJob, Invoice
from invoicing.tests.conftest import write_signing_pair
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in
from tests.support.helpers import BASE_DIR, LOCALHOST, database_url, free_port, process_stop, wait_for
from tests.support.s3server import S3Server

GUNICORN = Path(sys.executable).with_name("gunicorn")
CELERY = Path(sys.executable).with_name("celery")
START_SECONDS = 30  # a web process answers /readyz, a worker logs "ready"
DOCUMENTS_SECONDS = 90  # every order's invoice sheet and signed contract, two workers
REQUEST_SECONDS = 30
ORDERS = 6  # confirmed one each through alternating web processes
DOUBLE_CONFIRMED = 1  # of those, confirmed through both web processes at the same moment
# What `collectstatic` does on each web machine, without the compressed copies
# (CompressedManifestStaticFilesStorage takes ~25 s here for them): the hashed files and
# the manifest the production pages' {% static %} needs (the 404 page, for one).
COLLECTSTATIC = """
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
manifest_only = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}
with override_settings(STORAGES={**settings.STORAGES, "staticfiles": manifest_only}):
    call_command("collectstatic", interactive=False, verbosity=0)
"""


class Cluster:
    """The processes and the shared services, for the test's requests and asserts."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.webs: list[tuple[subprocess.Popen, int, Path]] = []  # process, port, log
        self.workers: list[tuple[subprocess.Popen, str, Path]] = []  # process, node name, log
        self.env: dict[str, str] = {}

    def logs(self) -> str:
        paths = [log for *_, log in self.webs + self.workers]
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}" for path in paths)

    def wait(self, predicate, timeout, what):
        """wait_for `predicate`, failing at once with the logs if a process exits."""
        processes = [process for process, *_ in self.webs + self.workers]
        return wait_for(predicate, timeout, what, logs=self.logs, processes=processes)

    def ready(self, port: int) -> bool:
        """/readyz answers 200: the process reaches the database and Redis."""
        try:
            return self.request(port, "GET", "/readyz")[0] == 200
        except OSError:  # not listening yet
            return False

    def request(self, port: int, method: str, path: str, *, session: str = "", body: str = ""):
        """A request as the TLS proxy forwards it: X-Forwarded-Proto https, the Host the
        browser used. A POST carries a CSRF cookie and the same token in its form."""
        connection = http.client.HTTPConnection(LOCALHOST, port, timeout=REQUEST_SECONDS)
        host = f"{LOCALHOST}:{port}"
        headers = {"Host": host, "X-Forwarded-Proto": "https"}
        cookies = [f"sessionid={session}"] if session else []
        if method == "POST":
            token = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret
            cookies.append(f"csrftoken={token}")
            body = f"csrfmiddlewaretoken={token}" + (f"&{body}" if body else "")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"https://{host}/account/orders/"
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        try:
            connection.request(method, path, body=body.encode() or None, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def start(command, env, log_path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path / "moto").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster(transactional_db, tmp_path, s3, private_redis):
    """Two gunicorn web processes and two Celery workers (own node names) on the test
    database, a private Redis, one bucket and one signing pair; production settings."""
    cleanup = ExitStack()
    cluster = Cluster(tmp_path)
    with cleanup:
        signing_key, signing_cert = write_signing_pair(tmp_path / "signing")
        static_root = tmp_path / "static"
        static_root.mkdir()
        cluster.bucket = s3.bucket_create()
        cluster.env = env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mall.settings.production",
            # Identical on every web process: sessions and CSRF are signed with it.
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": LOCALHOST,
            "DATABASE_URL": database_url(django_settings.DATABASES["default"]),
            "REDIS_URL": private_redis.url,
            "SIGNING_KEY": signing_key,
            "SIGNING_CERT": signing_cert,
            "STATIC_ROOT": str(static_root),
            "EMAIL_URL": "consolemail://",
            "PYTHONUNBUFFERED": "1",
            **s3.environment(cluster.bucket),
        }
        env.pop("CELERY_BROKER_URL", None)
        collectstatic = start([sys.executable, "-c", COLLECTSTATIC], env, tmp_path / "collectstatic.log")
        cleanup.callback(process_stop, collectstatic)
        for number in (1, 2):
            name = f"worker{number}@scaleout-{secrets.token_hex(3)}"
            log = tmp_path / f"worker{number}.log"
            command = [
                str(CELERY), "-A", "mall", "worker", "--pool", "solo", "-n", name, "--loglevel", "info",
                "--without-heartbeat", "--without-gossip", "--without-mingle",
            ]
            process = start(command, env, log)
            cleanup.callback(process_stop, process)
            cluster.workers.append((process, name, log))

        # The web processes read the manifest when they start, as after a deploy's collectstatic.
        try:
            assert collectstatic.wait(timeout=START_SECONDS) == 0, (tmp_path / "collectstatic.log").read_text()
        except subprocess.TimeoutExpired:
            pytest.fail(f"collectstatic took over {START_SECONDS}s")
        for number in (1, 2):
            port = free_port()
            log = tmp_path / f"web{number}.log"
            command = [
                str(GUNICORN), "mall.wsgi:application", "--bind", f"{LOCALHOST}:{port}",
                "--workers", "1", "--no-control-socket", "--timeout", str(REQUEST_SECONDS), "--graceful-timeout", "2",
            ]
            process = start(command, env, log)
            cleanup.callback(process_stop, process)
            cluster.webs.append((process, port, log))
        for _process, port, _log in cluster.webs:
            cluster.wait(lambda port=port: cluster.ready(port), START_SECONDS, f"/readyz 200 on port {port}")
        for _process, name, log in cluster.workers:
            cluster.wait(lambda log=log, name=name: f"{name} ready." in log.read_text(errors="replace"),
                         START_SECONDS, f"worker {name} ready")
        yield cluster


def session_for(user) -> str:
    """A signed-in session written to the shared database, as login() would set it."""
    session = SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def confirm(cluster, port, order, session):
    status, headers, _ = cluster.request(port, "POST", f"/account/orders/{order.number}/confirm/", session=session)
    return status, headers.get("Location", "")


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_web_processes_and_two_workers_make_each_document_once_and_lose_none(cluster, s3):
    orders = [order_in(Order.Status.IN_TRADE) for _ in range(ORDERS)]
    sessions = {order.pk: session_for(order.customer) for order in orders}
    ports = [port for _process, port, _log in cluster.webs]

    # The same order confirmed through both web processes at the same moment.
    for order in orders[:DOUBLE_CONFIRMED]:
        barrier = threading.Barrier(2)
        outcomes = [None, None]

        def post(index, order=order, barrier=barrier, outcomes=outcomes):
            barrier.wait(timeout=10)
            outcomes[index] = confirm(cluster, ports[index], order, sessions[order.pk])

        threads = [threading.Thread(target=post, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=REQUEST_SECONDS + 5)
        assert [status for status, _ in outcomes] == [302, 302], (outcomes, cluster.logs())
    for index, order in enumerate(orders[DOUBLE_CONFIRMED:]):
        status, location = confirm(cluster, ports[index % 2], order, sessions[order.pk])
        assert (status, location) == (302, f"/account/orders/{order.number}/"), cluster.logs()

    def all_done():
        return DocumentJob.objects.filter(order__in=orders, status=DocumentJob.Status.DONE).count() == ORDERS

    cluster.wait(all_done, DOCUMENTS_SECONDS, f"documents of {ORDERS} orders")

    keys = s3.keys(cluster.bucket)
    for order in orders:
        assert Order.objects.get(pk=order.pk).status == Order.Status.SUCCESS
        assert OrderEvent.objects.filter(order=order, action="confirm_receipt").count() == 1
        invoices, contracts = list(Invoice.objects.filter(order=order)), list(Contract.objects.filter(order=order))
        assert len(invoices) == 1 and len(contracts) == 1, (order.number, invoices, contracts)
        assert [key for key in keys if order.number in key] == sorted(
            [f"documents/{invoices[0].sheet.name}", f"documents/{contracts[0].pdf.name}"]
        )
    assert len(keys) == 2 * ORDERS, keys
    jobs = DocumentJob.objects.filter(order__in=orders)
    assert {job.attempts for job in jobs} == {1}
    assert len({job.worker for job in jobs}) == 2, "both workers made documents"

    # Documents made by either worker stream from either web process, to their owner only.
    order = orders[-1]
    contract = Contract.objects.get(order=order)
    for port in ports:
        status, headers, body = cluster.request(port, "GET", f"/account/orders/{order.number}/contract.pdf",
                                                session=sessions[order.pk])
        assert status == 200 and body.startswith(b"%PDF-"), (status, cluster.logs())
        assert len(body) == int(headers["Content-Length"])
    assert hashlib.sha256(body).hexdigest() == contract.sha256
    stranger = session_for(UserFactory())
    assert cluster.request(ports[0], "GET", f"/account/orders/{order.number}/contract.pdf", session=stranger)[0] == 404

    result = subprocess.run(
        [sys.executable, "manage.py", "reconcile", "--json", "--files"],
        cwd=BASE_DIR, env=cluster.env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == [] and report["files_checked"] == 2 * ORDERS, report


# --- The deployment files (compose.yaml cannot run here: no image registry) ----------


@pytest.mark.once
def test_the_procfile_has_release_web_worker_and_beat():
    processes = dict(
        line.split(":", 1) for line in (BASE_DIR / "Procfile").read_text().splitlines() if line and line[0] != "#"
    )
    assert sorted(processes) == ["beat", "release", "web", "worker"]
    assert "migrate" in processes["release"]
    assert processes["web"].split()[:2] == ["gunicorn", "mall.wsgi:application"]
    assert processes["worker"].split()[:4] == ["celery", "-A", "mall", "worker"]
    assert processes["beat"].split()[:4] == ["celery", "-A", "mall", "beat"]


@pytest.mark.once
def test_compose_runs_every_process_on_the_same_settings_with_one_beat():
    import yaml

    compose = yaml.safe_load((BASE_DIR / "compose.yaml").read_text())
    services = compose["services"]
    app = ["migrate", "web", "worker", "beat"]
    assert {"postgres", "redis", "minio", "proxy", *app} <= set(services)
    environments = [services[name]["environment"] for name in app]
    assert all(environment == environments[0] for environment in environments)
    environment = environments[0]
    assert environment["DJANGO_SETTINGS_MODULE"] == "mall.settings.production"
    for variable in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DOCUMENTS_S3_BUCKET", "SIGNING_KEY", "SIGNING_CERT"):
        assert environment[variable], variable
    assert environment["AXES_PROXY_COUNT"] == "1"
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["web"]["deploy"]["replicas"] >= 2 and services["worker"]["deploy"]["replicas"] >= 2
    assert (BASE_DIR / services["web"]["build"]["dockerfile"]).is_file()
    proxy_config = services["proxy"]["volumes"][0].split(":")[0]
    nginx = (BASE_DIR / proxy_config).read_text()
    assert "proxy_set_header X-Forwarded-Proto" in nginx and "server web:8000" in nginx


# --- One signing pair: the development pair made by processes starting together -------

MAKE_DEV_PAIR = """
import sys
from django.conf import settings
settings.configure(VAR_DIR=sys.argv[1], SELLER={"name": "测试卖家"}, SIGNING_KEY="", SIGNING_CERT="",
                   SIGNING_KEY_PASSPHRASE="")
from invoicing import signing
sys.stdout.write(signing.signing_credentials().fingerprint)
"""


@pytest.mark.once
def test_workers_starting_together_make_one_development_pair_and_all_use_it(tmp_path):
    """Without SIGNING_KEY each process makes var/signing/ on first use; a lock file keeps
    processes of one machine from writing two pairs. (Several machines share nothing under
    var/: they must be given one pair through SIGNING_KEY / SIGNING_CERT.)"""
    processes = [
        subprocess.Popen([sys.executable, "-c", MAKE_DEV_PAIR, str(tmp_path)], cwd=BASE_DIR,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outcomes = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outcomes
    fingerprints = {stdout for stdout, _stderr in outcomes}
    assert len(fingerprints) == 1 and len(fingerprints.pop()) == 64
    assert sorted(path.name for path in (tmp_path / "signing").iterdir()) == [".lock", "dev-cert.pem", "dev-key.pem"]


# --- Two beats by mistake: two sweeps at once still make one set of documents ----------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_make_one_invoice_and_one_contract(settings, tmp_path):
    """What a second beat would do: the sweeper runs twice at the same moment. Both send
    the order's documents; the job's row lock lets one make them and the other find
    them done. (Commits are real; without REDIS_URL the sent task runs in-process.)"""
    from datetime import timedelta

    from django.utils import timezone

    from invoicing import services as invoicing_services
    from invoicing import signing
    from tests.support.helpers import run_concurrently

    settings.SIGNING_KEY, settings.SIGNING_CERT = str(tmp_path / "missing.pem"), str(tmp_path / "missing-cert.pem")
    order = order_in(Order.Status.SUCCESS)  # its documents fail after the commit: no key yet
    assert DocumentJob.objects.get(order=order).status == DocumentJob.Status.FAILED
    settings.SIGNING_KEY, settings.SIGNING_CERT = write_signing_pair(tmp_path / "signing")
    later = timezone.now() + timedelta(minutes=settings.DOCUMENTS_SWEEP_AFTER_MINUTES + 1)

    try:
        outcomes = run_concurrently(lambda i: invoicing_services.documents_sweep(now=later), 2)
    finally:
        signing._load.cache_clear()

    # Each sent it, unless the other had already finished it (a machine under load).
    assert [order.pk] in outcomes and all(sent in ([order.pk], []) for sent in outcomes), outcomes
    assert DocumentJob.objects.get(order=order).status == DocumentJob.Status.DONE
    assert Invoice.objects.filter(order=order).count() == Contract.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, action="documents_ready").count() == 1
