"""The store's URLs plus Django's own login view: the accounts app is not there yet, and the
sign-in merge must work with whatever view ends up calling `django.contrib.auth.login`."""
from django.contrib.auth.views import LoginView
from django.urls import path

from shop.urls import urlpatterns as store_urlpatterns

urlpatterns = [path("login/", LoginView.as_view(next_page="/cart/"), name="login"), *store_urlpatterns]
