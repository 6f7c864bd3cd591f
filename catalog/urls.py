from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("search/suggest/", views.suggestions, name="suggest"),
    path("c/<path:path>/", views.category, name="category"),
    path("p/<slug:slug>/", views.product, name="product"),
]
