"""The shopper's return pages, beside the order pages and reached the same two ways: the signed
order link (guests) or the signed-in owner's order number."""
from django.urls import path

from . import views

app_name = "returns"

urlpatterns = [
    path("number/<str:number>/new/", views.start, name="start"),
    path("number/<str:number>/<int:pk>/photo/", views.photo, name="photo"),
    path("<str:token>/new/", views.start_signed, name="start_signed"),
    path("<str:token>/<int:pk>/photo/", views.photo_signed, name="photo_signed"),
]
