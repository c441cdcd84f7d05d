from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Module, Platform, ProductLine
from .selectors import ServiceFilters

QUERY_MAX_LENGTH = 100


class ServiceFilterForm(forms.Form):
    """The catalog's filters. Unknown ids or an over-long query are reported and ignored,
    never an error page: the rest of the filters still apply."""

    q = forms.CharField(
        label=_("Keyword"),
        required=False,
        max_length=QUERY_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("Enter a service keyword"), "type": "search"}),
    )
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=ProductLine.objects.filter(active=True), required=False, empty_label=_("All products")
    )
    platform = forms.ModelChoiceField(
        label=_("Platform"), queryset=Platform.objects.filter(active=True), required=False, empty_label=_("All platforms")
    )
    module = forms.ModelChoiceField(
        label=_("Module"), queryset=Module.objects.filter(active=True), required=False, empty_label=_("All modules")
    )

    def filters(self) -> ServiceFilters:
        """Filters from the valid fields only (call after is_valid())."""
        data = getattr(self, "cleaned_data", {})
        return ServiceFilters(
            q=(data.get("q") or "").strip(),
            product_line=data.get("product"),
            platform=data.get("platform"),
            module=data.get("module"),
        )

    def problems(self) -> list[str]:
        """One message per rejected field, in the active language."""
        messages = []
        for name in self.errors:
            label = self.fields[name].label if name in self.fields else name
            if name == "q":
                messages.append(
                    _("The keyword is too long (at most %(max)s characters) and was ignored.") % {"max": QUERY_MAX_LENGTH}
                )
            else:
                messages.append(_("The chosen %(field)s does not exist and was ignored.") % {"field": label})
        return messages


class ProductKeyLookupForm(forms.Form):
    key = forms.CharField(
        label=_("Product key"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "E3P-1A2B-3C4D-5E6F", "autocomplete": "off"}),
        help_text=_("The key of the product you run, as printed in its licence. Pick the services of the product your key belongs to."),
    )
