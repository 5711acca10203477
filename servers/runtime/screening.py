"""What every request goes through before a servicer sees it, and the last line of
defence after: malformed input is INVALID_ARGUMENT, never INTERNAL or UNKNOWN.

- `screening_deserializer` wraps a handler's request deserializer. Bytes that do not
  parse as the request type (bad wire format, invalid UTF-8 in a string field, messages
  nested deeper than protobuf's recursion limit — a deeply nested Struct) and, where
  the service asks for it, string fields holding U+0000 come out as a `Refused`
  carrying an InvalidArgument instead of raising inside grpc (which would answer
  UNKNOWN naming a Python class). The interceptor raises that error inside the call,
  so it is logged and mapped like any other domain error, streams included.
- No ChatDB identifier, name, filter, path, statement or JSON value has a use for
  U+0000, and PostgreSQL text cannot hold it (asyncpg fails with
  CharacterNotInRepertoireError, os paths with "embedded null byte"), so one rule here
  replaces a check in every field of every service. The walk covers nested messages,
  maps and Struct values; the prediction service opts out (ServiceBinding
  `screen_strings=False`) because its hot path must not walk records per request, and
  nothing it gets reaches a database or a path.
- `input_error` is the safety net for a check that is missing somewhere: the driver and
  library exceptions that can only mean bad caller input become InvalidArgument (and
  are logged, so the missing check gets added where it belongs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from .errors import FieldViolation, InvalidArgument

MAX_NUL_VIOLATIONS = 10
_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


class Refused:
    """Stands in for a request that was refused while it was deserialized."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidArgument) -> None:
        self.error = error


def _decode_problem(exc: BaseException) -> str:
    text = str(exc)
    if "MaxDepth" in text or "recursion" in text.lower() or isinstance(exc, RecursionError):
        return "messages (or Struct values) are nested more deeply than protobuf allows"
    if "UTF-8" in text or "utf-8" in text:
        return "a string field is not valid UTF-8"
    return "the bytes are not valid protobuf wire format"


def screening_deserializer(
    deserializer: Callable[[bytes], Any], *, screen_strings: bool
) -> Callable[[bytes], Any]:
    message_class = getattr(deserializer, "__self__", None)
    type_name = getattr(getattr(message_class, "DESCRIPTOR", None), "full_name", "the request type")

    def deserialize(data: bytes) -> Any:
        try:
            request = deserializer(data)
        except (DecodeError, RecursionError, ValueError) as exc:
            return Refused(
                InvalidArgument(
                    f"request could not be decoded as {type_name}: {_decode_problem(exc)}",
                    reason="MALFORMED_REQUEST",
                )
            )
        if screen_strings and isinstance(request, Message):
            violations = nul_violations(request)
            if violations:
                return Refused(InvalidArgument.from_violations(violations))
        return request

    return deserialize


def nul_violations(message: Message, limit: int = MAX_NUL_VIOLATIONS) -> list[FieldViolation]:
    """A violation for each string (map keys included) holding U+0000, at most `limit`."""
    found: list[FieldViolation] = []
    _walk(message, "", found, limit)
    return found


def _nul(path: str, found: list[FieldViolation]) -> None:
    found.append(FieldViolation(path, "must not contain NUL characters (U+0000)"))


def _walk(message: Message, prefix: str, found: list[FieldViolation], limit: int) -> None:
    for field, value in message.ListFields():
        if len(found) >= limit:
            return
        path = prefix + field.name
        if field.type == _STRING:
            if field.is_repeated:
                for i, item in enumerate(value):
                    if "\x00" in item:
                        _nul(f"{path}[{i}]", found)
            elif "\x00" in value:
                _nul(path, found)
        elif field.type == _MESSAGE:
            if field.message_type.GetOptions().map_entry:
                key_field = field.message_type.fields_by_name["key"]
                value_field = field.message_type.fields_by_name["value"]
                for key, item in value.items():
                    if len(found) >= limit:
                        return
                    where = f"{path}[{key!r}]" if key_field.type == _STRING else f"{path}[{key}]"
                    if key_field.type == _STRING and "\x00" in key:
                        _nul(f"{path} (a key)", found)
                        continue
                    if value_field.type == _MESSAGE:
                        _walk(item, where + ".", found, limit)
                    elif value_field.type == _STRING and "\x00" in item:
                        _nul(where, found)
            elif field.is_repeated:
                for i, item in enumerate(value):
                    _walk(item, f"{path}[{i}].", found, limit)
            else:
                _walk(value, path + ".", found, limit)


def input_error(exc: BaseException) -> InvalidArgument | None:
    """The InvalidArgument an unexpected exception stands for when it can only have been
    caused by what the caller sent; None for everything else (those stay INTERNAL)."""
    if isinstance(exc, ValueError) and ("null byte" in str(exc) or "null character" in str(exc)):
        return InvalidArgument("the request contains a NUL character (U+0000) where none is allowed")
    if isinstance(exc, RecursionError | DecodeError):
        return InvalidArgument("the request is nested too deeply to be processed")
    try:
        from asyncpg import exceptions as pg  # every service that can raise these has asyncpg
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, pg.CharacterNotInRepertoireError | pg.UntranslatableCharacterError):
        return InvalidArgument("the request contains characters the database cannot store (such as U+0000)")
    return None
