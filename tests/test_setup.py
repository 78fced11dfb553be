"""The set-up contract: finding Python, and settings that fail loudly in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIND_PYTHON = ROOT / "scripts" / "find-python"


def run(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, **kwargs)


class FindPythonTests:
    def test_finds_a_python_of_at_least_3_12(self):
        result = run([str(FIND_PYTHON)], env=dict(os.environ))
        assert result.returncode == 0, result.stderr
        found = result.stdout.strip()
        version = run([found, "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"], {})
        assert version.stdout.strip() == "True"

    def test_rejects_an_explicit_old_python(self, tmp_path):
        old = tmp_path / "python3"
        old.write_text("#!/bin/sh\nexit 1\n")  # behaves like a Python < 3.12 failing the check
        old.chmod(0o755)
        result = run([str(FIND_PYTHON)], env={**os.environ, "PYTHON": str(old)})
        assert result.returncode == 1
        assert "not a working Python >= 3.12" in result.stderr

    def test_says_what_to_install_when_there_is_none(self, tmp_path):
        bare = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
        result = run(["/bin/sh", str(FIND_PYTHON)], env=bare)
        assert result.returncode == 1
        assert "needs Python 3.12 or newer" in result.stderr
        assert "pyenv install 3.13" in result.stderr
        assert "apt-get install python3.13" in result.stderr

    def test_finds_a_pyenv_version_that_is_not_active(self, tmp_path):
        # A pyenv whose active version is old, with 3.12+ installed beside it, and whose shims
        # fail for the inactive version (as on this machine).
        real = sys.executable
        root = tmp_path / "pyenv"
        (root / "versions" / "3.13.9" / "bin").mkdir(parents=True)
        (root / "versions" / "3.13.9" / "bin" / "python3").symlink_to(real)
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "python3.13"
        shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
        pyenv = bin_dir / "pyenv"
        pyenv.write_text(
            "#!/bin/sh\n"
            'case "$1" in\n'
            "  versions) echo 3.11.7; echo 3.13.9 ;;\n"
            f'  prefix) echo "{root}/versions/$2" ;;\n'
            "esac\n"
        )
        pyenv.chmod(0o755)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(root)}
        result = run(["/bin/sh", str(FIND_PYTHON)], env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{root}/versions/3.13.9/bin/python3"


class ProductionSettingsTests:
    def settings_import(self, **env: str) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        return run(
            [sys.executable, "-c", "import statusadmin.settings"],
            env={**clean, "DJANGO_DEBUG": "0", **env},
            cwd=ROOT,
        )

    def test_missing_secret_key_is_a_clear_error(self):
        result = self.settings_import(DJANGO_ALLOWED_HOSTS="example.com")
        assert result.returncode != 0
        assert "DJANGO_SECRET_KEY is required" in result.stderr

    def test_missing_allowed_hosts_is_a_clear_error(self):
        result = self.settings_import(DJANGO_SECRET_KEY="x" * 50)
        assert result.returncode != 0
        assert "DJANGO_ALLOWED_HOSTS is required" in result.stderr

    def test_both_given_starts(self):
        result = self.settings_import(
            DJANGO_SECRET_KEY="x" * 50, DJANGO_ALLOWED_HOSTS="example.com"
        )
        assert result.returncode == 0, result.stderr

    @pytest.mark.parametrize("value", ["maybe", "2"])
    def test_unreadable_boolean_is_refused(self, value):
        result = self.settings_import(DJANGO_DEBUG=value)
        assert "DJANGO_DEBUG must be" in result.stderr


class VerifyProcessesTests:
    """Each verification process holds a database connection: the default stops at four."""

    def processes(self, **env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "AUDIT_VERIFY_PROCESSES"}
        script = (
            "import os; os.cpu_count = lambda: 64; import statusadmin.settings as s; "
            "print(s.AUDIT_VERIFY_PROCESSES)"
        )
        result = run([sys.executable, "-c", script], env={**clean, **env}, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def test_a_big_server_gets_four(self):
        assert self.processes() == "4"

    def test_the_setting_decides(self):
        assert self.processes(AUDIT_VERIFY_PROCESSES="8") == "8"
        assert self.processes(AUDIT_VERIFY_PROCESSES="0") == "1"
