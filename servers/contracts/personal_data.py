"""Personal data detection rules, shared by the connector (which masks personal columns
for non-admin callers, connector/pii.py) and the parser (which never corrects a typed
value to a personal column's stored spelling, language/values.py).

- by_name: the category a column's name says it holds (person names; a bare `name` only
  in a table of people), e-mail, phone, address, date of birth, national id, IP address;
  city, region and country alone are not personal data, and a name ending in an id or
  a flag word (email_id, phone_verified, email_domain) is about the data, not the data.
- value_category / by_values: what a value looks like (e-mail; phone: + or separators
  and 7-15 digits, never a date or a bare digit run; street address; IPv4), and the
  category at least VALUE_SHARE of a column's non-null values share.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

VALUE_SHARE = 0.6  # of the non-null sampled values

# ------------------------------------------------------------------------- by name

_PERSON_TABLE = re.compile(
    r"(customer|user|employee|person|people|member|client|patient|student|contact|staff|author|owner|"
    r"subscriber|passenger|guest|applicant|candidate|teacher|buyer|seller|recipient|account_holder)s?$")
# (category, pattern over the normalised name "first_name")
NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("e-mail", re.compile(r"(^|_)e_?mail(_address)?($|_)")),
    ("phone", re.compile(r"(^|_)(phone|telephone|tel|mobile|cell|cellphone|fax|msisdn)(_?(number|no|num))?($|_)")),
    ("ip address", re.compile(r"(^|_)(ip|ip_?address|ipaddr|remote_addr|client_ip)($|_)")),
    ("address", re.compile(r"(^|_)(address|addr|street|street_address|address_line_?\d?|postcode|post_code|"
                           r"postal_code|zip|zip_?code|zipcode)($|_)")),
    ("date of birth", re.compile(r"(^|_)(date_of_birth|dob|birth_?date|birthday|birth_day)($|_)")),
    ("national id", re.compile(r"(^|_)(ssn|social_security(_number)?|national_id(_number)?|passport(_number|_no)?|"
                               r"tax_id|taxpayer_id|nino|driver_?s?_licen[cs]e(_number)?)($|_)")),
    ("person name", re.compile(r"(^|_)(first_?name|last_?name|middle_?name|full_?name|given_?name|family_?name|"
                               r"surname|forename|maiden_name|nick_?name|display_name|customer_name|contact_name|"
                               r"person_name|user_?name|employee_name|client_name|patient_name|contact|"
                               r"contact_person)$")),
)
# Last words that make a name about the thing rather than the thing itself.
_NOT_THE_VALUE = frozenset({
    "id", "ids", "key", "count", "counts", "type", "kind", "status", "verified", "valid", "validated",
    "confirmed", "flag", "enabled", "opt", "optin", "opted", "consent", "domain", "format", "at", "on",
    "time", "date", "length", "len", "provider", "country", "city", "region", "state",
})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalise_name(name: str) -> str:
    """"firstName" / "First Name" / "first-name" → "first_name"."""
    return re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", name).lower()).strip("_")


def by_name(table: str, column: str) -> str | None:
    """The category of personal data a column's name says it holds, or None."""
    key = normalise_name(column.rpartition(".")[2])
    if not key:
        return None
    words = key.split("_")
    if words[-1] in _NOT_THE_VALUE and not re.search(r"(national|tax|taxpayer)_id$", key) \
            and not re.search(r"(date_of_birth|birth_date)$", key):
        return None
    if key == "name" and _PERSON_TABLE.search(normalise_name(table)):
        return "person name"
    for category, pattern in NAME_RULES:
        if pattern.search(key):
            return category
    return None


# ------------------------------------------------------------------------- by value

_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^(\+\d{1,3}[\s.-]?)?(\(\d{1,4}\)[\s.-]?)?\d{1,4}([\s.-]\d{1,5}){1,5}$|^\+\d{7,15}$")
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_STREET = re.compile(
    r"^\d{1,5}[a-z]?,?\s+(\S+\s+){0,4}(street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|"
    r"way|place|pl|terrace|square|sq|highway|hwy|parkway|pkwy|close|crescent|row|alley)\b\.?"
    r"|^\S+(straße|strasse|weg|gasse|platz|allee)\s+\d{1,4}[a-z]?\b"
    r"|^(rue|avenue|boulevard|via|calle|avenida)\s.+\d",
    re.IGNORECASE)
_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$")


def value_category(value: object) -> str | None:
    """What personal data a single value looks like, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not 5 <= len(text) <= 200:
        return None
    if "@" in text:
        return "e-mail" if _EMAIL.match(text) else None
    if _IPV4.match(text):
        return "ip address"
    if text[:1] in "+(0123456789":
        digits = sum(c.isdigit() for c in text)
        if 7 <= digits <= 15 and _PHONE.match(text) and not _DATE_LIKE.match(text):
            return "phone"
    if _STREET.search(text):
        return "address"
    return None


def by_values(values: Iterable[object]) -> str | None:
    """The category most non-null values look like, when at least VALUE_SHARE do."""
    seen = 0
    counts: dict[str, int] = {}
    for v in values:
        if v is None:
            continue
        seen += 1
        category = value_category(v)
        if category:
            counts[category] = counts.get(category, 0) + 1
    if not seen or not counts:
        return None
    category, n = max(counts.items(), key=lambda kv: kv[1])
    return category if n >= VALUE_SHARE * seen else None
