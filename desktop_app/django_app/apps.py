"""The app's configuration: install Huey Desk's hooks on djhuey's Huey when Django is ready."""

from __future__ import annotations

from django.apps import AppConfig


class HueyDeskConfig(AppConfig):
    """Huey Desk's reporting for a stock ``run_huey`` consumer."""

    name = "desktop_app.django_app"
    label = "huey_desk"
    verbose_name = "Huey Desk"

    def ready(self) -> None:
        from django.conf import settings
        from huey.contrib.djhuey import HUEY

        from desktop_app.hooks import install

        install(HUEY, getattr(settings, "HUEY_DESK_JOURNAL", None))
