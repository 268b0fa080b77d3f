"""A correct client: hard-hat and face-quality calls, signed as the manual says.

On a retryable failure (5000-5002, 50000, 40029, a gateway page, a dropped connection or a
timeout) it waits 2 s, or the answer's Retry-After if longer (the manual's FAQ: back off
2-5 s), and tries once more; on any other code it gives up at once and exits 1.
"""

import http.client
import json
import sys
import time

import eop

RETRYABLE = {5000, 5001, 5002, 50000, 40029}
ATTEMPTS = 2
BACK_OFF_S = 2.0
TIMEOUT_S = 10


def attempt(path, body):
    """(code or None when there was no usable answer, seconds to wait before a retry)."""
    try:
        status, headers, answer = eop.send(path, body, timeout=TIMEOUT_S)
    except (OSError, http.client.HTTPException) as e:
        print(f"transport failure: {e!r}", file=sys.stderr)
        return None, BACK_OFF_S
    retry_after = headers.get("Retry-After") if headers else None
    wait = max(BACK_OFF_S, float(retry_after)) if retry_after and retry_after.isdigit() else BACK_OFF_S
    code = eop.code_of(answer)
    if code is None:
        print(f"status {status} without a JSON answer", file=sys.stderr)
    return code, wait


def call_patiently(name, path, body):
    for n in range(ATTEMPTS):
        code, wait = attempt(path, body)
        if code == 0:
            print(f"{name}: code 0")
            return
        if code is not None and code not in RETRYABLE:
            print(f"{name}: code {code} is permanent; giving up", file=sys.stderr)
            sys.exit(1)
        if n + 1 < ATTEMPTS:
            time.sleep(wait)
    print(f"{name}: still failing after {ATTEMPTS} attempts; giving up", file=sys.stderr)
    sys.exit(1)


image = eop.image_b64()
call_patiently("hat", eop.HAT, json.dumps({"image": image}, separators=(",", ":")).encode("utf-8"))
body = json.dumps({"imageContent": image}, separators=(",", ":")).encode("utf-8")
call_patiently("face_quality", eop.FACE_QUALITY, body)
