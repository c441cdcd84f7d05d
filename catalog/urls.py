from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("services/", views.service_list, name="service-list"),
    path("services/<int:pk>/", views.service_detail, name="service-detail"),
    path("services/selector/", views.selector, name="selector"),
    path("services/by-key/", views.key_finder, name="key-finder"),
]
