"""A hard-hat client tested against the emulator that run.sh started: the server's url
and credentials come from the ready file named by MOCK_READY_FILE."""
import base64, hashlib, hmac, json, os, time, urllib.error, urllib.request, uuid

import pytest

HAT = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"
# A 1x1 PNG: enough for the emulator to answer.
IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.fixture(scope="session")
def server():
    """{"url", "ak", "sk", "appkey"} of the running emulator."""
    with open(os.environ["MOCK_READY_FILE"]) as ready:
        return json.load(ready)


def sign(body, ak, sk, appkey):
    """The headers that sign a POST of `body` (bytes)."""
    request_id = str(uuid.uuid4())
    eop_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 8 * 3600))  # Beijing time
    to_sign = (f"appkey:{appkey}\nctyun-eop-request-id:{request_id}\neop-date:{eop_date}\n"
               f"\n\n{hashlib.sha256(body).hexdigest()}")
    mac = lambda key, msg: hmac.new(key, msg.encode(), hashlib.sha256).digest()
    kdate = mac(mac(mac(sk.encode(), eop_date), ak), eop_date[:8])
    signature = base64.b64encode(mac(kdate, to_sign)).decode()
    return {
        "Content-Type": "application/json",
        "ctyun-eop-request-id": request_id,
        "eop-date": eop_date,
        "appkey": appkey,
        "Eop-Authorization": f"{ak} Headers=appkey;ctyun-eop-request-id;eop-date Signature={signature}",
    }


def detect(server, sk=None):
    """Calls hard-hat; returns (status, x-mock-reason, answer)."""
    body = json.dumps({"image": IMAGE}).encode()
    headers = sign(body, server["ak"], sk or server["sk"], server["appkey"])
    request = urllib.request.Request(server["url"] + HAT, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("x-mock-reason"), json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers.get("x-mock-reason"), json.load(refused)


def test_a_signed_call_is_answered(server):
    status, _, answer = detect(server)
    assert (status, answer["code"], answer["message"]) == (200, 0, "success")
    assert isinstance(answer["result"], list)


def test_a_wrong_secret_is_refused_and_the_emulator_says_why(server):
    status, reason, answer = detect(server, sk="not-the-secret")
    assert (status, answer["code"]) == (401, "10020")
    assert "signature" in reason
