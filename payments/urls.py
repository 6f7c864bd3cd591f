from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("demo/<str:token>/", views.demo_pay, name="demo"),
    path("<str:token>/", views.payment_status, name="status"),
    path("<str:token>/retry/", views.retry, name="retry"),
]
