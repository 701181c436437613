"""Signal ids: random (version 4) UUIDs in canonical text form, drawn in bulk.

The same ids as :func:`fleetprompt_host.storage.base.new_id`, for less: one read of the
system's random source for a whole batch, and the text built without a ``UUID`` object.
"""

from __future__ import annotations

import os


def new_ids(count: int) -> list[str]:
    """Return ``count`` new random UUIDs (RFC 4122 version 4) as text."""
    random = bytearray(os.urandom(16 * count))
    ids = []
    for start in range(0, 16 * count, 16):
        # The version (4) and variant (10xx) bits, as uuid.uuid4 sets them.
        random[start + 6] = (random[start + 6] & 0x0F) | 0x40
        random[start + 8] = (random[start + 8] & 0x3F) | 0x80
        h = random[start : start + 16].hex()
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def new_id() -> str:
    """Return one new random UUID (version 4) as text."""
    return new_ids(1)[0]
