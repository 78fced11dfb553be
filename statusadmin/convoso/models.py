"""State of the embedded Convoso sandbox. Only the sandbox reads or writes these tables."""

from django.db import models


class SandboxStatus(models.Model):
    """One lead status as the emulated Convoso account holds it."""

    code = models.CharField(max_length=32, unique=True)
    name = models.TextField()
    final = models.BooleanField(default=False)
    reached = models.BooleanField(default=False)
    success = models.BooleanField(default=False)
    dnc = models.BooleanField(default=False)
    callback = models.BooleanField(default=False)
    contact = models.BooleanField(default=False)
    voicemail = models.BooleanField(default=False)
    # Six hex digits without '#', or empty; the search response adds the '#', as Convoso does.
    hex_color = models.CharField(max_length=6, blank=True)
    workflow = models.CharField(max_length=64, blank=True)
    custom = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code
