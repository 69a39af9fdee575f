from django.conf import settings
from django.db import models


class Note(models.Model):
    """A line of text a signed-in user saved through the page's form."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
