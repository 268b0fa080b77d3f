# Schemathesis hook: signs every request it sends to the emulator the EOP way (DIGEST §1),
# over the exact bytes sent. Credentials come from the ready file `mock-server
# --ready-file` writes, named by MOCK_READY_FILE. Loaded through SCHEMATHESIS_HOOKS
# with contract-tests/python on PYTHONPATH (see .ci/run and docs/openapi.md).
import base64
import datetime
import hashlib
import hmac
import json
import os
import uuid
from urllib.parse import quote, urlsplit, parse_qsl

import requests
import schemathesis

BEIJING = datetime.timezone(datetime.timedelta(hours=8))


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _canonical_query(url: str) -> str:
    pairs = sorted(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


class EopSignature(requests.auth.AuthBase):
    """Sets ctyun-eop-request-id, eop-date, appkey and Eop-Authorization on a prepared request."""

    def __init__(self, ak: str, sk: str, appkey: str):
        self.ak, self.sk, self.appkey = ak, sk, appkey

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        eop_date = datetime.datetime.now(BEIJING).strftime("%Y%m%dT%H%M%SZ")
        headers = {"appkey": self.appkey, "ctyun-eop-request-id": str(uuid.uuid4()), "eop-date": eop_date}
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        signed = "".join(f"{name}:{headers[name]}\n" for name in sorted(headers))
        string_to_sign = f"{signed}\n{_canonical_query(request.url)}\n{hashlib.sha256(body).hexdigest()}"
        key = _hmac(_hmac(_hmac(self.sk.encode(), eop_date), self.ak), eop_date[:8])
        signature = base64.b64encode(_hmac(key, string_to_sign)).decode()
        for name, value in headers.items():
            request.headers[name] = value
        request.headers["Eop-Authorization"] = f"{self.ak} Headers={';'.join(sorted(headers))} Signature={signature}"
        return request


def _signature() -> EopSignature:
    path = os.environ.get("MOCK_READY_FILE")
    if not path:
        raise SystemExit("set MOCK_READY_FILE to the file mock-server --ready-file wrote")
    with open(path, encoding="utf-8") as f:
        ready = json.load(f)
    return EopSignature(ready["ak"], ready["sk"], ready["appkey"])


SIGNATURE = _signature()


@schemathesis.hook
def before_call(context, case, kwargs):
    # requests calls the auth object with the prepared request, whose body is final.
    kwargs["auth"] = SIGNATURE
