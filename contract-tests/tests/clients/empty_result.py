"""A client with a bug: it takes the first detection of a hard-hat answer without checking
that there is one, so an empty `result` crashes it. Errors it handles: it prints them.
`contract-tests client --explore` finds the bug and shrinks the answer to `"result": []`."""

import json
import sys

import eop

body = json.dumps({"image": eop.image_b64()}, separators=(",", ":")).encode("utf-8")
answer = eop.call(eop.HAT, body)
code = eop.code_of(answer)
if code != 0:
    print(f"hat: refused with {code}; not retrying", file=sys.stderr)
    sys.exit(0)
best = answer["result"][0]
print(f"hat: first detection {best['classname']} at {best['box']} ({best['score']})")
