"""A client with a bug: a throttled hard-hat call (40029) retried after 1 s, whatever its
Retry-After says."""

import json
import sys
import time

import eop

body = json.dumps({"image": eop.image_b64()}, separators=(",", ":")).encode("utf-8")
for attempt in range(2):
    code = eop.code_of(eop.call(eop.HAT, body))
    print(f"hat: code {code}")
    if code != 40029:
        sys.exit(0 if code == 0 else 1)
    time.sleep(1.0)
sys.exit(1)
