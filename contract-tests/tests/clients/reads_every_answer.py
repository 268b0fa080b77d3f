"""A correct client under `contract-tests client --explore`: it reads every answer the spec
allows — successes with empty or huge lists, scores of 0 or 1, fields it does not know —
and handles each documented error (it reports it and stops, as a caller would)."""

import json
import sys

import eop


def hat(image):
    body = json.dumps({"image": image}, separators=(",", ":")).encode("utf-8")
    answer = eop.call(eop.HAT, body)
    code = eop.code_of(answer)
    if code != 0:
        print(f"hat: refused with {code}", file=sys.stderr)
        return
    detections = answer.get("result") or []
    hats = [d for d in detections if d.get("score", 0) >= 0.5]
    for d in hats:
        top, left, bottom, right = d["box"]
        assert top <= bottom and left <= right, d
    print(f"hat: {len(detections)} detection(s), {len(hats)} confident")


def face_quality(image):
    body = json.dumps({"imageContent": image}, separators=(",", ":")).encode("utf-8")
    answer = eop.call(eop.FACE_QUALITY, body)
    code = eop.code_of(answer)
    if code != 0:
        print(f"face_quality: refused with {code}", file=sys.stderr)
        return
    quality = (answer.get("result") or {}).get("face_quality")
    if quality not in ("good", "medium", "bad"):
        print(f"face_quality: unexpected quality {quality!r}", file=sys.stderr)
        sys.exit(1)
    print(f"face_quality: {quality}")


image = eop.image_b64()
hat(image)
face_quality(image)
