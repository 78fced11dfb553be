"""The Convoso accounts the dashboard serves, who may use each, and the state of the embedded
Convoso sandbox (only the sandbox reads or writes SandboxStatus and SandboxFault)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from statusadmin.accounts.roles import ROLE_PERMISSIONS

# The accounts' own names for rows are their slugs; the default account's is "sandbox" or a
# 16-hex fingerprint of its API URL and token (client.account_fingerprint), which no slug may be.
RESERVED_SLUGS = {"sandbox", "default", "a"}


def _not_reserved(slug: str) -> None:
    if slug in RESERVED_SLUGS or (len(slug) == 16 and all(c in "0123456789abcdef" for c in slug)):
        raise ValidationError(f"{slug!r} is reserved; choose another short name.")


class ConvosoAccount(models.Model):
    """A Convoso account besides the default one (the environment's token, or the sandbox):
    an office or a client. Its token is kept encrypted (convoso/tokens.py) and never shown
    again once saved, only its last four characters. Accounts are disabled, never deleted:
    the audit log names them for as long as it is kept."""

    slug = models.CharField(
        max_length=24,
        unique=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$",
                "Lower-case letters, digits and hyphens, at most 24 (e.g. east or client-a).",
            ),
            _not_reserved,
        ],
        help_text="A short name for URLs (/a/<short name>/) and the audit log; it never changes.",
    )
    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField("API URL", max_length=200, default="https://api.convoso.com/v1")
    # A Fernet token (MultiFernet over CONVOSO_TOKEN_KEYS): ASCII, never the token itself.
    token_encrypted = models.TextField(editable=False)
    token_last4 = models.CharField(max_length=4, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "Convoso account"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<ConvosoAccount {self.slug}>"  # never the token, even encrypted


class Membership(models.Model):
    """A person's role in one Convoso account: Supervisor in one, Compliance or nothing in
    another. The default account's roles are the Django groups, as before there were several."""

    ROLES = [(role, role) for role in ROLE_PERMISSIONS]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="convoso_memberships"
    )
    account = models.ForeignKey(
        ConvosoAccount, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=ROLES)

    class Meta:
        ordering = ["account", "user", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "account", "role"], name="membership_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.account}"


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
    """One lead status as an emulated Convoso account holds it. Each sandbox token is an
    account of its own (its tenant; "" for the default one): sandbox.tenant_of."""

    tenant = models.CharField(max_length=24, blank=True, default="")
    code = models.CharField(max_length=32)
    name = models.TextField()
    # Six hex digits without '#', or empty; the search response adds the '#', as Convoso does.
    hex_color = models.CharField(max_length=6, blank=True)
    workflow = models.CharField(max_length=64, blank=True)
    custom = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="sandbox_tenant_code")
        ]

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
