"""An order, which a database task marks as paid."""

from django.db import models


class Order(models.Model):
    """One order of one customer."""

    customer = models.CharField(max_length=100)
    paid = models.BooleanField(default=False)
    shipped = models.BooleanField(default=False)
