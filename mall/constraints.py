"""Model constraints: Django's, with what its 5.2 release lacks."""

from django.db import DEFAULT_DB_ALIAS, models


class CheckConstraint(models.CheckConstraint):
    """Django's CheckConstraint, whose validation is skipped at once when its condition
    names a field left out of validation, as a ModelForm leaves out every field it does
    not show.

    Django 5.2 skips it too, but only after building and compiling a query for the
    condition and meeting the FieldError of the missing field: for the checkout form of
    `Order`, with two such constraints, that was about 5% of a checkout POST. Any other
    condition (one that names only validated fields, or an expression rather than a Q) is
    left to Django as before. Migrations record Django's own class (`deconstruct`), so
    this one changes no migration.
    """

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        condition = self.condition
        if exclude and isinstance(condition, models.Q) and not condition.referenced_base_fields.isdisjoint(exclude):
            return
        super().validate(model, instance, exclude=exclude, using=using)

    def deconstruct(self):
        _path, args, kwargs = super().deconstruct()
        return "django.db.models.CheckConstraint", args, kwargs
