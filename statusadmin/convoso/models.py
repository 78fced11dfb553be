"""State of the embedded Convoso sandbox. Only the sandbox reads or writes these tables."""

from django.db import models


class StatusFlags(models.Model):
    """The seven Y/N flags of a lead status (validation.FLAGS), as booleans."""

    final = models.BooleanField(default=False)
    reached = models.BooleanField(default=False)
    success = models.BooleanField(default=False)
    dnc = models.BooleanField(default=False)
    callback = models.BooleanField(default=False)
    contact = models.BooleanField(default=False)
    voicemail = models.BooleanField(default=False)

    class Meta:
        abstract = True


class SandboxStatus(StatusFlags):
    """One lead status as the emulated Convoso account holds it."""

    code = models.CharField(max_length=32, unique=True)
    name = models.TextField()
    # Six hex digits without '#', or empty; the search response adds the '#', as Convoso does.
    hex_color = models.CharField(max_length=6, blank=True)
    workflow = models.CharField(max_length=64, blank=True)
    custom = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class SandboxFault(models.Model):
    """A fault the sandbox will inject into its next answers (a switch for testing failure).

    Set with ``manage.py convoso_sandbox_fault``. ``remaining`` counts down per request that
    takes the fault; NULL keeps it until it is cleared.
    """

    class Kind(models.TextChoices):
        TIMEOUT = "timeout", "Apply the request, then reply too late"
        DISCONNECT = "disconnect", "Drop the connection without a reply"
        HTTP_500 = "http_500", "HTTP 500"
        HTTP_503 = "http_503", "HTTP 503"
        MALFORMED = "malformed", "Apply the request, then reply with HTML instead of JSON"
        UNKNOWN_CODE = "unknown_code", "success:false with an undocumented code"
        BAD_TOKEN = "bad_token", "Reject the token"

    endpoint = models.CharField(max_length=10, blank=True, help_text="empty: every endpoint")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    remaining = models.PositiveIntegerField(null=True, blank=True, default=1)
    delay_seconds = models.FloatField(default=30.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.endpoint or 'every endpoint'}"
