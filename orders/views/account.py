from django.contrib.auth.decorators import login_required
from django.utils.translation import gettext_lazy as _

from mall.views import coming


@login_required
def order_list(request):
    return coming(request, title=_("My orders"))
