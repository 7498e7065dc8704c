"""cos-python-sdk-v5's get_bucket_meta over a bucket with every configuration set:
the SDK reads HEAD Bucket and a dozen GET sub-resources in parallel, so this checks
that each of them answers what the SDK parses (cos-bucket.md §15.2)."""

from conftest import REGION, empty_and_delete_bucket, unique_bucket_name


def test_get_bucket_meta_sees_every_configuration(client):
    b = unique_bucket_name()
    dest = unique_bucket_name()
    try:
        client.create_bucket(Bucket=b, BucketAZConfig="MAZ")
        client.create_bucket(Bucket=dest)
        empty = client.get_bucket_meta(Bucket=b)
        assert empty["MAZ"] is True and empty["OFS"] is False
        assert empty["Location"] == REGION
        for unset in ["Website", "Lifecycle", "Replication", "Encryption", "CORS", "Tagging", "ObjectLock"]:
            assert empty[unset] is None, unset
        # The v2 list answers 200 with an empty root (which the SDK's
        # xml_to_dict keeps as a key).
        assert empty["IntelligentTiering"] == {"ListBucketIntelligentTieringConfigurationsOutput": None}

        for name in (b, dest):
            client.put_bucket_versioning(Bucket=name, Status="Enabled")
        client.put_bucket_website(Bucket=b, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
        client.put_bucket_lifecycle(Bucket=b, LifecycleConfiguration={"Rule": [{
            "ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": "7"}}]})
        client.put_bucket_replication(Bucket=b, ReplicationConfiguration={
            "Role": "qcs::cam::uin/100000000001:uin/100000000001",
            "Rule": [{"ID": "all", "Status": "Enabled", "Prefix": "",
                      "Destination": {"Bucket": f"qcs::cos:{REGION}::{dest}"}}]})
        client.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
            "Rule": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        client.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRule": [{
            "ID": "app", "AllowedOrigin": ["https://app.example.com"], "AllowedMethod": ["GET"],
            "MaxAgeSeconds": 60}]})
        client.put_bucket_tagging(Bucket=b, Tagging={"TagSet": {"Tag": [{"Key": "env", "Value": "meta"}]}})
        client.put_bucket_logging(Bucket=b, BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": dest, "TargetPrefix": "logs/"}})
        client.put_bucket_intelligenttiering(Bucket=b, IntelligentTieringConfiguration={
            "Status": "Enabled", "Transition": {"Days": "30", "RequestFrequent": "1"}})

        meta = client.get_bucket_meta(Bucket=b)
        assert meta["MAZ"] is True
        assert meta["Location"] == REGION
        assert meta["Versioning"]["Status"] == "Enabled"
        assert meta["Website"]["IndexDocument"]["Suffix"] == "index.html"
        assert meta["Lifecycle"]["Rule"][0]["ID"] == "tmp"
        assert meta["Replication"]["Rule"][0]["Destination"]["Bucket"] == f"qcs::cos:{REGION}::{dest}"
        assert meta["Encryption"]["Rule"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert meta["CORS"]["CORSRule"][0]["AllowedOrigin"] == ["https://app.example.com"]
        assert meta["Tagging"]["TagSet"]["Tag"][0] == {"Key": "env", "Value": "meta"}
        assert meta["Logging"]["LoggingEnabled"]["TargetBucket"] == dest
        # The v1 rule is listed as the v2 configuration `default`.
        tiering = meta["IntelligentTiering"]["IntelligentTieringConfiguration"]
        assert tiering["Id"] == "default" and tiering["Status"] == "Enabled", tiering
        assert meta["ACL"]["Owner"]["ID"]
    finally:
        for name in (b, dest):
            try:
                client.put_bucket_logging(Bucket=name, BucketLoggingStatus={})
                client.delete_bucket_replication(Bucket=name)
            except Exception:
                pass
            empty_and_delete_bucket(client, name)
