"""Loading the plugin (and the services' modules) imports none of the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("dvc", "mlflow", "sklearn", "pandas", "boto3", "botocore", "moto")


def test_the_plugin_and_the_services_modules_load_without_heavy_imports() -> None:
    code = (
        "import sys, json\n"
        "import pytest_mlchaos.plugin, pytest_mlchaos.services.proxy, pytest_mlchaos.services.lifecycle\n"
        "import pytest_mlchaos.services.s3, pytest_mlchaos.services.tracking, pytest_mlchaos.incidents.service\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_a_run_without_services_does_not_load_their_modules() -> None:
    """``pytest --help`` and every run configure the plugin: the services' code (http.client, threads, sockets)
    loads only when the ini key or the marker asks for a service."""
    code = (
        "import sys, pytest\n"
        "pytest.main(['--help'])\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('pytest_mlchaos.services') or m == 'http.client'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "LOADED []"
