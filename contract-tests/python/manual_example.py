# The vendor manual's Python sample (§4.2 "Python 调用示例"), as printed, with the PDF's
# indentation repaired. Changed, and only these: the request URL, the three keys and the
# image path are read from argv (a ready file written by `mock-server --ready-file`, and an
# image), the body's field is `image` (hard-hat) instead of `imageContent`, and the script
# exits non-zero unless the answer's code is 0. Run it in Beijing local time
# (TZ=Asia/Shanghai), as the sample's time.localtime() assumes.
import hmac
import base64
import hashlib
import json
import time
import uuid
import requests
from urllib.parse import urlparse
import sys  # added: argv


def sha256(content):
    x = hashlib.sha256()
    x.update(content.encode())
    return x.hexdigest().upper()


def hmac_sha256(key, content):
    sign = hmac.new(key, content, digestmod="sha256").digest()
    ret = base64.b64encode(sign)
    return ret


# 计算签名
def get_signature(ak, sk, app_key, params):
    # 创建待签名字符串
    # 一、header 部分
    # 主要包括 3 个 header 需要作为签名内容: appkey、ctyun-eop-request-id、eop-date
    # 1. 首先通过 uuid 生成 ctyun-eop-request-id
    request_id = str(uuid.uuid1())
    # 2. 获取当前时间戳并对时间进行格式化
    now_time = time.localtime()
    eop_date = time.strftime("%Y%m%dT%H%M%SZ", now_time)
    eop_date_simple = time.strftime("%Y%m%d", now_time)
    # 3. 对 header 部分按照字母顺序进行排序并格式化
    camp_header = "appkey:{0}\nctyun-eop-request-id:{1}\neop-date:{2}\n".format(app_key, request_id, eop_date)
    # 二、query 部分
    # 对 url 的 query 部分进行排序
    parsed_url = urlparse(request_url)
    query = parsed_url.query
    query_params = sorted(query.split("&"))
    after_query = ""
    for query_param in query_params:
        if len(after_query) < 1:
            after_query += query_param
        else:
            after_query += "&" + query_param
    # 三、body 参数进行 sha256 摘要
    # sha256 body
    content_hash = sha256(json.dumps(params)).lower()
    # 完成创建待签名字符串
    pre_signature = camp_header + "\n" + after_query + "\n" + content_hash
    # 构造动态密钥
    k_time = hmac_sha256(sk.encode("utf-8"), eop_date.encode("utf-8"))
    k_ak = hmac_sha256(base64.b64decode(k_time), ak.encode("utf-8"))
    k_date = hmac_sha256(base64.b64decode(k_ak), eop_date_simple.encode("utf-8"))
    # 签名的使用
    signature = hmac_sha256(base64.b64decode(k_date), pre_signature.encode("utf-8"))
    # 将数据整合得到真正的 header 中的内容
    sign_header = "{0} Headers=appkey;ctyun-eop-request-id;eop-date Signature={1}".format(ak, signature.decode())
    # 返回 request-id eop-date 和 sign_header
    return request_id, eop_date, sign_header


# 向服务发送请求
def do_post(url, headers, params):
    response = requests.post(url, data=json.dumps(params), headers=headers)
    try:
        print(response.status_code)
        print(response.json())
    except AttributeError:
        print("请求失败")
    return response  # added: the caller checks the code


if __name__ == '__main__':
    ready = json.load(open(sys.argv[1]))  # added: where the emulator is, and its keys
    # 请求地址
    request_url = ready["url"] + "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"
    # 官网 accessKey
    ctyun_ak = ready["ak"]
    # 官网 securityKey
    ctyun_sk = ready["sk"]
    # 诸葛 AI 官网-控制台-我的应用中获取的 appKey
    ai_app_key = ready["appkey"]
    # body 内容从本地文件中获取
    # 打开图片文件
    f = open(sys.argv[2], 'rb')
    img_base64 = base64.b64encode(f.read()).decode()
    # body 内容
    params = {"image": img_base64}
    # 调用 get_signature 方法获取签名
    request_id, eop_date, sign_header = get_signature(ctyun_ak, ctyun_sk, ai_app_key, params)
    # 生成请求 header
    # 请求 header
    headers = {
        'Content-Type': 'application/json;charset=UTF-8',
        'ctyun-eop-request-id': request_id,
        'appkey': ai_app_key,
        'Eop-Authorization': sign_header,
        'eop-date': eop_date,
        'host': 'ai-global.ctapi.ctyun.cn'
    }
    print("请求头部:")
    print(headers)
    # 执行 post 请求
    response = do_post(request_url, headers, params)
    sys.exit(0 if response.json().get("code") == 0 else 1)  # added
