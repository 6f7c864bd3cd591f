from django.urls import path

from . import views

app_name = "giftcards"

urlpatterns = [
    path("apply/", views.apply_code, name="apply"),
    path("remove/<int:card_id>/", views.remove_card, name="remove"),
    path("recipient/", views.recipient, name="recipient"),
    path("account/", views.account_cards, name="cards"),
    path("account/<int:card_id>/resend/", views.resend, name="resend"),
]
