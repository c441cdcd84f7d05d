from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import translation

from accounts.models import User
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS, ROLES
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STRONG = "Cloud-Mall-staff-2026"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):  # the assertions read the English msgids
        yield


class TTY(StringIO):
    def isatty(self):
        return True


def createstaff(*args, stdin=None, password=STRONG):
    """Runs the command with `password` on standard input (unless `stdin` is given);
    returns what it printed."""
    out = StringIO()
    if stdin is None:
        args, stdin = (*args, "--password-stdin"), StringIO(f"{password}\n")
    call_command("createstaff", *args, stdin=stdin, stdout=out)
    return out.getvalue()


def new_staff(role="reviewers", username="alice", email="alice@example.com", *extra, **kwargs):
    return createstaff("--group", role, "--username", username, "--email", email, *extra, **kwargs)


class TestCreate:
    @pytest.mark.parametrize(("role", "group"), ROLES.items())
    def test_creates_a_staff_account_in_the_roles_group(self, role, group):
        output = new_staff(role)

        user = User.objects.get(username="alice")
        assert user.is_staff and user.is_active and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.email == "alice@example.com"
        assert user.check_password(STRONG)
        assert 'Created staff account "alice"' in output and group in output

    def test_keeps_the_real_name(self):
        new_staff("finance", "bob", "bob@example.com", "--real-name", "王财务")
        assert User.objects.get(username="bob").real_name == "王财务"

    def test_reads_only_the_first_line_and_keeps_its_spaces(self):
        createstaff(
            "--group", "catalog", "--username", "carol", "--email", "carol@example.com", "--password-stdin",
            stdin=StringIO(f" {STRONG} \r\nsecond line\n"),
        )
        assert User.objects.get(username="carol").check_password(f" {STRONG} ")

    def test_asks_twice_on_a_terminal(self, monkeypatch):
        answers = iter([STRONG, STRONG])
        monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

        new_staff(stdin=TTY())

        assert User.objects.get(username="alice").check_password(STRONG)

    def test_refuses_passwords_that_differ(self, monkeypatch):
        answers = iter([STRONG, STRONG + "x"])
        monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

        with pytest.raises(CommandError, match="do not match"):
            new_staff(stdin=TTY())
        assert not User.objects.exists()

    def test_without_a_terminal_needs_password_stdin(self):
        with pytest.raises(CommandError, match="--password-stdin"):
            new_staff(stdin=StringIO(f"{STRONG}\n"))
        assert not User.objects.exists()

    def test_refuses_an_empty_password_on_stdin(self):
        with pytest.raises(CommandError, match="No password"):
            new_staff(password="")
        assert not User.objects.exists()


class TestRefuses:
    @pytest.mark.parametrize("username", ["alice", "ALICE"])
    def test_an_existing_username(self, username):
        existing = UserFactory(username="alice")

        with pytest.raises(CommandError, match=f'A user named "{username}" already exists'):
            new_staff(username=username, email="other@example.com")

        existing.refresh_from_db()
        assert not existing.is_staff and not existing.groups.exists()
        assert User.objects.count() == 1

    def test_an_email_address_in_use(self):
        UserFactory(email="alice@example.com")
        with pytest.raises(CommandError, match="already used by another account"):
            new_staff(email="ALICE@example.com")
        assert not User.objects.filter(username="alice").exists()

    def test_an_invalid_email_address(self):
        with pytest.raises(CommandError, match="--email: Enter a valid email address"):
            new_staff(email="not-an-address")

    def test_an_invalid_username(self):
        with pytest.raises(CommandError, match="--username: "):
            new_staff(username="has space")
        assert not User.objects.exists()

    @pytest.mark.parametrize("role", ["admins", "订单审核", "Reviewers"])
    def test_an_unknown_group(self, role):
        with pytest.raises(CommandError, match=f'Unknown group "{role}": choose one of reviewers, finance, catalog'):
            new_staff(role)
        assert not User.objects.exists()

    def test_no_group(self):
        with pytest.raises(CommandError, match="--group"):
            createstaff("--username", "alice", "--email", "alice@example.com")

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("password123", "too common"),
            ("short", "too short"),
            ("84736251940", "entirely numeric"),
            ("alice@example.com", "too similar"),
        ],
    )
    def test_a_weak_password(self, password, reason):
        with pytest.raises(CommandError, match=f"The password is too weak: .*{reason}"):
            new_staff(password=password)
        assert not User.objects.exists()

    def test_a_group_missing_from_the_database(self):
        Group.objects.filter(name=GROUP_FINANCE).delete()
        with pytest.raises(CommandError, match="migrate"):
            new_staff("finance")
        assert not User.objects.exists()


class TestList:
    def test_lists_staff_with_their_groups_and_not_customers(self):
        UserFactory(username="reviewer1", staff=True, groups=[GROUP_REVIEWERS])
        UserFactory(username="operator1", staff=True, groups=[GROUP_CATALOG, GROUP_FINANCE])
        UserFactory(username="root", superuser=True)
        UserFactory(username="customer1")

        output = createstaff("--list", stdin=StringIO())

        lines = output.splitlines()
        assert lines[0] == "Staff accounts (username, email, groups):"
        assert [line.split()[0] for line in lines[1:]] == ["operator1", "reviewer1", "root"]
        assert lines[1].endswith(", ".join(sorted([GROUP_CATALOG, GROUP_FINANCE])))
        assert lines[2].endswith(GROUP_REVIEWERS)
        assert lines[3].endswith("superuser")
        assert "customer1" not in output

    def test_says_when_there_are_no_staff(self):
        assert createstaff("--list", stdin=StringIO()) == "No staff accounts.\n"

    def test_takes_no_other_options(self):
        with pytest.raises(CommandError, match="--list takes no other options"):
            createstaff("--list", "--group", "reviewers", stdin=StringIO())
