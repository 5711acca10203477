"""The one resource-name rule of ChatDB: model names, aliases, connection ids.

A lowercase letter, then lowercase letters, digits and hyphens: at most 63 characters
(a DNS label's length, so a name fits a host name, a Kubernetes object or a metric
label unchanged).
"""

from __future__ import annotations

import re

NAME_RULE = "a lowercase letter, then up to 62 lowercase letters, digits or hyphens"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def is_name(value: object) -> bool:
    """True when `value` is a string following the name rule."""
    return isinstance(value, str) and NAME.match(value) is not None
