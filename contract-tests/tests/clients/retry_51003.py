"""A client with a bug: it retries every failure, 51003 (no package left) included."""

import json
import sys
import time

import eop

body = json.dumps({"image": eop.image_b64()}, separators=(",", ":")).encode("utf-8")
for attempt in range(3):
    code = eop.code_of(eop.call(eop.HAT, body))
    print(f"hat: code {code}")
    if code == 0:
        sys.exit(0)
    time.sleep(0.2)
sys.exit(1)
