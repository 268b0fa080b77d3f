"""Bug: writes eop-date in UTC; the gateway reads it as Beijing time."""

import datetime
import json

import eop

body = json.dumps({"image": eop.image_b64()}, separators=(",", ":")).encode("utf-8")
eop.expect_success("hat", eop.call(eop.HAT, body, tz=datetime.timezone.utc))
