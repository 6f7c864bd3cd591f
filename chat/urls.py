from django.urls import path

from . import views
from .messaging import views as messaging_views

app_name = "chat"

urlpatterns = [
    path("contact/", views.contact, name="contact"),
    path("chat/state/", views.state, name="state"),
    path("chat/triggers/", views.triggers, name="triggers"),
    path("chat/cart-value/", views.cart_value, name="cart-value"),
    path("chat/start/", views.start, name="start"),
    path("chat/c/<str:token>/", views.conversation_page, name="conversation"),
    path("chat/cart/<str:token>/", views.cart_link, name="cart-link"),
    # Before "chat/<public_id>/email/", which this address would otherwise match.
    path("chat/webhooks/email/", messaging_views.email_webhook, name="email-webhook"),
    path("chat/<str:public_id>/messages/", views.messages, name="messages"),
    path("chat/<str:public_id>/send/", views.send, name="send"),
    path("chat/<str:public_id>/stream/", views.stream, name="stream"),
    path("chat/<str:public_id>/typing/", views.typing_view, name="typing"),
    path("chat/<str:public_id>/seen/", views.seen, name="seen"),
    path("chat/<str:public_id>/rate/", views.rate_view, name="rate"),
    path("chat/<str:public_id>/email/", views.email_view, name="email"),
    path("chat/<str:public_id>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("chat/c/<str:token>/attachments/<int:attachment_id>/", views.conversation_attachment,
         name="conversation-attachment"),
    path("chat/webhooks/whatsapp/", messaging_views.whatsapp_webhook, name="whatsapp-webhook"),
    path("chat/webhooks/messenger/", messaging_views.messenger_webhook, name="messenger-webhook"),
    path("account/messages/", views.account_messages, name="account-messages"),
]
