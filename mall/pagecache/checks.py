"""`manage.py check` holds every app to the page cache's contract (contract.py).

* pagecache.E001: a model with a foreign-key path to the user (a customer may see its
  rows) that no app declares and no one exempts: a change to it would leave a customer's
  page stale for up to PAGE_CACHE_SECONDS.
* pagecache.E002: a model of the project's own apps that its app does not classify
  (customer, shared or exempt): a new catalogue table would not make pages stale.
* pagecache.E003: a declaration that names no model of its app, names one twice, or
  exempts one without saying why.
* pagecache.E004: a customer path that does not lead to the user's id.
* pagecache.E005: a declared model with a manager whose update() does not bump.
* pagecache.E006: a declared cached view that is no URL name of its app routed to a view
  marked @cacheable.
* pagecache.E007: a view marked @cacheable that its app does not declare (under that
  URL name), so the cache would not keep it.
"""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.urls import URLPattern, URLResolver, get_resolver

from . import contract, django_internals
from .querysets import PageVisibleQuerySet

GUIDE = "See docs/page-cache.md."


@checks.register("pagecache")
def check_contract(app_configs=None, **kwargs):
    declared = contract.read(apps.get_app_configs())
    configs = app_configs or apps.get_app_configs()
    models = [model for config in configs for model in config.get_models(include_auto_created=True)]
    errors = model_errors(declared, models)
    errors += declaration_errors(apps.get_app_configs())
    errors += manager_errors(declared_models(declared))
    errors += view_errors(declared, get_resolver().url_patterns)
    return errors


def project_app(app_config) -> bool:
    """The app is one of this project's (not Django's or an installed package's)."""
    path = Path(app_config.path).resolve()
    return path.is_relative_to(Path(settings.BASE_DIR).resolve()) and "site-packages" not in path.parts


def leads_to_user(model) -> bool:
    """`model` is the user model or reaches it through foreign keys (one-to-ones included)."""
    user = settings.AUTH_USER_MODEL.lower()
    seen, todo = set(), [model]
    while todo:
        current = todo.pop()
        label = current.lower() if isinstance(current, str) else current._meta.label_lower
        if label == user:
            return True
        if label in seen or isinstance(current, str):  # a model not loaded here: not followed
            continue
        seen.add(label)
        todo.extend(
            field.related_model
            for field in current._meta.get_fields()
            if field.concrete and (field.many_to_one or field.one_to_one) and field.related_model is not None
        )
    return False


def model_errors(declared: contract.Contract, models) -> list[checks.Error]:
    classified = set(declared.owner_paths) | declared.shared | set(declared.exempt)
    errors = []
    for model in models:
        label = model._meta.label
        if label in classified:
            continue
        app = model._meta.app_config
        if leads_to_user(model):
            where = f"{app.label}/apps.py (page_cache_customer_models or page_cache_exempt_models)" if project_app(app) else "OTHER_APPS_EXEMPT in mall/pagecache/contract.py"
            errors.append(
                checks.Error(
                    f"{label} has a foreign-key path to the user, but the page cache's contract neither declares nor exempts it.",
                    hint=f"If a cached page may show its rows, declare it with the path to its customer; if none can, exempt it and say why: {where}. {GUIDE}",
                    obj=model,
                    id="pagecache.E001",
                )
            )
        elif project_app(app):
            errors.append(
                checks.Error(
                    f"{label} is not in its app's page cache declarations.",
                    hint=f"Add it to page_cache_shared_models if cached pages show it to every visitor, else to page_cache_exempt_models with the reason, in {app.label}/apps.py. {GUIDE}",
                    obj=model,
                    id="pagecache.E002",
                )
            )
    return errors


def declaration_errors(app_configs) -> list[checks.Error]:
    errors = []
    for config in app_configs:
        names = [
            *getattr(config, "page_cache_customer_models", {}),
            *getattr(config, "page_cache_shared_models", ()),
            *getattr(config, "page_cache_exempt_models", {}),
        ]
        models = {model._meta.object_name for model in config.get_models(include_auto_created=True)}
        for name in sorted(set(names)):
            problem = None
            if name not in models:
                problem = f"{config.label}/apps.py declares {name} for the page cache, but {config.label} has no such model."
            elif names.count(name) > 1:
                problem = f"{config.label}/apps.py declares {config.label}.{name} more than once for the page cache."
            if problem:
                errors.append(checks.Error(problem, hint=GUIDE, obj=config, id="pagecache.E003"))
        for name, why in getattr(config, "page_cache_exempt_models", {}).items():
            if not str(why).strip():
                errors.append(
                    checks.Error(f"{config.label}.{name} is exempt from the page cache without a reason.", hint=GUIDE, obj=config, id="pagecache.E003")
                )
        for name, path in getattr(config, "page_cache_customer_models", {}).items():
            if name in models:
                problem = path_problem(config.get_model(name), path)
                if problem:
                    errors.append(checks.Error(f"{config.label}.{name}: {problem}", hint=GUIDE, obj=config, id="pagecache.E004"))
    return errors


def path_problem(model, path: str) -> str | None:
    """What is wrong with `path` as the way from a row of `model` to its customer's id."""
    user = settings.AUTH_USER_MODEL.lower()
    if path == "pk":
        return None if model._meta.label_lower == user else 'the path "pk" is only for the user model itself.'
    current = model
    parts = path.split("__")
    for position, part in enumerate(parts):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return f'the path "{path}": {current._meta.label} has no field {part}.'
        if not (field.concrete and (field.many_to_one or field.one_to_one)):
            return f'the path "{path}": {current._meta.label}.{field.name} is not a foreign key.'
        if position == len(parts) - 1:
            if field.related_model._meta.label_lower != user:
                return f'the path "{path}" does not end at the user: {current._meta.label}.{field.name} points to {field.related_model._meta.label}.'
            if part != field.attname:
                return f'the path "{path}" must end with the column of the user\'s id, "{field.attname}".'
        current = field.related_model
    return None


def declared_models(declared: contract.Contract) -> list:
    """The declared customer and shared models (names that are no model: pagecache.E003)."""
    models = []
    for label in sorted(set(declared.owner_paths) | declared.shared):
        try:
            models.append(apps.get_model(label))
        except LookupError:
            pass
    return models


def manager_errors(models) -> list[checks.Error]:
    errors = []
    for model in models:
        label = model._meta.label
        for manager in django_internals.model_managers(model):
            if not isinstance(manager.get_queryset(), PageVisibleQuerySet):
                errors.append(
                    checks.Error(
                        f"{label}.{manager.name}: its update() and bulk_create() would not make cached pages stale.",
                        hint=f"Base its queryset on mall.pagecache.PageVisibleQuerySet (or use PageVisibleManager). {GUIDE}",
                        obj=model,
                        id="pagecache.E005",
                    )
                )
    return errors


def routes(patterns, namespace: str = ""):
    """(URL name with its namespaces or None, view) of every URL pattern."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}{pattern.name}" if pattern.name else None), pattern.callback


def view_errors(declared: contract.Contract, patterns) -> list[checks.Error]:
    errors = []
    marked = {}
    for name, view in routes(patterns):
        if getattr(view, "page_cache_cacheable", False):
            marked[name] = view
    for name in sorted(declared.views - set(marked)):
        errors.append(
            checks.Error(
                f"The page cache's declared view {name} is not a URL name routed to a view marked @cacheable.",
                hint=f"Fix the name in page_cache_views, or mark the view with @mall.pagecache.cacheable once its page may be kept. {GUIDE}",
                id="pagecache.E006",
            )
        )
    for name in sorted(set(marked) - declared.views, key=str):
        view = marked[name]
        errors.append(
            checks.Error(
                f"{view.__module__}.{view.__qualname__} is marked @cacheable, but its URL name {name} is not declared, so the page cache does not keep it.",
                hint=f"Add the URL name to page_cache_views in its app's apps.py, or remove the mark. {GUIDE}",
                id="pagecache.E007",
            )
        )
    return errors
