"""Documents kept in the documents bucket (receipts, notices): made once under a deterministic key,
then served from there through a presigned GET that expires after a few minutes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from propdesk import aws
from propdesk.settings import get_settings

logger = Logger(child=True)

LINK_SECONDS = 300


def stored_pdf_link(
    key: str,
    make: Callable[[], bytes],
    *,
    filename: str,
    s3: Any = None,
    bucket: str | None = None,
    expires_in: int = LINK_SECONDS,
) -> str:
    """A short-lived link to the PDF at ``key``, made by ``make`` and stored first if it is not there."""
    s3 = s3 or aws.s3_client()
    bucket = bucket or get_settings().documents_bucket
    if not bucket:
        raise RuntimeError("documents_bucket is not configured for this function")
    # Listing the key's prefix, not HeadObject: the function may list its prefix, and S3 answers a
    # HeadObject on a missing key with 403 (not 404) to a caller without bucket-wide listing.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item.get("Key") == key for item in listed):
        s3.put_object(
            Bucket=bucket, Key=key, Body=make(), ContentType="application/pdf", ServerSideEncryption="AES256"
        )
        logger.info("document stored", key=key)
    return s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": "application/pdf",
            "ResponseContentDisposition": f'inline; filename="{filename}"',
        },
        ExpiresIn=expires_in,
    )
