# Calls hard-hat on the emulator through the vendor's official Python SDK core
# (`ctyun-python-sdk-core` on PyPI), using its own CtyunClient.request to sign and send.
# The SDK signs only ctyun-eop-request-id and eop-date, takes eop-date from the local clock
# (datetime.now(), so run it with TZ=Asia/Shanghai), hashes json.dumps(body) and sends the
# body with requests' json=, which serialises it the same way. `appkey` goes as an extra,
# unsigned header. argv: a ready file written by `mock-server --ready-file`, and an image.
import base64
import json
import sys

from ctyun_python_sdk_core import CtyunClient, Credential

ready = json.load(open(sys.argv[1]))
image = base64.urlsafe_b64encode(open(sys.argv[2], "rb").read()).decode()
client = CtyunClient(verify_tls=False)
response = client.request(
    url=ready["url"] + "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect",
    method="POST",
    headers={"appkey": ready["appkey"]},
    body={"image": image},
    credential=Credential(ready["ak"], ready["sk"]),
)
print(response.status_code, response.text)
sys.exit(0 if response.json().get("code") == 0 else 1)
