"""The shopper's order pages. `detail_signed` is the link in every order email (orders.links)."""
from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.history, name="history"),
    # Before the token patterns: "number" is never a valid token, so the two kinds never overlap.
    path("number/<str:number>/", views.detail, name="detail"),
    path("number/<str:number>/status/", views.status, name="status"),
    path("number/<str:number>/pay/", views.pay, name="pay"),
    path("<str:token>/", views.detail_signed, name="detail_signed"),
    path("<str:token>/thanks/", views.confirmation, name="confirmation"),
    path("<str:token>/status/", views.status_signed, name="status_signed"),
    path("<str:token>/pay/", views.pay_signed, name="pay_signed"),
]
