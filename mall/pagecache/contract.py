"""What the page cache keeps and what makes it stale, read from each app's declarations.

Each app declares, as attributes of its AppConfig (its apps.py), plain names only:

    page_cache_views           URL names (in the app's namespace) whose pages are kept;
                               each view is also marked with @cacheable.
    page_cache_customer_models model name -> the path from a row to the id of the customer
                               who sees it ("customer_id", "order__customer_id", "pk" for
                               the user model itself).
    page_cache_shared_models   model names every visitor may see (the catalogue): a change
                               makes every cached page stale.
    page_cache_exempt_models   model name -> why no cached page shows its rows.
    page_cache_session_values  session keys whose value a cached page shows: part of the key.

`manage.py check` (checks.py) holds every app to it; docs/page-cache.md is the guide.
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.db.models.signals import post_delete, post_save

# Models of other packages (Django's, third-party apps') with a foreign-key path to the
# user, and why no cached page shows them. The project's own apps exempt theirs in their
# apps.py, next to the models.
OTHER_APPS_EXEMPT = {
    "admin.LogEntry": "the admin's change history: staff pages only, never cached",
}


@dataclass(frozen=True)
class Contract:
    views: frozenset = frozenset()  # "orders:list"
    owner_paths: dict = field(default_factory=dict)  # "orders.Order" -> "customer_id"
    shared: frozenset = frozenset()  # "catalog.Service"
    exempt: dict = field(default_factory=dict)  # "orders.DailySerial" -> why
    session_values: tuple = ()


def read(app_configs) -> Contract:
    """The contract the apps in `app_configs` declare."""
    views, owner_paths, shared, exempt, session_values = set(), {}, set(), dict(OTHER_APPS_EXEMPT), []
    for config in app_configs:
        label = config.label
        views.update(f"{label}:{name}" for name in getattr(config, "page_cache_views", ()))
        owner_paths.update({f"{label}.{name}": path for name, path in getattr(config, "page_cache_customer_models", {}).items()})
        shared.update(f"{label}.{name}" for name in getattr(config, "page_cache_shared_models", ()))
        exempt.update({f"{label}.{name}": why for name, why in getattr(config, "page_cache_exempt_models", {}).items()})
        session_values.extend(getattr(config, "page_cache_session_values", ()))
    return Contract(frozenset(views), owner_paths, frozenset(shared), exempt, tuple(session_values))


_current: list[Contract] = []


def current() -> Contract:
    """The installed apps' contract, read once (the apps do not change while a process runs)."""
    if not _current:
        _current.append(read(apps.get_app_configs()))
    return _current[0]


def forget() -> None:
    """Read the declarations again on next use (tests that change them)."""
    _current.clear()


def cacheable(view):
    """Marks a view whose page the page cache may keep: its app also lists its URL name in
    `page_cache_views`. The check refuses a marked view that is not declared and a declared
    one that is not marked. Like csrf_exempt, it only marks the view."""
    view.page_cache_cacheable = True
    return view


def owner_path(model) -> str | None:
    """How to find the customer who sees a row of `model`, or None if it is not a customer's."""
    return current().owner_paths.get(model._meta.label)


def is_shared(model) -> bool:
    return model._meta.label in current().shared


def connect_signals(on_owned_change, on_shared_change) -> None:
    """post_save and post_delete of every declared model call `on_owned_change` (a
    customer's model) or `on_shared_change` (a model every page may show)."""
    declared = current()
    for label in declared.owner_paths:
        model = apps.get_model(label)
        for signal in (post_save, post_delete):
            signal.connect(on_owned_change, sender=model, dispatch_uid=f"pagecache:{label}:{signal}")
    for label in declared.shared:
        model = apps.get_model(label)
        for signal in (post_save, post_delete):
            signal.connect(on_shared_change, sender=model, dispatch_uid=f"pagecache:{label}:{signal}")
