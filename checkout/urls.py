from django.urls import path

from . import views

app_name = "checkout"

urlpatterns = [
    path("", views.details, name="details"),
    path("delivery-options/", views.delivery_options, name="delivery-options"),
    path("review/", views.review, name="review"),
    path("place/", views.place, name="place"),
]
