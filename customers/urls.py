"""The shopper's account pages under /account/ (sign-in, sign-up, password and email pages are
django-allauth's, at the same prefix). Each area's view module lists its own patterns."""
from .views import account, privacy, wishlist

app_name = "customers"

urlpatterns = [*account.urlpatterns, *privacy.urlpatterns, *wishlist.urlpatterns]
