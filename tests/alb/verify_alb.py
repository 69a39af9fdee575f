"""The ALB documentation's Python example for x-amzn-oidc-data, run on each token.

Reads {"base", "signer", "client", "tokens": {name: token}} as JSON on stdin and
prints {name: {"ok": payload} | {"refused": "Error: message"}}. Steps 1 to 4
are the documentation's (base64.b64decode of the header, the signer compared,
the key fetched as PEM from {base}/{kid} with requests, jwt.decode with ES256);
only the key URL base is the sidecar's instead of
https://public-keys.auth.elb.REGION.amazonaws.com. Step 1b, the `client` check,
is not in the documentation's example: an app compares its client id the same
way it compares the signer.
"""

import base64
import json
import sys

import jwt
import requests


def verify(encoded_jwt, base, expected_alb_arn, expected_client):
    # Step 1: Validate the signer
    jwt_headers = encoded_jwt.split('.')[0]
    decoded_jwt_headers = base64.b64decode(jwt_headers)
    decoded_jwt_headers = decoded_jwt_headers.decode("utf-8")
    decoded_json = json.loads(decoded_jwt_headers)
    received_alb_arn = decoded_json['signer']

    assert expected_alb_arn == received_alb_arn, "Invalid Signer"
    # Step 1b (the app's own): the client id
    assert expected_client == decoded_json['client'], "Invalid Client"

    # Step 2: Get the key id from JWT headers (the kid field)
    kid = decoded_json['kid']

    # Step 3: Get the public key from the key endpoint
    url = base + '/' + kid
    req = requests.get(url, timeout=5)
    req.raise_for_status()
    pub_key = req.text

    # Step 4: Get the payload
    payload = jwt.decode(encoded_jwt, pub_key, algorithms=['ES256'])
    return payload


def main():
    job = json.load(sys.stdin)
    results = {}
    for name, token in job["tokens"].items():
        try:
            payload = verify(token, job["base"], job["signer"], job["client"])
            results[name] = {"ok": payload}
        except Exception as error:  # every refusal is reported, none is fatal
            results[name] = {"refused": f"{type(error).__name__}: {error}"}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
