from django.urls import path

from . import views

app_name = "pos"

urlpatterns = [
    path("", views.registers, name="registers"),
    path("registers/<int:register_id>/open/", views.open_register, name="open"),
    path("sessions/<int:session_id>/", views.sell, name="sell"),
    path("sessions/<int:session_id>/scan/", views.scan, name="scan"),
    path("sessions/<int:session_id>/line/", views.change_line, name="line"),
    path("sessions/<int:session_id>/customer/", views.customer, name="customer"),
    path("sessions/<int:session_id>/verify-phone/", views.verify_phone, name="verify_phone"),
    path("sessions/<int:session_id>/pay/", views.pay, name="pay"),
    path("sessions/<int:session_id>/close/", views.close_register, name="close"),
    path("sessions/<int:session_id>/closed/", views.closed, name="closed"),
    path("receipts/<str:number>/", views.receipt, name="receipt"),
]
