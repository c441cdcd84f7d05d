"""Every bulk write to a model a cached page shows goes through the bumping queryset.

A declared model's managers all use mall.pagecache.PageVisibleQuerySet (the system check,
pagecache.E005, and test_pagecache_contract.py hold them to it), so a plain `.update(…)`,
`.bulk_update(…)` or `.bulk_create(…)` makes the customer's pages stale. What would write
behind its back is read here from the apps' source (tests and migrations aside): Django's
plain QuerySet called directly, the base manager, the internal `_update()`, and SQL that
writes a declared model's table.
"""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

from mall.pagecache import checks, contract

pytestmark = pytest.mark.once  # reads the sources: no database

BASE_DIR = Path(settings.BASE_DIR)
APPS = ("accounts", "catalog", "inquiries", "invoicing", "mall", "orders", "refunds")
# The one place allowed to call the plain QuerySet's writes: the bumping queryset itself.
ALLOWED = {Path("mall/pagecache/querysets.py")}
WRITES = {"update", "bulk_update", "bulk_create"}
# Ways around a model's managers, or below them.
BYPASSES = {"_base_manager", "_update", "_insert", "_batched_insert", "update_batch", "_raw_delete", "_do_update"}
PLAIN_QUERYSETS = {"QuerySet", "models.QuerySet", "query.QuerySet", "django.db.models.QuerySet"}


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _receiver_root(node):
    """The start of a chain like `Model.objects.filter(…).exclude(…)`."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return node


def bypassing_writes(source: str, *, tables: set[str]) -> list[str]:
    """The writes in `source` that would not bump the page cache, as "line: what" strings."""
    found = []
    table_writes = (
        re.compile(rf"\b(update|insert\s+into|delete\s+from)\s+[\"`']?({'|'.join(map(re.escape, sorted(tables)))})\b", re.I)
        if tables
        else None
    )
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in BYPASSES:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            root = _receiver_root(node.func.value)
            called_on = _dotted(node.func.value)
            if called_on in PLAIN_QUERYSETS:
                found.append(f"{node.lineno}: {called_on}.{node.func.attr}(…)")
            elif isinstance(root, ast.Name) and root.id == "super" and isinstance(node.func.value, ast.Call):
                found.append(f"{node.lineno}: super().{node.func.attr}(…)")
        elif isinstance(node, ast.Call) and _dotted(node.func) in PLAIN_QUERYSETS:
            found.append(f"{node.lineno}: {_dotted(node.func)}(…) built by hand")
        elif table_writes and isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = table_writes.search(node.value)
            if match:
                found.append(f"{node.lineno}: SQL {match.group(0)!r}")
    return found


def app_modules():
    for app in APPS:
        for path in sorted((BASE_DIR / app).rglob("*.py")):
            relative = path.relative_to(BASE_DIR)
            if {"tests", "migrations"} & set(relative.parts) or relative in ALLOWED:
                continue
            yield relative, path


def declared_tables() -> set[str]:
    return {model._meta.db_table for model in checks.declared_models(contract.current())}


def test_no_app_writes_a_declared_model_behind_the_page_caches_back():
    tables = declared_tables()
    violations = [
        f"{relative}:{found}"
        for relative, path in app_modules()
        for found in bypassing_writes(path.read_text(encoding="utf-8"), tables=tables)
    ]
    assert not violations, (
        "these writes would leave cached pages stale; write through the model's manager "
        "(its update(), bulk_update() and bulk_create() bump: docs/page-cache.md):\n" + "\n".join(violations)
    )


def test_the_check_reads_every_app_and_knows_the_tables():
    modules = {relative.parts[0] for relative, _path in app_modules()}
    assert modules == set(APPS)
    assert {"orders_order", "orders_orderline", "accounts_message", "catalog_service"} <= declared_tables()


class TestTheCheckItself:
    TABLES = {"orders_order", "accounts_message"}

    @pytest.mark.parametrize(
        "source",
        [
            "QuerySet.update(Order.objects.all(), status='x')",
            "models.QuerySet.update(qs, status='x')",
            "Order._base_manager.filter(pk=1).update(status='x')",
            "Order.objects.filter(pk=1)._update({'status': 'x'})",
            "qs = QuerySet(model=Order)",
            "class Q(models.QuerySet):\n    def touch(self):\n        return super().update(at=1)",
            "cursor.execute('UPDATE orders_order SET status = %s', ['x'])",
            'cursor.execute("""\n    delete from "accounts_message" where id = 1""")',
            "connection.cursor().execute('INSERT INTO orders_order (id) VALUES (1)')",
        ],
    )
    def test_finds_a_write_around_the_managers(self, source):
        assert bypassing_writes(source, tables=self.TABLES)

    @pytest.mark.parametrize(
        "source",
        [
            "Order.objects.filter(pk=1).update(status='x')",
            "model.objects.filter(user=user).exclude(pk=1).update(is_default=False)",
            "type(instance).objects.filter(pk=instance.pk).update(sheet='a.pdf')",
            "order.lines.update(service_end=day)",
            "OrderLine.objects.bulk_create(lines)",
            "context.update(key='value')",
            "digest.update(chunk)",
            "cursor.execute('SELECT COUNT(*) FROM orders_order')",
            "cursor.execute('UPDATE catalog_service SET active = false')",  # not a declared table here
        ],
    )
    def test_lets_the_managers_writes_and_everything_else_pass(self, source):
        assert bypassing_writes(source, tables=self.TABLES) == []
