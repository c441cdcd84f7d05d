"""Staff in the admin tests: a finance clerk and a reviewer, each also signed in, and the
admin read in English. A pytest plugin (the root conftest.py loads it), so every app's
admin tests share one definition of each role; a module that needs another kind of staff
(a permission set, no group) defines its own fixture of the same name.

The admin tests read Django's English msgids, not the project's Chinese text: such a
module says `pytestmark = [..., pytest.mark.usefixtures("in_english")]`.
"""

import pytest
from django.conf import settings

from accounts.roles import GROUP_FINANCE, GROUP_REVIEWERS


def _member(group: str, real_name: str):
    """A staff user in `group` (imported here: models load only once Django is set up)."""
    from accounts.tests.factories import UserFactory

    return UserFactory(staff=True, groups=[group], real_name=real_name)


@pytest.fixture
def in_english(client):
    """The test client reads the site in English, through the language cookie."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def finance(db):
    """A member of the 财务 group (invoices, refunds)."""
    return _member(GROUP_FINANCE, "财务甲")


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


@pytest.fixture
def reviewer(db):
    """A member of the 订单审核 group."""
    return _member(GROUP_REVIEWERS, "审核员甲")


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client
