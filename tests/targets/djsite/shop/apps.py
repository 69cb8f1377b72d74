"""The shop app's configuration."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The shop: orders and their background jobs."""

    name = "shop"
    default_auto_field = "django.db.models.BigAutoField"
