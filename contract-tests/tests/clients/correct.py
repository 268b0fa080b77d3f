"""A correct client: hard-hat and face-quality calls, signed as the manual says."""

import json

import eop

image = eop.image_b64()
body = json.dumps({"image": image}, separators=(",", ":")).encode("utf-8")
eop.expect_success("hat", eop.call(eop.HAT, body))
body = json.dumps({"imageContent": image}, separators=(",", ":")).encode("utf-8")
eop.expect_success("face_quality", eop.call(eop.FACE_QUALITY, body))
