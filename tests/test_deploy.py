"""Production settings, the Dockerfile and its pinned install, checked without a Docker engine.

(The Dockerfile's install and start steps themselves run in `make docker-check`, which CI runs:
a fresh virtualenv, gunicorn, and a request to /healthz.)
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "statusadmin.example.com",
}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    return subprocess.run(
        args, cwd=ROOT, env={**clean, **PRODUCTION, **env}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def setting(expression: str, **env: str) -> str:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'statusadmin.settings'; "
        f"django.setup(); from django.conf import settings; print({expression})"
    )
    result = run([sys.executable, "-c", code], **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


class ProductionSettingsTests:
    def test_check_deploy_reports_nothing(self, tmp_path):
        # The audit keys as the README has a deployer make them (production refuses without).
        signing, chain = tmp_path / "audit-signing.pem", tmp_path / "audit-chain-key"
        keygen = ["audit_keygen", "--signing-key", str(signing), "--chain-key", str(chain)]
        assert run([sys.executable, "manage.py", *keygen]).returncode == 0
        result = run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            AUDIT_SIGNING_KEY_FILE=str(signing), AUDIT_CHAIN_KEY_FILE=str(chain),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout

    def test_hardened_cookies_hsts_and_redirect(self):
        assert (
            setting(
                "(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
                "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS >= 31536000, "
                "settings.DEBUG)"
            )
            == "(True, True, True, True, False)"
        )

    def test_proxy_ssl_header_from_the_environment(self):
        value = setting(
            "settings.SECURE_PROXY_SSL_HEADER",
            SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        )
        assert value == "('HTTP_X_FORWARDED_PROTO', 'https')"

    def test_hosts_and_trusted_origins_from_the_environment(self):
        value = setting(
            "(settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS)",
            DJANGO_ALLOWED_HOSTS="a.example.com, b.example.com",
            DJANGO_CSRF_TRUSTED_ORIGINS="https://a.example.com",
        )
        assert value == "(['a.example.com', 'b.example.com'], ['https://a.example.com'])"

    def test_json_logs_and_hashed_compressed_static_files(self):
        assert setting("settings.LOGGING['handlers']['console']['formatter']") == "json"
        assert setting("settings.STORAGES['staticfiles']['BACKEND']") == (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )

    def test_collectstatic_writes_hashed_and_compressed_files(self, tmp_path):
        result = run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"], STATIC_ROOT=str(tmp_path)
        )
        assert result.returncode == 0, result.stderr
        names = {p.name for p in (tmp_path / "css").iterdir()}
        hashed = [n for n in names if re.fullmatch(r"app\.[0-9a-f]{12}\.css", n)]
        assert hashed
        assert f"{hashed[0]}.gz" in names
        assert (tmp_path / "django_htmx" / "htmx-2.min.js").exists()


class AuditSecretSettingsTests:
    """The chain key: from the environment or a file, long enough, not the secret key."""

    def test_read_from_a_file(self, tmp_path):
        key = tmp_path / "chain.key"
        key.write_text("x" * 40 + "\n")
        assert setting("settings.AUDIT_CHAIN_KEY", AUDIT_CHAIN_KEY_FILE=str(key)) == "x" * 40

    def test_refused_when_short_reused_or_given_twice(self, tmp_path):
        key = tmp_path / "chain.key"
        key.write_text("y" * 40)
        code = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'statusadmin.settings'; "
            "django.setup()"
        )
        for env, said in (
            ({"AUDIT_CHAIN_KEY": "short"}, "at least 32 characters"),
            ({"AUDIT_CHAIN_KEY": PRODUCTION["DJANGO_SECRET_KEY"]}, "must differ from"),
            ({"AUDIT_CHAIN_KEY": "z" * 40, "AUDIT_CHAIN_KEY_FILE": str(key)}, "not both"),
            ({"AUDIT_CHAIN_KEY_FILE": str(tmp_path / "absent")}, "can't be read"),
        ):
            result = run([sys.executable, "-c", code], **env)
            assert result.returncode != 0
            assert said in result.stderr, result.stderr
            assert "z" * 40 not in result.stderr


class DockerfileTests:
    text = (ROOT / "Dockerfile").read_text()

    def test_multi_stage_slim_python_3_13(self):
        assert re.findall(r"^FROM (\S+)", self.text, re.M) == [
            "python:3.13-slim",
            "python:3.13-slim",
        ]
        assert "AS build" in self.text
        assert "COPY --from=build /venv /venv" in self.text

    def test_installs_from_the_pinned_lock(self):
        assert "RUN sh docker/install.sh /venv" in self.text
        install = (ROOT / "docker" / "install.sh").read_text()
        assert '--require-hashes -r "$here/requirements.lock"' in install

    def test_runs_unprivileged_with_a_health_check(self):
        assert re.search(r"^USER 10001$", self.text, re.M)
        assert "HEALTHCHECK" in self.text
        assert "/healthz" in self.text
        assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in self.text

    def test_lints_clean_with_hadolint(self):
        hadolint = Path(sys.executable).parent / "hadolint"
        result = subprocess.run(
            [str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_migrations_have_a_documented_entry_point(self):
        entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
        assert "python manage.py migrate --noinput" in entrypoint
        assert "MIGRATE_ON_START" in entrypoint
        assert "docker run" in (ROOT / "README.md").read_text()


def test_the_lock_pins_every_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[<>=\[; ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    lock = (ROOT / "requirements.lock").read_text().lower()
    pinned = set(re.findall(r"^([a-z0-9_.-]+)==", lock, re.M))
    assert wanted <= pinned, wanted - pinned
    assert lock.count("--hash=sha256:") >= len(pinned)


def test_every_setting_from_the_environment_is_in_the_readme():
    settings_text = (ROOT / "statusadmin" / "settings.py").read_text()
    names = set(re.findall(r'env(?:_bool|_number|_list|_secret)?\("([A-Z0-9_]+)"', settings_text))
    assert {"AUDIT_CHAIN_KEY", "AUDIT_SIGNING_KEY_FILE", "AUDIT_CHECKPOINT_URL"} <= names
    readme = (ROOT / "README.md").read_text()
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
