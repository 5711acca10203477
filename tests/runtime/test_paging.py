"""runtime/paging.py: the one signed page-token format."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr

from servers.connector.tokens import PageTokens as ConnectorTokens
from servers.runtime.errors import InvalidArgument
from servers.runtime.paging import (
    INVALID_PAGE_TOKEN,
    PAGE_TOKEN_MISMATCH,
    PageTokens,
    key_from,
    page_size,
    page_tokens,
)


def test_page_size_bounds():
    assert page_size(0, default=50) == 50
    assert page_size(5000, maximum=1000) == 1000
    with pytest.raises(InvalidArgument) as err:
        page_size(-1)
    assert err.value.violations[0].field == "page_size"


def test_round_trip_binding_and_purpose():
    tokens = PageTokens(b"k" * 32)
    token = tokens.issue("models", {"a": "churn", "q": "abc"})
    assert "=" not in token
    body = tokens.open(token, "models", bound_to={"q": "abc"})
    assert (body["a"], body["q"]) == ("churn", "abc")
    assert tokens.open_optional("", "models") is None
    with pytest.raises(InvalidArgument) as err:
        tokens.open(token, "models", bound_to={"q": "other"})
    assert (err.value.reason, err.value.violations[0].field) == (PAGE_TOKEN_MISMATCH, "page_token")
    with pytest.raises(InvalidArgument) as err:
        tokens.open(token, "versions")
    assert err.value.reason == INVALID_PAGE_TOKEN


def test_tampered_foreign_and_junk_tokens_are_invalid():
    tokens = PageTokens(b"k" * 32)
    token = tokens.issue("models", {"a": "churn"})
    blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    edited = blob[:16] + json.dumps({"a": "zzz", "p": "models", "v": 1}, separators=(",", ":"), sort_keys=True).encode()
    forged = base64.urlsafe_b64encode(edited).rstrip(b"=").decode()
    unsigned = base64.urlsafe_b64encode(b'{"a":"churn"}').rstrip(b"=").decode()  # the old format
    for bad in (forged, unsigned, PageTokens(b"x" * 32).issue("models", {"a": "churn"}), "!!!", "abc", token[:-2]):
        with pytest.raises(InvalidArgument) as err:
            tokens.open(bad, "models")
        assert err.value.reason == INVALID_PAGE_TOKEN, bad


def test_keys():
    assert key_from(SecretStr("s3cret")) == b"s3cret"
    derived = key_from(None, derive_from="postgresql://db/chatdb")
    assert derived == key_from("", derive_from="postgresql://db/chatdb") != key_from(None, derive_from="postgresql://db/x")
    assert key_from(None) != key_from(None)  # random per call without anything to derive from


def test_services_on_one_database_agree(settings):
    token = page_tokens(settings).issue("registry", {"a": 1})
    assert page_tokens(settings.model_copy()).open(token, "registry")["a"] == 1


def test_connector_query_tokens_keep_their_format():
    key = b"k" * 32
    connector = ConnectorTokens(key)
    token = connector.query_token("c1", "digest", 500)
    assert PageTokens(key).open(token, "q") == {"v": 1, "p": "q", "c": "c1", "h": "digest", "o": 500}
    assert connector.read_query_token(token, "c1", "digest") == 500
