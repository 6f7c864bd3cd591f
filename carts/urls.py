from django.urls import path

from . import views

app_name = "carts"

urlpatterns = [
    path("", views.detail, name="detail"),
    path("mini/", views.mini, name="mini"),
    path("add/", views.add, name="add"),
    path("lines/<int:line_id>/", views.update_line, name="update-line"),
    path("lines/<int:line_id>/remove/", views.remove_line, name="remove-line"),
]
