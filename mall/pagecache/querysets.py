"""The queryset of every model a cached page shows.

post_save and post_delete bump the versions of the pages that show a row; `update()` and
`bulk_create()` send no signal, so this queryset bumps them itself. Every manager of a
declared model uses it (`manage.py check` refuses one that does not), related managers
included (Django derives them from the default manager), so a plain `.update(...)` is
the bumping one and there is nothing else to remember.
"""

from django.db import models

from . import contract, versions


class PageVisibleQuerySet(models.QuerySet):
    def update(self, **kwargs):
        path = contract.owner_path(self.model)
        if path is None:
            rows = super().update(**kwargs)
            if rows and contract.is_shared(self.model):
                versions.shared_changed()
            return rows
        # The customers are read before the update: it may change what the filter matches.
        before = list(self.order_by().values_list("pk", path))
        rows = super().update(**kwargs)
        if rows:
            customers = {customer for _pk, customer in before}
            if _moves_rows(self.model, path, kwargs):  # rows handed to another customer
                pks = [pk for pk, _customer in before]
                customers |= set(self.model._default_manager.filter(pk__in=pks).values_list(path, flat=True))
            versions.customers_changed(customers)
        return rows

    update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        path = contract.owner_path(self.model)
        if path is not None:
            versions.customers_changed({versions.owner(obj, path) for obj in created})
        elif created and contract.is_shared(self.model):
            versions.shared_changed()
        return created

    bulk_create.alters_data = True


def _moves_rows(model, path: str, fields: dict) -> bool:
    """Whether updating `fields` may change the customer at `path` of `model`'s rows."""
    if path == "pk":
        return False
    first = model._meta.get_field(path.partition("__")[0])
    return first.name in fields or first.attname in fields


class PageVisibleManager(models.Manager.from_queryset(PageVisibleQuerySet)):
    """The default manager of a model a cached page shows (see the module)."""
