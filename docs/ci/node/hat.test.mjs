// A hard-hat client tested against the emulator that run.sh started: the server's url
// and credentials come from the ready file named by MOCK_READY_FILE. Node 18 or newer:
// node:test, fetch and node:crypto, no npm packages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

const HAT = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";
// A 1x1 PNG: enough for the emulator to answer.
const IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const server = JSON.parse(readFileSync(process.env.MOCK_READY_FILE, "utf8")); // {url, ak, sk, appkey}

const mac = (key, text) => createHmac("sha256", key).update(text).digest();

// Beijing time (UTC+8) as yyyymmddTHHMMSSZ, with a literal Z.
function eopDate() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// The headers that sign a POST of `body` (a string, sent exactly as signed).
function sign(body, { ak, sk, appkey }) {
  const requestId = randomUUID();
  const date = eopDate();
  const hash = createHash("sha256").update(body).digest("hex");
  const toSign = `appkey:${appkey}\nctyun-eop-request-id:${requestId}\neop-date:${date}\n\n\n${hash}`;
  const kdate = mac(mac(mac(sk, date), ak), date.slice(0, 8));
  const signature = mac(kdate, toSign).toString("base64");
  return {
    "Content-Type": "application/json",
    "ctyun-eop-request-id": requestId,
    "eop-date": date,
    appkey,
    "Eop-Authorization": `${ak} Headers=appkey;ctyun-eop-request-id;eop-date Signature=${signature}`,
  };
}

async function detect(credentials) {
  const body = JSON.stringify({ image: IMAGE });
  const response = await fetch(server.url + HAT, { method: "POST", body, headers: sign(body, credentials) });
  return { status: response.status, reason: response.headers.get("x-mock-reason"), answer: await response.json() };
}

test("a signed call is answered", async () => {
  const { status, answer } = await detect(server);
  assert.equal(status, 200);
  assert.equal(answer.code, 0);
  assert.ok(Array.isArray(answer.result));
});

test("a wrong secret is refused and the emulator says why", async () => {
  const { status, reason, answer } = await detect({ ...server, sk: "not-the-secret" });
  assert.equal(status, 401);
  assert.equal(answer.code, "10020");
  assert.match(reason, /signature/);
});
