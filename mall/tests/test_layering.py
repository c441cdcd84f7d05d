"""The apps' boundaries, read from the source: no module imports another app's private
(underscore) name. What two apps share is public, in the app that owns it or in `mall`
(e.g. mall/export.py, mall/money.py)."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.once  # reads the sources: no database

BASE_DIR = Path(settings.BASE_DIR)
# Top-level packages of the project whose modules are checked; each is one "room".
PACKAGES = ("accounts", "catalog", "inquiries", "invoicing", "mall", "orders", "refunds", "scripts", "tests")


def private_imports(source: str, *, package: str) -> list[str]:
    """`from other_package… import _name` and `import other_package._module` in `source`,
    a module of `package`, as "line: statement" strings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top == package or top not in PACKAGES:
                continue
            private_parts = [part for part in node.module.split(".")[1:] if _private(part)]
            private_names = [alias.name for alias in node.names if _private(alias.name)]
            if private_parts or private_names:
                names = ", ".join(alias.name for alias in node.names)
                found.append(f"{node.lineno}: from {node.module} import {names}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] != package and parts[0] in PACKAGES and any(_private(part) for part in parts[1:]):
                    found.append(f"{node.lineno}: import {alias.name}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def project_modules():
    for package in PACKAGES:
        root = BASE_DIR / package
        if root.is_dir():
            for path in sorted(root.rglob("*.py")):
                yield package, path


def test_no_module_imports_another_apps_private_names():
    violations = [
        f"{path.relative_to(BASE_DIR)}:{found}"
        for package, path in project_modules()
        for found in private_imports(path.read_text(encoding="utf-8"), package=package)
    ]
    assert not violations, "make these names public where they belong, or import what is public:\n" + "\n".join(
        violations
    )


def test_no_product_module_imports_test_support():
    """Test machinery (tests/support/) stays out of what runs in production."""
    offenders = []
    for package, path in project_modules():
        if package in ("tests", "scripts") or "tests" in path.relative_to(BASE_DIR).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            modules += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.relative_to(BASE_DIR)}:{node.lineno}" for module in modules if module.split(".")[0] == "tests"]
    assert not offenders


def test_the_check_sees_every_project_package():
    assert {package for package, _path in project_modules()} >= {"accounts", "catalog", "invoicing", "mall", "orders"}


class TestTheCheckItself:
    def test_a_private_name_of_another_app_is_found(self):
        source = "from orders.export import BOM, _csv_text\n"
        assert private_imports(source, package="invoicing") == ["1: from orders.export import BOM, _csv_text"]

    def test_a_private_module_of_another_app_is_found(self):
        assert private_imports("from accounts.migrations._group_permissions import grant\n", package="orders")
        assert private_imports("import orders._internal\n", package="refunds")

    def test_own_private_names_third_party_and_dunders_pass(self):
        source = (
            "from orders._internal import x\n"
            "from ._helpers import y\n"
            "from django.utils._os import safe_join\n"
            "from orders import __version__\n"
            "from orders.export import headers\n"
        )
        assert private_imports(source, package="orders") == []
