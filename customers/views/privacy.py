"""Account pages: privacy."""
urlpatterns: list = []
