"""The project's URLs: one view that enqueues a slow job and answers at once."""

from django.urls import path
from shop import views

urlpatterns = [path("signup/<int:user_id>/", views.signup, name="signup")]
