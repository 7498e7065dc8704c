"""Helpers for the S3 real-client tests (boto3, AWS CLI) against a running localcos.

AWS_* variables of the machine (AWS_CA_BUNDLE, AWS_PROFILE, AWS_ENDPOINT_URL, ...)
never reach these clients (NOTES 21): boto3 sessions get explicit credentials,
region, endpoint and empty config/credential files; the AWS CLI runs with an
environment built for that one subprocess (``aws_env``).
"""

import os
import secrets
import sys
from pathlib import Path

import boto3
import botocore.session
from botocore.config import Config

from conftest import SECRET_ID, SECRET_KEY, clean_env

S3_REGION = "us-east-1"
AWS_BIN = Path(sys.executable).parent / "aws"


def s3_session() -> boto3.session.Session:
    """A boto3 session that reads nothing from the machine's AWS configuration."""
    core = botocore.session.Session()
    core.set_config_variable("config_file", os.devnull)
    core.set_config_variable("credentials_file", os.devnull)
    core.set_config_variable("profile", None)
    core.set_config_variable("ca_bundle", None)
    return boto3.session.Session(
        aws_access_key_id=SECRET_ID,
        aws_secret_access_key=SECRET_KEY,
        region_name=S3_REGION,
        botocore_session=core,
    )


def s3_client(server, addressing="path", endpoint=None, proxies=None, **config):
    """boto3 S3 client on localcos with default checksum settings.

    Path style talks to ``http://127.0.0.1:PORT``. Virtual-hosted style needs a
    host name: ``endpoint`` is a real S3-style name (``http://s3.amazonaws.com``)
    and ``proxies`` sends every request to localcos as an HTTP proxy, which
    serves the absolute-form request by its authority (the Host is signed).
    """
    cfg = Config(
        s3={"addressing_style": addressing},
        retries={"max_attempts": 1, "mode": "standard"},
        proxies=proxies,
        **config,
    )
    return s3_session().client("s3", endpoint_url=endpoint or server.url, config=cfg)


def new_s3_bucket_name(prefix="s3") -> str:
    """A bucket name as S3 tools make them: no APPID suffix."""
    return f"{prefix}-{secrets.token_hex(6)}"


def empty_and_delete_s3_bucket(s3, bucket):
    try:
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
    except Exception as e:  # cleanup is best effort; the test result stands
        print(f"cleanup of bucket {bucket} failed: {e}", file=sys.stderr)


def aws_env(**extra) -> dict:
    """The AWS CLI's environment: no inherited AWS_* or proxy variables."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=SECRET_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=S3_REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_PAGER="",
    )
    env.update(extra)
    return env
