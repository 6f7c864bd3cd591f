"""The shopper's account pages. Every view works on the signed-in customer's own records only."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from ..services import customer_for_user


@login_required
def account(request: HttpRequest) -> HttpResponse:
    customer = customer_for_user(user=request.user)
    return render(request, "customers/account.html", {"customer": customer})


urlpatterns = [
    path("", account, name="account"),
]
