"""The shopper's account pages under /account/ (sign-in, sign-up and the like are allauth's, at
the same prefix)."""
from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.account, name="account"),
]
