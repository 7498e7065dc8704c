"""Example app for docker-compose.yml: put an object into localcos and read it back with the
official COS Python SDK (cos-python-sdk-v5), exactly as against Tencent COS.

IP/Port mode connects to LOCALCOS_HOST:LOCALCOS_PORT but sends the virtual-hosted Host header
(<bucket>.cos.<region>.myqcloud.com), which localcos resolves to the bucket.
"""

import os
import sys

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError


def main() -> int:
    config = CosConfig(
        Region=os.environ.get("COS_REGION", "ap-guangzhou"),
        SecretId=os.environ["LOCALCOS_SECRET_ID"],
        SecretKey=os.environ["LOCALCOS_SECRET_KEY"],
        IP=os.environ.get("LOCALCOS_HOST", "localcos"),
        Port=int(os.environ.get("LOCALCOS_PORT", "9000")),
        Scheme="http",
    )
    client = CosS3Client(config)
    bucket = os.environ.get("COS_BUCKET", "example-1250000000")

    # localcos creates the bucket from `--bucket`; create it here too if it was started without.
    try:
        client.head_bucket(Bucket=bucket)
    except CosServiceError as e:
        if e.get_status_code() != 404:
            raise
        client.create_bucket(Bucket=bucket)

    body = b"hello from the localcos example app\n"
    put = client.put_object(Bucket=bucket, Key="example/hello.txt", Body=body)
    got = client.get_object(Bucket=bucket, Key="example/hello.txt")["Body"].get_raw_stream().read()
    if got != body:
        print(f"mismatch: put {body!r}, got {got!r}", file=sys.stderr)
        return 1
    print(f"ok: put and read back {len(got)} bytes from {bucket}/example/hello.txt (ETag {put['ETag']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
