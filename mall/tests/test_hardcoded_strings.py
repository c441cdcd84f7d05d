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
