"""Account pages: wishlist."""
urlpatterns: list = []
