"""Reads of orders: the store ordering agreement's schedule, as the checkout reads it."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mall import pagecache
from orders import selectors
from orders.models import Agreement
from orders.tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db


class TestAgreementSchedule:
    """The agreement in force and the next one's time, kept per catalogue version (the page
    cache's shared version, which a saved agreement bumps)."""

    def retitle_behind_the_signals(self, agreement, title):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE orders_agreement SET title = %s WHERE id = %s", [title, agreement.pk])

    def test_a_new_agreement_is_in_force_at_once(self):
        AgreementFactory(version="2026.1")
        assert selectors.agreement_schedule().current.version == "2026.1"
        AgreementFactory(version="2026.2")
        assert selectors.agreement_schedule().current.version == "2026.2"
        Agreement.objects.filter(version="2026.2").update(published_at=timezone.now() + timedelta(days=1))
        schedule = selectors.agreement_schedule()
        assert schedule.current.version == "2026.1"
        assert schedule.next_published_at > timezone.now()

    def test_one_published_for_later_takes_over_when_its_time_comes(self):
        AgreementFactory(version="2026.1")
        later = AgreementFactory(version="2026.2", published_at=timezone.now() + timedelta(seconds=0.5))
        schedule = selectors.agreement_schedule()
        assert (schedule.current.version, schedule.next_published_at) == ("2026.1", later.published_at)
        time.sleep(0.6)  # no write between: the kept schedule says when to read again
        schedule = selectors.agreement_schedule()
        assert (schedule.current.version, schedule.next_published_at) == ("2026.2", None)

    def test_it_is_kept_per_catalogue_version(self, django_assert_num_queries):
        agreement = AgreementFactory(title="店铺订购协议")
        selectors.agreement_schedule()
        self.retitle_behind_the_signals(agreement, "新标题")
        with django_assert_num_queries(0):
            assert selectors.agreement_schedule().current.title == "店铺订购协议"
        pagecache.shared_changed()
        assert selectors.agreement_schedule().current.title == "新标题"

    def test_with_the_page_cache_off_it_is_read_each_time(self, settings):
        settings.PAGE_CACHE_SECONDS = 0
        agreement = AgreementFactory(title="店铺订购协议")
        assert selectors.agreement_schedule().current.title == "店铺订购协议"
        self.retitle_behind_the_signals(agreement, "新标题")
        assert selectors.agreement_schedule().current.title == "新标题"
