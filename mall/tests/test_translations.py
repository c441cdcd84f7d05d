"""The Chinese catalogue is complete and matches the code: nothing untranslated, fuzzy or stale."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # reads the sources and the catalogue: no database

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PO = Path("locale/zh_Hans/LC_MESSAGES/django.po")


def msgids(po_file: Path) -> set[str]:
    import re

    text = po_file.read_text()
    entries = re.findall(r'^msgid "(.*)"\n((?:".*"\n)*)', text, re.MULTILINE)
    return {first + "".join(line[1:-1] for line in rest.splitlines()) for first, rest in entries} - {""}


def test_chinese_catalogue_has_no_untranslated_or_fuzzy_entry():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(BASE_DIR / PO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


def test_chinese_catalogue_covers_every_marked_string(tmp_path):
    """makemessages on a copy of the sources finds no msgid that the catalogue lacks."""
    copy = tmp_path / "src"
    shutil.copytree(
        BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "var", "test-artifacts", "__pycache__", "node_modules", "static"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-location", "--ignore=.venv"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "mall.settings.test"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    missing = msgids(copy / PO) - msgids(BASE_DIR / PO)
    assert not missing, f"run makemessages and translate: {sorted(missing)[:10]}"
