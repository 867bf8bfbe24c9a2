"""Real object-store servers on loopback for tests: moto's S3 server and Azurite.

Both are started by fixtures and stopped after; tests talk to them over HTTP exactly as
stacql talks to S3 or Azure Blob in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.live_server import free_port
from tests.support.paths import REPO

S3_BUCKET = "assets"
AZURE_CONTAINER = "assets"
# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_BIN = REPO / "scripts" / "azurite" / "node_modules" / ".bin" / "azurite-blob"


@contextmanager
def moto_s3() -> Iterator[str]:
    """A moto S3 server with the bucket ``assets``; yields its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
            aws_secret_access_key="test",
        ).create_bucket(Bucket=S3_BUCKET)
        yield url
    finally:
        server.stop()


def s3_options(url: str) -> dict[str, Any]:
    """obstore options for the moto server at ``url``."""
    return {
        "aws_endpoint": url, "aws_region": "us-east-1", "aws_access_key_id": "test",
        "aws_secret_access_key": "test", "client_options": {"allow_http": True},
        "retry_config": {"max_retries": 0},
    }


@contextmanager
def azurite_blob() -> Iterator[str]:
    """An Azurite blob service (``scripts/setup.sh`` installs it) with the container
    ``assets``; yields its account endpoint URL."""
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE_BIN}: run scripts/setup.sh")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="stacql-azurite-"))
    command = [
        str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--location", str(workdir), "--silent", "--skipApiVersionCheck", "--loose",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "AZURITE_ACCOUNTS": f"{AZURITE_ACCOUNT}:{AZURITE_KEY}"},
    )
    url = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    try:
        _wait_for(url, process)
        _create_container(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:  # it waits for idle keep-alive connections
            process.kill()
            process.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("Azurite exited at startup")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"Azurite did not answer {url} within {timeout:.0f} s")


def _create_container(url: str) -> None:
    # obstore cannot create containers (an operator's job in production): the Azure SDK.
    from azure.storage.blob import BlobServiceClient

    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={url};"
    )
    with BlobServiceClient.from_connection_string(connection) as client:
        client.create_container(AZURE_CONTAINER)


def azure_options(url: str) -> dict[str, Any]:
    """obstore options for the Azurite service at ``url``."""
    return {
        "account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY,
        "endpoint": url, "client_options": {"allow_http": True},
        "retry_config": {"max_retries": 0},
    }
