"""localcos quickstart with the official Tencent COS Python SDK.

    pip install cos-python-sdk-v5
    LOCALCOS_SECRET_ID=AKIDLOCALCOSEXAMPLE LOCALCOS_SECRET_KEY=localcos-example-secret-key \
        localcos serve --ephemeral --listen 127.0.0.1:9000 &
    python examples/quickstart.py

Endpoint and credentials come from LOCALCOS_ENDPOINT, LOCALCOS_SECRET_ID and
LOCALCOS_SECRET_KEY (the same variables the server reads); the bucket from
LOCALCOS_BUCKET.
"""
import os

from qcloud_cos import CosConfig, CosS3Client, CosServiceError

endpoint = os.environ.get("LOCALCOS_ENDPOINT", "127.0.0.1:9000")
host, _, port = endpoint.partition(":")
bucket = os.environ.get("LOCALCOS_BUCKET", "quickstart-1250000000")  # <name>-<APPID>

# IP/Port send every request to localcos; the SDK still names the bucket in the
# Host header (<bucket>.cos.ap-guangzhou.myqcloud.com), which localcos reads.
config = CosConfig(
    Region="ap-guangzhou",
    IP=host,
    Port=int(port or 80),
    Scheme="http",
    SecretId=os.environ.get("LOCALCOS_SECRET_ID", "AKIDLOCALCOSEXAMPLE"),
    SecretKey=os.environ.get("LOCALCOS_SECRET_KEY", "localcos-example-secret-key"),
)
client = CosS3Client(config)

try:
    client.create_bucket(Bucket=bucket)
    print(f"created bucket {bucket}")
except CosServiceError as e:
    if e.get_error_code() != "BucketAlreadyOwnedByYou":
        raise
    print(f"bucket {bucket} already exists")

resp = client.put_object(Bucket=bucket, Key="hello.txt", Body=b"Hello, localcos!")
print(f"put hello.txt etag={resp['ETag']}")

body = client.get_object(Bucket=bucket, Key="hello.txt")["Body"].get_raw_stream().read()
print(f"got hello.txt: {body.decode()}")

for obj in client.list_objects(Bucket=bucket).get("Contents", []):
    print(f"listed {obj['Key']} ({obj['Size']} bytes)")
