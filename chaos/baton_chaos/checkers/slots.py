"""Which Redis Cluster slot an operation of the history touched, so that a cluster failover's
stop is measured on the requests that needed the failed primary: batond keeps each script's
keys under one hash tag (model/*_keys.hpp), the lease's or secret's name, the session's id, the
caller's rate or idempotency key, and the slot is CRC16 of the tag, as CLUSTER KEYSLOT has it.
"""

SLOT_COUNT = 16384


def key_slot(key: str) -> int:
    """CLUSTER KEYSLOT: CRC16 (XMODEM) of the key, or of its hash tag (what lies between the
    first '{' and the next '}', if not empty), modulo 16384."""
    data = key.encode()
    open_ = data.find(b"{")
    if open_ >= 0:
        close = data.find(b"}", open_ + 1)
        if close > open_ + 1:
            data = data[open_ + 1:close]
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % SLOT_COUNT


def op_tag(workload, args, result):
    """The hash tag of the keys an operation's script touched (from its invoke's arguments,
    or its result for a session's open), None if unknown."""
    args = args if isinstance(args, dict) else {}
    result = result if isinstance(result, dict) else {}
    if workload == "election":
        return "elect:" + str(args["group"]) if "group" in args else None
    if workload == "session":
        tag = args.get("id", result.get("id"))
    elif workload in ("dedup", "rate", "probe"):  # probe: DEDUP GET of a key in the slots
        tag = args.get("key")
    else:  # lease, secret, breaker: the name
        tag = args.get("name")
    return None if tag is None else str(tag)


def op_slot(workload, args, result):
    tag = op_tag(workload, args, result)
    return None if tag is None else key_slot("{" + tag + "}")


def in_ranges(slot, ranges) -> bool:
    return slot is not None and any(int(a) <= slot <= int(b) for a, b in ranges)
