"""`manage.py createstaff`: a staff account in one role's group, never a superuser, so
it may do exactly what accounts/roles.py gives that role. `--list` shows the staff."""

import getpass
import sys

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import ROLE_DESCRIPTIONS, ROLES

ROLE_CHOICES = ", ".join(ROLES)
# The model field each option fills, for naming the option in error messages.
OPTION_OF_FIELD = {"username": "--username", "email": "--email", "real_name": "--real-name"}


class Command(BaseCommand):
    stealth_options = ("stdin",)

    @property
    def help(self):
        # argparse needs a str for the description; a lazy string crashes --help.
        return gettext("Create a staff account (not a superuser) in one role's group, or list the staff.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--group",
            metavar="ROLE",
            help=format_lazy(_("The role: one of {choices}."), choices=ROLE_CHOICES),
        )
        parser.add_argument("--username", help=_("Sign-in name of the new account."))
        parser.add_argument("--email", help=_("Email address of the new account."))
        parser.add_argument("--real-name", default="", help=_("The person's name, as the admin shows it."))
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help=_("Read the password from the first line of standard input instead of asking for it."),
        )
        parser.add_argument("--list", action="store_true", help=_("List the staff accounts and their groups."))

    def handle(self, *args, **options):
        self.stdin = options.get("stdin", sys.stdin)  # tests pass their own
        if options["list"]:
            if any(options[name] for name in ("group", "username", "email", "real_name", "password_stdin")):
                raise CommandError(gettext("--list takes no other options."))
            self.list_staff()
            return

        role, group_name = self.role(options["group"])
        user = self.new_user(options["username"], options["email"], options["real_name"])
        try:
            group = Group.objects.get(name=group_name)
        except Group.DoesNotExist:
            raise CommandError(
                gettext("The group %(group)s does not exist: run manage.py migrate first.") % {"group": group_name}
            ) from None
        password = self.password(options["password_stdin"])
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(
                gettext("The password is too weak: %(reasons)s") % {"reasons": " ".join(error.messages)}
            ) from None
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
                user.groups.add(group)
        except IntegrityError:
            # Another account took the name or address since the checks above.
            raise CommandError(gettext("This username or email address is already in use.")) from None

        self.stdout.write(
            self.style.SUCCESS(
                gettext(
                    'Created staff account "%(username)s" in group %(group)s (%(description)s). '
                    "It signs in at %(url)s."
                )
                % {
                    "username": user.username,
                    "group": group_name,
                    "description": ROLE_DESCRIPTIONS[role],
                    "url": reverse("admin:index"),
                }
            )
        )

    def role(self, role):
        if not role:
            raise CommandError(gettext("Name the role with --group: one of %(choices)s.") % {"choices": ROLE_CHOICES})
        if role not in ROLES:
            raise CommandError(
                gettext('Unknown group "%(group)s": choose one of %(choices)s.')
                % {"group": role, "choices": ROLE_CHOICES}
            )
        return role, ROLES[role]

    def new_user(self, username, email, real_name):
        """An unsaved staff User, or a CommandError naming what is wrong with the options."""
        if not username or not email:
            raise CommandError(gettext("Both --username and --email are required."))
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(
                gettext('A user named "%(username)s" already exists; change existing accounts in the admin.')
                % {"username": username}
            )
        try:
            validate_email(email)
        except ValidationError as error:
            raise CommandError(f"--email: {' '.join(error.messages)}") from None
        if User.objects.filter(email__iexact=email).exists():
            raise CommandError(
                gettext("The email address %(email)s is already used by another account.") % {"email": email}
            )
        user = User(username=username, email=email, real_name=real_name, is_staff=True, is_superuser=False)
        try:
            # Lengths and the username's characters; uniqueness is checked above.
            user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            raise CommandError(
                " ".join(
                    f"{OPTION_OF_FIELD.get(field, field)}: {message}"
                    for field, messages in error.message_dict.items()
                    for message in messages
                )
            ) from None
        return user

    def password(self, from_stdin):
        if from_stdin:
            # Only the line ending is dropped: spaces may belong to the password.
            password = self.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError(gettext("No password on standard input."))
            return password
        if not (hasattr(self.stdin, "isatty") and self.stdin.isatty()):
            raise CommandError(gettext("No terminal to ask for the password: pipe it in with --password-stdin."))
        password = getpass.getpass(gettext("Password: "))
        if not password:
            raise CommandError(gettext("The password cannot be empty."))
        if getpass.getpass(gettext("Password (again): ")) != password:
            raise CommandError(gettext("The two passwords do not match."))
        return password

    def list_staff(self):
        staff = User.objects.filter(is_staff=True).prefetch_related("groups").order_by("username")
        if not staff:
            self.stdout.write(gettext("No staff accounts."))
            return
        # A heading sentence, and the group names last: wide CJK characters would
        # break the alignment of any column after them.
        self.stdout.write(gettext("Staff accounts (username, email, groups):"))
        for user in staff:
            labels = sorted(group.name for group in user.groups.all())
            if user.is_superuser:
                labels.append(gettext("superuser"))
            if not user.is_active:
                labels.append(gettext("inactive"))
            self.stdout.write(f"  {user.username:<20}{user.email:<36}{', '.join(labels) or '-'}")
