"""`manage.py seed_demo`: the demo catalog and one account per role, for development
and demos. Idempotent: rows are matched by code or username and reset to the values
below, so a second run changes nothing and prices never drift."""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.services import invoice_profile_create, product_key_save
from catalog.models import Module, Platform, ProductLine, Service
from orders import services as order_services
from orders.models import Agreement
from orders.selectors import agreement_current

HEX4 = "[0-9A-F]{4}"

# (code, name, key prefix). Distinct prefixes keep the key patterns disjoint.
PRODUCT_LINES = [
    ("e3", "E3", "E3"),
    ("e3plus", "E3+", "E3P"),
    ("e3omni", "E3全渠道", "E3O"),
    ("bs3000", "BS3000+", "BS3"),
]

# (code, name, refundable)
PLATFORMS = [
    ("jd", "京东", True),
    ("tmall", "天猫", True),
    ("taobao", "淘宝", True),
    ("aliexpress", "速卖通", False),
    ("pdd", "拼多多", True),
    ("douyin", "抖音", True),
    ("kuaishou", "快手", False),
    ("vip", "唯品会", False),
    ("xiaohongshu", "小红书", False),
    ("amazon", "亚马逊", False),
]

# (code, name, description, price, period in months or None for one-off)
MODULES = [
    ("open-platform", "开放平台对接服务", "对接平台开放接口，完成店铺授权、接口配置与联调上线。", Decimal("2000.00"), 12),
    ("order-sync", "订单同步服务", "平台订单实时下载到 ERP，自动审单、合并与拆分。", Decimal("1200.00"), 12),
    ("stock-sync", "库存同步服务", "按仓库与策略把 ERP 可用库存回写到平台，避免超卖。", Decimal("1000.00"), 12),
    ("waybill", "电子面单服务", "开通并配置平台电子面单模板，一次性实施。", Decimal("800.00"), None),
    ("aftersale-sync", "售后退款同步服务", "平台退款、退货申请同步到 ERP，处理结果自动回传。", Decimal("1500.00"), 12),
]

# Added to a module's price on the larger product lines.
LINE_SURCHARGE = {"e3": Decimal("0"), "e3plus": Decimal("300"), "e3omni": Decimal("600"), "bs3000": Decimal("200")}

# Combinations left out, so narrowing the selector visibly removes choices.
MISSING_PLATFORMS = {"bs3000": {"amazon", "xiaohongshu"}}
MISSING_MODULES = {"amazon": {"waybill", "aftersale-sync"}, "aliexpress": {"waybill"}}

# (line, platform, module)
FEATURED = {
    ("e3", "jd", "open-platform"),
    ("e3", "tmall", "order-sync"),
    ("e3plus", "douyin", "open-platform"),
    ("e3plus", "pdd", "stock-sync"),
    ("e3omni", "tmall", "open-platform"),
    ("e3omni", "jd", "aftersale-sync"),
    ("e3omni", "xiaohongshu", "order-sync"),
    ("bs3000", "taobao", "open-platform"),
}
DEMO_INVOICE_PROFILE = {
    "kind": "special",
    "title_type": "company",
    "title": "演示商贸有限公司",
    "taxpayer_id": "91310000134511148L",
    "address": "上海市闵行区号景路206弄",
    "phone": "021-64000000",
    "bank": "招商银行上海分行",
    "account": "1219 0000 0000 0001",
    "contact": "演示客户",
    "contact_phone": "+8613800138000",
}
DEMO_ORDER_DETAILS = {
    "contract_customer_name": "演示商贸有限公司",
    "marketplace_order_no": "FW_GOODS-1000001-1",
    "store_name": "演示旗舰店",
    "seller_nick": "demo_shop",
    "service_engineer": "李工",
    "reminder_name": "演示客户",
    "reminder_mobile": "+8613800138000",
    "reminder_email": "demo@example.com",
}

AGREEMENT_VERSION = "2026-01"
AGREEMENT_BODY = """第一条 订购内容
客户通过云市场订购的店铺对接服务，以订购单所列服务商品、数量与服务期限为准。

第二条 费用与开票
订购单经销售方审核通过后进入交易中；客户确认收货后，系统生成开票信息。此订购单完成后可用于申请开票，无需实际支付。

第三条 客户信息
客户应保证所填写的发票信息、店铺名称、卖家NICK、服务市场订单号等信息真实准确，因信息错误导致的开票或服务延误由客户承担。

第四条 退款
可申请退款平台的订单，在服务商品规定的退款期限内可提交退款申请，经销售方审核后办理。

第五条 到期提醒
销售方将在服务到期前通过邮件、短信及站内消息提醒到期提醒接收人。

第六条 其他
本协议自客户勾选“我已阅读并同意以上协议”并提交订购单时生效。"""

# Present but off sale: no customer page may ever show them.
INACTIVE = {("e3", "kuaishou", "aftersale-sync"), ("bs3000", "vip", "stock-sync")}



@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    group: str | None = None
    is_staff: bool = True
    is_superuser: bool = False
    real_name: str = ""
    mobile: str = ""
    company: str = ""

    @property
    def password(self):
        return f"{self.username}-pass-2026"

    @property
    def email(self):
        return f"{self.username}@example.com"


# Staff are never superusers, so the demo shows what each group may really do.
DEMO_ACCOUNTS = [
    DemoAccount(
        "demo", _("customer"), is_staff=False, real_name="演示客户", mobile="+8613800138000", company="演示商贸有限公司"
    ),
    DemoAccount("reviewer", _("order reviewer"), group=GROUP_REVIEWERS, real_name="审核专员"),
    DemoAccount("finance", _("finance"), group=GROUP_FINANCE, real_name="财务专员"),
    DemoAccount("operator", _("catalog operations"), group=GROUP_CATALOG, real_name="运营专员"),
    DemoAccount("admin", _("superuser, for set-up only"), is_superuser=True),
]
DEMO_CUSTOMER = "demo"
DEMO_PRODUCT_KEY = ("E3O-1A2B-3C4D-5E6F", "演示旗舰店")


def demo_password_hash(password):
    """The demo passwords are printed for anyone to read, so a full-strength hash (~0.5 s
    each here) protects nothing and makes every seed slow. PBKDF2 stores its iteration
    count in the hash: a cheap one still verifies, and Django re-hashes it at full
    strength on the first sign-in."""
    hasher = get_hasher()
    if isinstance(hasher, PBKDF2PasswordHasher):
        return hasher.encode(password, hasher.salt(), iterations=1000)
    return make_password(password)


class Command(BaseCommand):
    @property
    def help(self):
        # argparse needs a str for the description; a lazy string crashes --help.
        return gettext("Create or reset the demo catalog and demo accounts (safe to run again).")

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help=_("Do not print the demo sign-ins."))
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("Run even though DEBUG is off (a benchmark or demo server, never a real shop)."),
        )

    def handle(self, *args, quiet=False, force=False, **options):
        # The demo accounts' passwords are public (README): never reset them on a real shop.
        if not settings.DEBUG and not force:
            raise CommandError(
                gettext("seed_demo resets accounts to published passwords; with DEBUG off it needs --force.")
            )
        mail_files = self.mail_files()
        with transaction.atomic():
            lines = self.seed_product_lines()
            platforms = self.seed_platforms()
            modules = self.seed_modules()
            services = self.seed_services(lines, platforms, modules)
            self.seed_accounts()
            self.seed_agreement()
            self.seed_orders()

        # The demo orders' emails went out on commit, through the shop's own code path;
        # `make run` has them written to files (EMAIL_URL=filemail:…), so the terminal
        # shows the sign-ins rather than eight emails.
        written = self.mail_files() - mail_files
        if written:
            self.stdout.write(
                ngettext(
                    "%(count)d email written to %(path)s",
                    "%(count)d emails written to %(path)s",
                    len(written),
                )
                % {"count": len(written), "path": settings.EMAIL_FILE_PATH}
            )
        if not quiet:
            self.print_logins()
        self.stdout.write(
            self.style.SUCCESS(
                gettext(
                    "seeded %(lines)d product lines, %(platforms)d platforms, %(modules)d modules, "
                    "%(services)d services"
                )
                % {"lines": len(lines), "platforms": len(platforms), "modules": len(modules), "services": services}
            )
        )

    def seed_product_lines(self):
        return {
            code: ProductLine.objects.update_or_create(
                code=code,
                defaults={"name": name, "key_pattern": f"{prefix}-{HEX4}-{HEX4}-{HEX4}", "sort": sort, "active": True},
            )[0]
            for sort, (code, name, prefix) in enumerate(PRODUCT_LINES, start=1)
        }

    def seed_platforms(self):
        return {
            code: Platform.objects.update_or_create(
                code=code, defaults={"name": name, "refundable": refundable, "sort": sort, "active": True}
            )[0]
            for sort, (code, name, refundable) in enumerate(PLATFORMS, start=1)
        }

    def seed_modules(self):
        return {
            code: Module.objects.update_or_create(
                code=code, defaults={"name": name, "description": description, "sort": sort, "active": True}
            )[0]
            for sort, (code, name, description, _price, _period) in enumerate(MODULES, start=1)
        }

    def seed_services(self, lines, platforms, modules):
        count = 0
        for line_code, line in lines.items():
            for platform_code, platform in platforms.items():
                if platform_code in MISSING_PLATFORMS.get(line_code, ()):
                    continue
                for module_code, name, description, price, period in MODULES:
                    if module_code in MISSING_MODULES.get(platform_code, ()):
                        continue
                    combination = (line_code, platform_code, module_code)
                    Service.objects.update_or_create(
                        product_line=line,
                        platform=platform,
                        module=modules[module_code],
                        defaults={
                            "name": f"{line.name}-{platform.name}{name}",
                            "standard_price": price + LINE_SURCHARGE[line_code],
                            "unit": "次",
                            "period_months": period,
                            # A one-off setup is done once it is delivered: nothing to refund.
                            "refund_window_days": 7 if period else 0,
                            "tax_rate": Decimal("0.06"),
                            "description": f"适用于 {line.name} 的{platform.name}店铺。{description}",
                            "featured": combination in FEATURED,
                            "active": combination not in INACTIVE,
                        },
                    )
                    count += 1
        return count

    def seed_accounts(self):
        """Demo accounts with their published passwords, reset on every run (and any
        sign-in lockout cleared) so the printed logins always work."""
        groups = self.staff_groups()
        for account in DEMO_ACCOUNTS:
            user, _created = User.objects.update_or_create(
                username=account.username,
                defaults={
                    "password": demo_password_hash(account.password),
                    "email": account.email,
                    "real_name": account.real_name,
                    "mobile": account.mobile,
                    "company": account.company,
                    "is_active": True,
                    "is_staff": account.is_staff,
                    "is_superuser": account.is_superuser,
                },
            )
            user.groups.set([groups[account.group]] if account.group else [])
            axes_reset(username=user.username)
            if user.username == DEMO_CUSTOMER:
                key, label = DEMO_PRODUCT_KEY
                product_key_save(user=user, key=key, label=label)

    def seed_agreement(self):
        """The 《店铺订购协议》 customers accept at checkout; published once, never rewritten,
        since orders record the version they accepted."""
        Agreement.objects.get_or_create(
            version=AGREEMENT_VERSION,
            defaults={"title": "店铺订购协议", "body": AGREEMENT_BODY, "published_at": timezone.now()},
        )

    def seed_orders(self):
        """A few orders of the demo customer, in the states My Orders shows, made through
        the same services as the shop; only when the customer has none yet."""
        customer = User.objects.get(username=DEMO_CUSTOMER)
        if customer.orders.exists():
            return
        profile = customer.invoice_profiles.first() or invoice_profile_create(user=customer, data=DEMO_INVOICE_PROFILE)
        reviewer = User.objects.get(username="reviewer")
        services = list(Service.objects.on_sale().filter(product_line__code="e3omni").order_by("pk")[:4])

        def submit(service):
            return order_services.order_submit(
                customer=customer,
                items=[order_services.CheckoutItem(service.pk, 1)],
                invoice_profile=profile,
                details=DEMO_ORDER_DETAILS,
                payment_method="third_party",
                agreement=agreement_current(),
                accepted_ip=None,
                checkout_token=uuid.uuid4(),
            )

        awaiting, rejected, in_trade, success = (submit(service) for service in services)
        order_services.order_reject(order=rejected, actor=reviewer, reason="服务市场订单号与店铺名称不一致，请核对后重新提交。")
        order_services.order_approve(order=in_trade, actor=reviewer)
        # Confirmed: its invoice information and signed contract are made after the commit.
        order_services.order_approve(order=success, actor=reviewer)
        order_services.order_confirm_receipt(order=success, actor=customer)

    @staticmethod
    def mail_files() -> set[str]:
        """The files of the file email backend (one per email sent here), when it is the one
        configured."""
        if settings.EMAIL_BACKEND != "django.core.mail.backends.filebased.EmailBackend":
            return set()
        directory = Path(settings.EMAIL_FILE_PATH)
        return {path.name for path in directory.iterdir()} if directory.is_dir() else set()

    def staff_groups(self):
        names = {account.group for account in DEMO_ACCOUNTS if account.group}
        groups = {group.name: group for group in Group.objects.filter(name__in=names)}
        if missing := names - set(groups):
            raise CommandError(
                gettext("Staff groups %(names)s are missing: run manage.py migrate first.")
                % {"names": ", ".join(sorted(missing))}
            )
        return groups

    def print_logins(self):
        # A heading sentence rather than column titles: translated titles are wide
        # CJK characters that would break the alignment of the ASCII columns.
        self.stdout.write(gettext("Demo sign-ins (username, password, role):"))
        for account in DEMO_ACCOUNTS:
            self.stdout.write(f"  {account.username:<10}{account.password:<20}{account.role}")
