"""Reading the fields of history events and of the run's config, for every checker. A
history is written by a harness under fire: a field of the wrong type is read as missing (None,
or an empty dict), never raised on.
"""

import math

INF = math.inf


def number(x):
    """x as a float, or None: booleans and text are not times."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
        return None
    return float(x)


def integer(x):
    """x as an int (tokens, terms, versions may arrive as digit strings), or None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, str) and x.strip().lstrip("-").isdigit():
        return int(x.strip())
    return None


def label(x):
    """x if it can name something (a process, node, value id), else its text: a dict or a
    list where a name belongs must not break grouping by name."""
    return x if x is None or isinstance(x, (str, int, float)) else repr(x)


def value_of(event):
    """The event's value as a dict; anything else (null, a bare string) as an empty one."""
    value = event.get("value") if isinstance(event, dict) else None
    return value if isinstance(value, dict) else {}


def fmt_t(t):
    """A time for people: seconds since the run started, 3 decimals."""
    t = number(t)
    if t is None:
        return "?"
    return "never" if math.isinf(t) else f"{t:.3f}s"


def section(config, key):
    """config[key] as a dict, whatever config is."""
    part = config.get(key) if isinstance(config, dict) else None
    return part if isinstance(part, dict) else {}
