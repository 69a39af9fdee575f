from django.urls import path

from notes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("whoami.json", views.whoami, name="whoami"),
    path("logout", views.logout, name="logout"),
]
