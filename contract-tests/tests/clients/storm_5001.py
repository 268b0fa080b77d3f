"""A client with a bug: fall detection retried at once on 5000-5002, with no back-off."""

import json
import sys

import eop

frames = [eop.image_b64()] * 16
body = json.dumps({"images": frames}, separators=(",", ":")).encode("utf-8")
for attempt in range(4):
    code = eop.code_of(eop.call(eop.FALL, body))
    print(f"fall: code {code}")
    if code not in (5000, 5001, 5002):
        sys.exit(0 if code == 0 else 1)
sys.exit(1)
