"""Artifact names, digests, tags, metadata keys and storage classes: the rules, checked once."""

from __future__ import annotations

import re

from pit.common.errors import InvalidInputError

NAME_RULE = (
    "an artifact name is 1 to 255 characters from a-z 0-9 . _ / -, starting with a letter "
    "or digit, with no empty, '.' or '..' segments"
)
_NAME = re.compile(r"[a-z0-9][a-z0-9._/-]{0,254}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

DIGEST_RULE = "a digest is sha256: followed by 64 lowercase hex digits"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")
TAG_RULE = "a tag is 1 to 64 characters from A-Z a-z 0-9 . _ : + -, starting with a letter or digit"

_META_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
META_KEY_RULE = "a metadata key is 1 to 64 characters from A-Z a-z 0-9 _ . -"

_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
MEDIA_TYPE_RULE = "a media type is type/subtype in lowercase, such as text/plain"

_STORAGE_CLASS = re.compile(r"[A-Z][A-Z_]{0,31}")
STORAGE_CLASS_RULE = "a storage class is 1 to 32 of A-Z and _, such as STANDARD or GLACIER_IR"


def check_artifact_name(value: object, field: str = "name") -> str:
    """`value` if it is a valid artifact name; else an `InvalidInputError` saying why."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError.for_field(field, value, NAME_RULE)
    if _CONTROL.search(value):
        raise InvalidInputError.for_field(field, value, "must not contain control characters")
    if value.startswith("/"):
        raise InvalidInputError.for_field(field, value, "must not start with '/'")
    segments = value.split("/")
    if ".." in segments:
        raise InvalidInputError.for_field(field, value, "must not contain a '..' segment")
    if "" in segments or "." in segments:
        raise InvalidInputError.for_field(field, value, "must not contain empty or '.' segments")
    if _NAME.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, NAME_RULE)
    return value


def check_digest(value: object, field: str = "digest") -> str:
    if not isinstance(value, str) or _DIGEST.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, DIGEST_RULE)
    return value


def check_tag(value: object, field: str = "tag") -> str:
    if not isinstance(value, str) or _TAG.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, TAG_RULE)
    return value


def check_meta_key(value: object, field: str = "metadata") -> str:
    if not isinstance(value, str) or _META_KEY.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, META_KEY_RULE)
    return value


def check_media_type(value: object, field: str = "media_type") -> str:
    if not isinstance(value, str) or _MEDIA_TYPE.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, MEDIA_TYPE_RULE)
    return value


def check_storage_class(value: object, field: str = "storage_class") -> str:
    if not isinstance(value, str) or _STORAGE_CLASS.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, STORAGE_CLASS_RULE)
    return value


def check_version(value: object, field: str = "version") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError.for_field(field, value, "a version is a whole number >= 1")
    return value
