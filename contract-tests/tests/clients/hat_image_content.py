"""Bug: sends face quality's key, imageContent, to hard-hat, which takes `image`."""

import json

import eop

body = json.dumps({"imageContent": eop.image_b64()}, separators=(",", ":")).encode("utf-8")
eop.expect_success("hat", eop.call(eop.HAT, body))
