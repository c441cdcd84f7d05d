from django.urls import path

from . import views

app_name = "inquiries"

# 咨询管理 in the user centre: the signed-in customer's own inquiries only.
urlpatterns = [
    path("account/inquiries/", views.inquiry_list, name="list"),
    path("account/inquiries/new/", views.inquiry_create, name="create"),
    path("account/inquiries/<int:pk>/", views.inquiry_detail, name="detail"),
    path("account/inquiries/<int:pk>/reply/", views.inquiry_reply, name="reply"),
    path("account/inquiries/<int:pk>/close/", views.inquiry_close, name="close"),
]
