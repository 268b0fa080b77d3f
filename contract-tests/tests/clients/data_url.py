"""Bug: sends the image as a data: URL instead of bare base64."""

import json

import eop

image = "data:image/jpeg;base64," + eop.image_b64()
body = json.dumps({"image": image}, separators=(",", ":")).encode("utf-8")
eop.expect_success("hat", eop.call(eop.HAT, body))
