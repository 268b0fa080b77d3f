"""Bug: hashes the body as json.dumps writes it by default, then sends a compact copy."""

import json

import eop

payload = {"image": eop.image_b64()}
signed = json.dumps(payload).encode("utf-8")
sent = json.dumps(payload, separators=(",", ":")).encode("utf-8")
eop.expect_success("hat", eop.call(eop.HAT, sent, signed_body=signed))
