from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from mall.ratelimit import rate_limit

from . import forms, views

app_name = "accounts"

urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path(
        "accounts/login/",
        # Per IP across usernames; django-axes also locks one username + IP after 5 failures.
        rate_limit("sign-in", key="ip")(
            auth_views.LoginView.as_view(
                template_name="accounts/login.html",
                authentication_form=forms.SignInForm,
                redirect_authenticated_user=True,
            )
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/emails/password_reset.txt",
            html_email_template_name="accounts/emails/password_reset.html",
            subject_template_name="accounts/emails/password_reset_subject.txt",
            form_class=forms.PasswordResetRequestForm,
            success_url=reverse_lazy("accounts:password-reset-done"),
        ),
        name="password-reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            form_class=forms.NewPasswordForm,
            success_url=reverse_lazy("accounts:password-reset-complete"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "accounts/password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password-reset-complete",
    ),
    path("account/", views.user_centre, name="centre"),
    path("account/profile/", views.profile, name="profile"),
    path("account/password/", views.password_change, name="password"),
    path("account/product-keys/", views.product_key_list, name="product-keys"),
    path("account/product-keys/<int:pk>/delete/", views.product_key_delete, name="product-key-delete"),
    path("account/invoice-profiles/", views.invoice_profile_list, name="invoice-profiles"),
    path("account/invoice-profiles/add/", views.invoice_profile_add, name="invoice-profile-add"),
    path("account/invoice-profiles/<int:pk>/edit/", views.invoice_profile_edit, name="invoice-profile-edit"),
    path("account/invoice-profiles/<int:pk>/delete/", views.invoice_profile_delete, name="invoice-profile-delete"),
    path("account/invoice-profiles/<int:pk>/default/", views.invoice_profile_default, name="invoice-profile-default"),
    path("account/addresses/", views.address_list, name="addresses"),
    path("account/addresses/add/", views.address_add, name="address-add"),
    path("account/addresses/<int:pk>/edit/", views.address_edit, name="address-edit"),
    path("account/addresses/<int:pk>/delete/", views.address_delete, name="address-delete"),
    path("account/addresses/<int:pk>/default/", views.address_default, name="address-default"),
    path("account/messages/", views.message_list, name="messages"),
    path("account/messages/read-all/", views.messages_read_all, name="messages-read-all"),
    path("account/messages/<int:pk>/read/", views.message_read, name="message-read"),
]
