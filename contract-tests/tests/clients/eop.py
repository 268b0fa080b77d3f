"""A small EOP client (standard library only) for the test clients in this directory.

Reads MOCK_URL, MOCK_AK, MOCK_SK and MOCK_APPKEY (set by `contract-tests client`), signs the
way the manual's section 4.2 does, and lets each test client get one thing wrong.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request
import uuid

HAT = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"
FALL = "/v1/aiop/api/2gm0y369n30g/action/falldown/images"
FACE_QUALITY = "/v1/aiop/api/2gkds6yod62o/face-fas-action/person/quality_detect_from_base64"
BEIJING = datetime.timezone(datetime.timedelta(hours=8))
IMAGE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "images", "scene-96x64.jpg")


def image_b64():
    with open(IMAGE, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def eop_date(tz=BEIJING):
    """Beijing time with a literal Z, e.g. 20261125T204012Z (the manual's format)."""
    return datetime.datetime.now(tz).strftime("%Y%m%dT%H%M%SZ")


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def authorization(ak, sk, date, headers, body):
    """Eop-Authorization for `headers` (name, value) pairs, signed in sorted order."""
    signed = sorted(headers, key=lambda h: h[0])
    names = ";".join(name for name, _ in signed)
    canonical = "".join(f"{name}:{value}\n" for name, value in signed)
    string_to_sign = f"{canonical}\n\n{hashlib.sha256(body).hexdigest()}"
    k_time = _hmac(sk.encode("utf-8"), date)
    k_ak = _hmac(k_time, ak)
    k_date = _hmac(k_ak, date[:8])
    signature = base64.b64encode(_hmac(k_date, string_to_sign)).decode("ascii")
    return f"{ak} Headers={names} Signature={signature}"


def send(path, body, signed_body=None, tz=BEIJING, timeout=30):
    """POSTs `body` (bytes) to `path`; signs `signed_body` instead when given (a bug).

    Returns (HTTP status, headers, JSON answer or None when the body is not JSON); a
    connection that fails or times out raises OSError or http.client.HTTPException.
    """
    ak, sk, appkey = os.environ["MOCK_AK"], os.environ["MOCK_SK"], os.environ["MOCK_APPKEY"]
    date, request_id = eop_date(tz), str(uuid.uuid4())
    headers = [("appkey", appkey), ("ctyun-eop-request-id", request_id), ("eop-date", date)]
    auth = authorization(ak, sk, date, headers, body if signed_body is None else signed_body)
    request = urllib.request.Request(os.environ["MOCK_URL"] + path, data=body, method="POST")
    for name, value in headers:
        request.add_header(name, value)
    request.add_header("Content-Type", "application/json;charset=UTF-8")
    request.add_header("Eop-Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, _json(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, _json(e.read())


def _json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def call(path, body, signed_body=None, tz=BEIJING):
    """POSTs `body` (bytes) to `path` and returns the JSON answer."""
    return send(path, body, signed_body, tz)[2]


def code_of(answer):
    """The code of an answer: `code` of a capability, `statusCode` of the gateway."""
    if not isinstance(answer, dict):
        return None
    code = answer.get("code", answer.get("statusCode"))
    return int(code) if code is not None else None


def expect_success(name, answer):
    """Exits 1, as a failing test would, unless the answer is code 0."""
    code = code_of(answer)
    print(f"{name}: code {code}")
    if code != 0:
        print(f"{name}: unexpected answer {answer}", file=sys.stderr)
        sys.exit(1)
