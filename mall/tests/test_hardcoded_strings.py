"""No user-visible text is hard-coded: every Chinese or English string a user can read is marked for
translation (English msgid, Chinese in locale/), so the shop reads the same in zh-hans as before and
wholly in English after the footer's language switch.

Templates: Django's Lexer splits each template; the text outside tags (blocktranslate bodies, comments,
scripts and styles excepted) goes through html.parser, which separates markup from the words a user sees,
and the attributes a user reads (title, placeholder, aria-label, alt, hx-confirm, a button's value).
Python: `ast` finds every string constant with Chinese characters outside gettext, and English literals in
the places a user reads them (messages, ValidationError and domain errors, form and model labels,
choices, admin descriptions, HttpResponse bodies, mail subjects, format_html).
"""

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

pytestmark = pytest.mark.once  # reads the sources: no database

BASE_DIR = Path(__file__).resolve().parent.parent.parent
APPS = ("accounts", "catalog", "orders", "invoicing", "refunds", "mall")

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff5e]")
WORD = re.compile(r"[A-Za-z]{2,}")
# Placeholders a translated sentence is formatted with, not words: %(name)s, {name}, %s.
FORMAT_FIELD = re.compile(r"%\(\w+\)[sdfr]|\{\w*\}|%[sdfr]")
URL = re.compile(r"\b(?:https?|mailto|static):\S*")
# Words that read the same in every language here: file formats, units and brand names.
TECHNICAL_WORDS = {"PDF", "CSV", "xlsx", "Excel", "QR", "SHA", "ERP", "ID", "PNG", "JPEG", "HTML"}

# The sentinel a template tag or variable becomes before html.parser sees the text: no letters, no markup.
TAG = "\ue000"


def has_english(text: str) -> bool:
    text = URL.sub(" ", FORMAT_FIELD.sub(" ", text))
    return any(word not in TECHNICAL_WORDS for word in WORD.findall(text))


def is_text(text: str) -> bool:
    """True when `text` holds words a reader reads: Chinese characters or an English word."""
    return bool(CJK.search(text)) or has_english(text)


# --- templates -------------------------------------------------------------------------------------------

TRANSLATE_TAGS = {"translate", "trans", "blocktranslate", "blocktrans", "plural", "endblocktranslate", "endblocktrans"}
# Filters whose literal argument is printed in place of the value.
PRINTED_FILTER_ARG = re.compile(r"\|(?:default|default_if_none|yesno):(\"[^\"]*\"|'[^']*')")
STRING_LITERAL = re.compile(r"\"[^\"]*\"|'[^']*'")
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "hx-confirm", "data-confirm", "aria-description"}
BUTTON_INPUT_TYPES = {"submit", "button", "reset"}


class _VisibleText(HTMLParser):
    """Collects (line, text) for the data and read attributes of HTML, skipping scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.raw_depth = 0

    def _add(self, text, line):
        text = text.replace(TAG, " ")
        if is_text(text):
            stripped = text.lstrip()
            self.found.append((line + text[: len(text) - len(stripped)].count("\n"), " ".join(text.split())))

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.raw_depth += 1
        attributes = dict(attrs)
        line = self.getpos()[0]
        for name, value in attrs:
            if not value:
                continue
            button_value = name == "value" and (
                tag == "button" or (tag == "input" and attributes.get("type") in BUTTON_INPUT_TYPES)
            )
            if name in READ_ATTRIBUTES or button_value:
                self._add(value, line)
            elif CJK.search(value):
                # Chinese in any other attribute (data-*, class, a URL) is still Chinese a page carries.
                self._add(value, line)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self.raw_depth -= 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.raw_depth:
            self.raw_depth -= 1

    def handle_data(self, data):
        if not self.raw_depth:
            self._add(data, self.getpos()[0])


def html_text(html: str) -> list[tuple[int, str]]:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser.found


def template_findings(source: str, *, html: bool = True) -> list[tuple[int, str]]:
    """(line, text) for each piece of user-visible text in a template that is not marked for translation."""
    found = []
    parts = []
    skipping = []  # the end tag of the blocktranslate / comment / verbatim / class-name body passed over
    for token in Lexer(source).tokenize():
        newlines = "\n" * token.contents.count("\n")
        if token.token_type == TokenType.TEXT:
            parts.append(newlines if skipping else token.contents)
            continue
        name = token.contents.split(maxsplit=1)[0] if token.contents else ""
        if token.token_type == TokenType.VAR:
            # A literal a filter prints in place of the value goes where the value goes, so the HTML around it
            # tells text ({{ remark|default:"None" }}) from markup (class="alert-{{ tag|default:'info' }}").
            printed = [literal[1:-1] for literal in PRINTED_FILTER_ARG.findall(token.contents)]
            parts.append(TAG + " ".join(printed) + TAG + newlines)
        else:
            parts.append(TAG + newlines)
        if token.token_type == TokenType.COMMENT:
            continue
        if token.token_type == TokenType.BLOCK:
            if skipping:
                if name == skipping[-1]:
                    skipping.pop()
                elif name == "block":
                    skipping.append("endblock")  # nested blocks inside a skipped block end first
                continue
            if name in ("blocktranslate", "blocktrans"):
                skipping.append("end" + name)
            elif name == "comment":
                skipping.append("endcomment")
            elif name == "verbatim":
                skipping.append("end" + token.contents)
            elif name == "block" and "class" in token.contents.split()[1]:
                # {% block bodyclass %}app-orders order-page{% endblock %}: CSS class names for the parent's tag.
                skipping.append("endblock")
        if skipping or name in TRANSLATE_TAGS:
            continue
        # Chinese in any tag or variable: {% include … with title="确认" %}, {{ x|default:"无" }}.
        for literal in STRING_LITERAL.findall(token.contents):
            if CJK.search(literal):
                found.append((token.lineno, literal))
    text = "".join(parts)
    if html:
        found += html_text(text)
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if is_text(line.replace(TAG, " ")):
                found.append((number, " ".join(line.replace(TAG, " ").split())))
    return sorted(found)


def template_files():
    roots = [BASE_DIR / "templates", *(BASE_DIR / app / "templates" for app in APPS)]
    return sorted(path for root in roots if root.is_dir() for path in root.rglob("*") if path.suffix in (".html", ".txt"))


# Templates whose fixed Chinese is deliberate, with the reason. Keep this short.
TEMPLATE_ALLOWLIST = {
    # Django renders it with no context after something failed, so it relies on nothing (no tags, no
    # catalogue, no static files) and says the same thing in Chinese, then English, whatever the language.
    "templates/500.html": "static bilingual error page",
}


def test_templates_have_no_hard_coded_text():
    problems = []
    for path in template_files():
        relative = path.relative_to(BASE_DIR).as_posix()
        if relative in TEMPLATE_ALLOWLIST:
            continue
        for line, text in template_findings(path.read_text(), html=path.suffix == ".html"):
            problems.append(f"{relative}:{line}: {text}")
    assert not problems, "mark for translation ({% translate %} / {% blocktranslate %}):\n" + "\n".join(problems)


def test_the_template_allowlist_names_existing_templates():
    missing = [name for name in TEMPLATE_ALLOWLIST if not (BASE_DIR / name).is_file()]
    assert not missing


@pytest.mark.parametrize(
    "snippet",
    [
        "<p>Your orders</p>",
        "<p>{{ count }} 个订单</p>",
        '<a href="{% url \'orders:list\' %}" title="Show all">{{ x }}</a>',
        '<input type="text" placeholder="请输入关键字">',
        '<input type="submit" value="Search">',
        '<button hx-confirm="Cancel this order?">{% translate "Cancel" %}</button>',
        '<img src="{{ src }}" alt="Seal">',
        '{{ order.remark|default:"None given" }}',
        '{% include "_x.html" with label="确认" %}',
        "{% if x %}<span>已开票</span>{% endif %}",
    ],
)
def test_hard_coded_template_text_is_found(snippet):
    assert template_findings("{% load i18n %}" + snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "<p>{% translate 'Your orders' %}</p>",
        "<p>{% blocktranslate count counter=n %}{{ n }} order{% plural %}{{ n }} orders{% endblocktranslate %}</p>",
        '<div class="order-list card" data-order="{{ order.number }}" id="main-nav">¥{{ total }} · — ×</div>',
        "<script>const label = 'not text'; if (a < b) {}</script><style>.a::after{content:'x'}</style>",
        "{# a comment #}{% comment %}Notes for developers{% endcomment %}",
        '<a href="https://example.com/path" title="{% translate \'Help\' %}">&nbsp;{{ link }}</a>',
        '{{ value|default:"—" }} {{ when|date:"Y-m-d H:i" }} <p>PDF · CSV</p>',
    ],
)
def test_marked_or_technical_template_text_is_not_flagged(snippet):
    assert template_findings("{% load i18n %}" + snippet) == []


def test_plain_text_email_templates_are_read_line_by_line():
    assert template_findings("{% load i18n %}{% translate 'Hello' %}\nThanks,\n{{ name }}", html=False) == [
        (2, "Thanks,")
    ]


# --- Python ----------------------------------------------------------------------------------------------

GETTEXT = {
    "_",
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "pgettext",
    "pgettext_lazy",
    "ngettext",
    "ngettext_lazy",
    "npgettext",
    "npgettext_lazy",
}
MESSAGE_LEVELS = {"debug", "info", "success", "warning", "error"}
# Keyword arguments a user reads, wherever they are passed (fields, widgets, admin decorators, emails).
READ_KEYWORDS = {
    "label",
    "help_text",
    "verbose_name",
    "verbose_name_plural",
    "empty_label",
    "description",
    "subject",
    "message",
    "error_messages",
    "choices",
    "empty_value_display",
    "placeholder",
    "title",  # message_send(title=…), a sheet or page title
    "body",
}
# Class attributes a user reads: model Meta, admin options, admin functions' short_description.
READ_ATTRIBUTES_PY = {
    "verbose_name",
    "verbose_name_plural",
    "short_description",
    "empty_value_display",
    "site_header",
    "site_title",
    "index_title",
    "permissions",
    "label",  # self.fields["x"].label = …
    "help_text",
    "empty_label",
}
# Keys of a template context or message dict whose value is shown as it is.
READ_DICT_KEYS = {"title", "heading", "message", "label", "help_text", "placeholder", "body"}
RELATION_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField"}
CHOICES_BASES = {"TextChoices", "IntegerChoices", "Choices"}
# Python files that are not UI: history, tests, demo data.
EXCLUDED_PARTS = {"migrations", "tests"}
EXCLUDED_FILES = {"catalog/management/commands/seed_demo.py"}

# Fixed Chinese on purpose, by file and literal, each with its reason. Keep this short.
PYTHON_ALLOWLIST = {
    # Operator-configurable defaults for the seller's legal identity, printed as-is on invoices and contracts.
    ("mall/settings/base.py", "上海百胜软件股份有限公司"): "seller's legal name",
    ("mall/settings/base.py", "上海市闵行区号景路206弄万象企业中心"): "seller's registered address",
    ("mall/settings/base.py", "招商银行上海分行"): "seller's bank",
    # The tax classification name an invoice line carries (*软件服务*…), a term of the Chinese tax system.
    ("mall/settings/base.py", "软件服务"): "tax classification name",
    # The sender's display name (the brand) in every email's From header.
    ("mall/settings/base.py", "云市场 <noreply@cloudmall.example>"): "sender name",
    # A language switch names each language in that language, so a reader finds their own.
    ("mall/settings/base.py", "简体中文"): "language's own name",
    # Group names are rows the migrations create and the staff's own words; renaming one is a data migration.
    ("accounts/roles.py", "订单审核"): "group name",
    ("accounts/roles.py", "财务"): "group name",
    ("accounts/roles.py", "运营"): "group name",
    # A default stored in the row (the unit an invoice line prints), data the catalog managers edit.
    ("catalog/models.py", "次"): "stored default unit",
    # 人民币大写: the amount in words is Chinese by definition, in every language.
    ("invoicing/money.py", "(负数)"): "amount in words",
    ("invoicing/money.py", "零元整"): "amount in words",
    # Input, not output: a full-width comma typed in an amount is removed before parsing.
    ("refunds/forms.py", "，"): "input normalisation",
}


def _call_name(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _owner(node: ast.Call) -> str:
    """`messages` for messages.error(...), `models` for models.CharField(...)."""
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id
    return ""


def _literals(node: ast.AST):
    """The string literals an expression evaluates to: through f-strings, `%`, `+`, conditionals and
    containers, but not into calls (gettext's argument is translated; any other call is opaque)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.lineno, node.value
    elif isinstance(node, ast.JoinedStr):
        yield node.lineno, " ".join(v.value for v in node.values if isinstance(v, ast.Constant))
    elif isinstance(node, ast.BinOp):
        yield from _literals(node.left)
        if isinstance(node.op, ast.Add):
            yield from _literals(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literals(node.body)
        yield from _literals(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _literals(value)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _literals(value)


def _choice_labels(node: ast.AST):
    """Labels of a choices list: the second item of each pair (nested groups included)."""
    if isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            if isinstance(item, (ast.List, ast.Tuple)) and len(item.elts) == 2:
                if isinstance(item.elts[1], (ast.List, ast.Tuple)):
                    yield from _literals(item.elts[0])
                    yield from _choice_labels(item.elts[1])
                else:
                    yield from _literals(item.elts[1])


class _UserTextSinks(ast.NodeVisitor):
    """Collects (line, literal) for English or Chinese literals passed where a user reads them."""

    def __init__(self, domain_errors: set[str]):
        self.domain_errors = domain_errors
        self.found: list[tuple[int, str]] = []
        self.class_stack: list[ast.ClassDef] = []

    def _check(self, node, *, html=False):
        for line, text in _literals(node):
            if html:
                if html_text(FORMAT_FIELD.sub(TAG, text)):
                    self.found.append((line, text))
            elif is_text(text):
                self.found.append((line, text))

    def visit_ClassDef(self, node):
        self.class_stack.append(node)
        self.generic_visit(node)
        self.class_stack.pop()

    def _in_choices_class(self):
        return self.class_stack and any(_call_name(base) in CHOICES_BASES for base in self.class_stack[-1].bases)

    def visit_Assign(self, node):
        targets = [_call_name(target) for target in node.targets]
        if self._in_choices_class() and isinstance(node.value, ast.Tuple) and len(node.value.elts) >= 2:
            # PENDING = "pending", "Pending": the second item is the label.
            self._check(node.value.elts[-1])
        elif any(target in READ_ATTRIBUTES_PY for target in targets):
            if "permissions" in targets:
                for _, label in _choice_labels(node.value):
                    if is_text(label):
                        self.found.append((node.lineno, label))
            else:
                self._check(node.value)
        elif any(target in ("choices", "CHOICES") or target.endswith("_CHOICES") for target in targets):
            for line, label in _choice_labels(node.value):
                if is_text(label):
                    self.found.append((line, label))
        self.generic_visit(node)

    def visit_Call(self, node):
        name, owner = _call_name(node), _owner(node)
        if name in GETTEXT:
            return  # translated; its arguments are msgids
        args = node.args
        if owner == "messages" and name in MESSAGE_LEVELS | {"add_message"}:
            positional = args[2:3] if name == "add_message" else args[1:2]
            for arg in positional:
                self._check(arg)
        elif name in ("message_user", "add_error"):
            for arg in args[1:2]:
                self._check(arg)
        elif name == "ValidationError" or name in self.domain_errors:
            for arg in args[:1]:
                self._check(arg)
        elif name.startswith("HttpResponse") or name in ("send_mail", "EmailMessage", "EmailMultiAlternatives"):
            for arg in args[:1]:
                self._check(arg)
        elif name in ("format_html", "mark_safe"):
            for arg in args[:1]:
                self._check(arg, html=True)
        elif owner == "models" and name not in RELATION_FIELDS and name.endswith("Field"):
            for arg in args[:1]:
                self._check(arg)  # a model field's first argument is its verbose name
        for keyword in node.keywords:
            if keyword.arg == "choices":
                for line, label in _choice_labels(keyword.value):
                    if is_text(label):
                        self.found.append((line, label))
            elif keyword.arg == "attrs" and isinstance(keyword.value, ast.Dict):
                for key, value in zip(keyword.value.keys, keyword.value.values):
                    if isinstance(key, ast.Constant) and key.value in READ_ATTRIBUTES:
                        self._check(value)
            elif keyword.arg in READ_KEYWORDS:
                self._check(keyword.value)
        self.generic_visit(node)

    def visit_Dict(self, node):
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value in READ_DICT_KEYS:
                self._check(value)
        self.generic_visit(node)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def python_findings(source: str, *, domain_errors: frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """(line, text) for each literal of user-visible text in Python that is not marked for translation:
    any string with Chinese characters outside gettext and docstrings, and English in the places users read."""
    tree = ast.parse(source)
    translated = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in GETTEXT:
            translated.update(id(child) for child in ast.walk(node))
    skip = translated | _docstrings(tree)
    found = {
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        if CJK.search(node.value)
    }
    sinks = _UserTextSinks(set(domain_errors))
    sinks.visit(tree)
    found.update(sinks.found)
    return sorted(found)


def python_files():
    for app in APPS:
        for path in sorted((BASE_DIR / app).rglob("*.py")):
            relative = path.relative_to(BASE_DIR)
            if EXCLUDED_PARTS.isdisjoint(relative.parts) and relative.as_posix() not in EXCLUDED_FILES:
                yield path


def domain_error_names() -> frozenset[str]:
    """Exception classes of the apps' exceptions.py: their message is shown to the user."""
    names = set()
    for app in APPS:
        path = BASE_DIR / app / "exceptions.py"
        if path.is_file():
            names.update(node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef))
    return frozenset(names)


def test_python_has_no_hard_coded_user_text():
    errors = domain_error_names()
    problems = []
    for path in python_files():
        relative = path.relative_to(BASE_DIR).as_posix()
        for line, text in python_findings(path.read_text(), domain_errors=errors):
            if (relative, text) not in PYTHON_ALLOWLIST:
                problems.append(f"{relative}:{line}: {text!r}")
    assert not problems, "wrap in gettext / gettext_lazy (English msgid):\n" + "\n".join(problems)


def test_the_python_allowlist_names_existing_literals():
    stale = [(path, text) for path, text in PYTHON_ALLOWLIST if text not in (BASE_DIR / path).read_text()]
    assert not stale


@pytest.mark.parametrize(
    "snippet",
    [
        'TITLE = "订单列表"',
        'messages.success(request, "Order saved.")',
        'messages.error(request, f"Order {number} not found")',
        'self.message_user(request, "Approved %d orders" % n)',
        'raise ValidationError("Enter a valid taxpayer id.")',
        'raise OrderError("This order cannot be cancelled.")',
        'name = forms.CharField(label="Name", help_text="As on the licence")',
        'title = models.CharField("title", max_length=200)',
        "class Meta:\n    verbose_name = 'order'",
        'class Status(models.TextChoices):\n    PENDING = "pending", "Pending"',
        'kind = models.CharField(choices=[("a", "Plain invoice")])',
        '@admin.display(description="Customer")\ndef customer(self, obj): pass',
        'return HttpResponse("Not allowed")',
        'send_mail("Your order", body, None, [to])',
        "return format_html('<a href=\"{}\">Download</a>', url)",
        'widget=forms.TextInput(attrs={"placeholder": "Search"})',
        'form.add_error("end", "The end date is before the start date.")',
        'self.fields["body"].help_text = "At most 500 characters."',
        'message_send(user=user, title="Order approved", body=text)',
        'return render(request, "x.html", {"title": "My orders"})',
    ],
)
def test_hard_coded_python_text_is_found(snippet):
    assert python_findings(snippet, domain_errors=frozenset({"OrderError"}))


@pytest.mark.parametrize(
    "snippet",
    [
        '"""模块说明 docstrings are for developers."""',
        'messages.success(request, _("Order saved."))',
        'raise ValidationError(_("Enter %(what)s."), code="invalid", params={"what": x})',
        'name = forms.CharField(label=gettext_lazy("Name"))',
        'class Status(models.TextChoices):\n    PENDING = "pending", _("Pending")',
        'customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT)',
        "return format_html('<a href=\"{}\">{}</a>', url, _('Download'))",
        'raise ValueError("programming error, not shown to users")',
        'label = _("Total") + " ¥"',
    ],
)
def test_marked_or_internal_python_text_is_not_flagged(snippet):
    assert python_findings(snippet, domain_errors=frozenset({"OrderError"})) == []
