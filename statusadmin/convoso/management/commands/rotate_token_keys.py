"""Re-encrypt every stored Convoso token under the first key of CONVOSO_TOKEN_KEYS.

Rotating the key: set CONVOSO_TOKEN_KEYS="new,old" (everywhere the dashboard runs), run this,
then drop the old key. Until it has run, the old key is still needed to read the tokens.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from statusadmin.convoso import services


class Command(BaseCommand):
    help = "Re-encrypt every stored Convoso token with the first key of CONVOSO_TOKEN_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = services.token_keys_rotate()
        except services.KeysDoNotOpen as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Re-encrypted {count} token{'' if count == 1 else 's'} with the first key of "
            "CONVOSO_TOKEN_KEYS. The other keys can now be removed."
        )
