"""The shopper's account pages. Every view works on the signed-in customer's own records only:
an address is looked up with `customer=` the request's customer, so another's answers 404."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from checkout.selectors import default_country

from ..forms import AddressBookForm, PreferencesForm, ProfileForm
from ..models import Address, ConsentRecord, Customer
from ..selectors.account import customer_addresses
from ..services import customer_for_user
from ..services import accounts as account_services
from ..services import addresses as address_services
from ..services.consent import set_marketing_consent


def _customer(request: HttpRequest) -> Customer:
    return customer_for_user(user=request.user)


def _own_address(request: HttpRequest, pk: int) -> tuple[Customer, Address]:
    customer = _customer(request)
    return customer, get_object_or_404(Address, pk=pk, customer=customer)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    return render(request, "customers/account.html", {"customer": customer})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = ProfileForm(request.POST or None, initial={
        "first_name": customer.first_name, "last_name": customer.last_name, "phone": customer.phone,
        "language": customer.language,
    })
    if request.method == "POST" and form.is_valid():
        account_services.update_profile(customer=customer, **form.cleaned_data)
        messages.success(request, _("Your details are saved."))
        return redirect("customers:profile")
    return render(request, "customers/profile.html", {"customer": customer, "form": form})


@login_required
def addresses(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    return render(request, "customers/addresses.html", {
        "customer": customer, "addresses": customer_addresses(customer=customer),
    })


def _address_form_page(request: HttpRequest, form: AddressBookForm, address: Address | None) -> HttpResponse:
    return render(request, "customers/address_form.html", {"form": form, "address": address,
                                                            "show_errors": form.is_bound})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_add(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = AddressBookForm(request.POST or None, initial={"name": customer.full_name, "country": default_country()})
    if request.method == "POST" and form.is_valid():
        address_services.create_address(
            customer=customer, data=form.address(), default_shipping=form.cleaned_data["default_shipping"],
            default_billing=form.cleaned_data["default_billing"],
        )
        messages.success(request, _("Address added."))
        return redirect("customers:addresses")
    return _address_form_page(request, form, None)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _customer_, address = _own_address(request, pk)
    form = AddressBookForm(request.POST or None, initial=AddressBookForm.initial_for(address))
    if request.method == "POST" and form.is_valid():
        # A ticked box makes this the default; unticking the current default leaves the
        # customer without one of that kind, which checkout handles (last order, else blank).
        address_services.update_address(
            address=address, data=form.address(), default_shipping=form.cleaned_data["default_shipping"],
            default_billing=form.cleaned_data["default_billing"],
        )
        messages.success(request, _("Address saved."))
        return redirect("customers:addresses")
    return _address_form_page(request, form, address)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _customer_, address = _own_address(request, pk)
    if request.method == "POST":
        address_services.delete_address(address=address)
        messages.success(request, _("Address removed."))
        return redirect("customers:addresses")
    return render(request, "customers/address_delete.html", {"address": address})


@login_required
@require_POST
def address_default(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    if kind not in address_services.DEFAULT_FLAGS:
        raise Http404
    _customer_, address = _own_address(request, pk)
    address_services.set_default_address(address=address, kind=kind)
    messages.success(request, _("Default shipping address set.") if kind == "shipping"
                     else _("Default billing address set."))
    return redirect("customers:addresses")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = PreferencesForm(request.POST or None, initial={
        "accepts_marketing": customer.accepts_marketing, "wants_wishlist_alerts": customer.wants_wishlist_alerts,
    })
    if request.method == "POST" and form.is_valid():
        set_marketing_consent(customer=customer, granted=form.cleaned_data["accepts_marketing"],
                              source=ConsentRecord.Source.ACCOUNT)
        account_services.set_wishlist_alerts(customer=customer, enabled=form.cleaned_data["wants_wishlist_alerts"])
        messages.success(request, _("Your email preferences are saved."))
        return redirect("customers:preferences")
    return render(request, "customers/preferences.html", {"customer": customer, "form": form})


urlpatterns = [
    path("", account, name="account"),
    path("profile/", profile, name="profile"),
    path("addresses/", addresses, name="addresses"),
    path("addresses/new/", address_add, name="address-add"),
    path("addresses/<int:pk>/edit/", address_edit, name="address-edit"),
    path("addresses/<int:pk>/delete/", address_delete, name="address-delete"),
    path("addresses/<int:pk>/default/<str:kind>/", address_default, name="address-default"),
    path("preferences/", preferences, name="preferences"),
]
