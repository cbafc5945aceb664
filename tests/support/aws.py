"""The environment every moto test starts from: fake credentials and region, nothing from the machine."""

from __future__ import annotations

import functools
import os

import boto3
import pytest

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# Settings of the machine that would send requests elsewhere, or sign them with other credentials.
MACHINE_SETTINGS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN")


def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no endpoint, profile, session token, config file or instance metadata."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in MACHINE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@functools.cache
def shared_session() -> boto3.session.Session:
    """One boto3 session with the fake credentials, shared by the tests' own clients.

    moto drops boto3's default session whenever a mock starts, and a new session reads every service
    model from disk again (about 0.2 s per client); this one loads each model once per test run. Only
    the tests' clients use it: the code under test builds its clients as it always does.
    """
    return boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
