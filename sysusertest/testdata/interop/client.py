"""A Python client of SuperOffice's PartnerSystemUserService, written the way
a partner would write one: zeep driven by the WSDL, the system user token
signed with the cryptography package, the returned JWT verified with PyJWT
against the login service's JWKS.

Run by sysusertest's interop test; settings come from the environment:

  LOGIN_URL          login service base URL, e.g. https://sod.superoffice.com/login
  APP_TOKEN          the application token (client secret)
  KEY_FILE           the application's RSA private key, PEM (PKCS#1 or PKCS#8)
  SYSTEM_USER_TOKEN  the tenant's system user token
  TENANT             the context identifier, e.g. Cust12345
  WSDL               path or URL of PartnerSystemUserService's WSDL
  ENDPOINT           optional: the SOAP address to call instead of the WSDL's
                     soap:address

Prints {"ticket": ..., "ctx": ..., "webapi_url": ...} as JSON on stdout;
on any failure prints the reason on stderr and exits non-zero.
"""

import base64
import json
import os
import sys
import urllib.request
from datetime import datetime, timezone

import jwt
import zeep
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

NS = "http://www.superoffice.com/superid/partnersystemuser/0.1"
BINDING = "{%s}BasicHttpBinding_IPartnerSystemUserService" % NS
CLAIMS = "http://schemes.superoffice.net/identity/"
TIMEOUT = 30


def fail(msg):
    print("client.py: " + msg, file=sys.stderr)
    sys.exit(1)


def env(name):
    value = os.environ.get(name, "")
    if not value:
        fail(name + " is not set")
    return value


def signed_system_token(token, key_file):
    """TOKEN.yyyyMMddHHmm.base64(RSA PKCS#1 v1.5 SHA-256 of TOKEN.yyyyMMddHHmm)."""
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    data = token + "." + datetime.now(timezone.utc).strftime("%Y%m%d%H%M")
    sig = key.sign(data.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return data + "." + base64.b64encode(sig).decode("ascii")


def authenticate(wsdl, endpoint, app_token, tenant, signed):
    transport = zeep.Transport(timeout=TIMEOUT, operation_timeout=TIMEOUT)
    client = zeep.Client(wsdl=wsdl, transport=transport)
    service = client.create_service(BINDING, endpoint) if endpoint else client.service
    resp = service.Authenticate(
        SignedSystemToken=signed,
        ReturnTokenType="Jwt",
        _soapheaders={"ApplicationToken": app_token, "ContextIdentifier": tenant},
    )
    if not resp.IsSuccessful:
        fail("Authenticate refused: %r" % resp.ErrorMessage)
    if not resp.Token:
        fail("Authenticate succeeded without a Token")
    return resp.Token


def verifying_key(login_url):
    """keys[0] of the login service's JWKS, as SuperOffice's Python sample takes it."""
    with urllib.request.urlopen(login_url.rstrip("/") + "/.well-known/jwks", timeout=TIMEOUT) as r:
        keys = json.load(r)["keys"]
    if not keys:
        fail("the JWKS has no keys")
    jwk = keys[0]
    if jwk.get("x5c"):
        cert = x509.load_der_x509_certificate(base64.b64decode(jwk["x5c"][0]))
        return cert.public_key()
    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))


def main():
    login_url = env("LOGIN_URL")
    tenant = env("TENANT")
    signed = signed_system_token(env("SYSTEM_USER_TOKEN"), env("KEY_FILE"))
    token = authenticate(env("WSDL"), os.environ.get("ENDPOINT", ""), env("APP_TOKEN"), tenant, signed)

    # The audience names the tenant's database serial, a claim of the token
    # itself: read it unverified, then verify everything with it.
    unverified = jwt.decode(token, options={"verify_signature": False})
    serial = unverified.get(CLAIMS + "serial")
    if not serial:
        fail("the token has no %sserial claim; its claims: %s" % (CLAIMS, sorted(unverified)))
    claims = jwt.decode(
        token,
        verifying_key(login_url),
        algorithms=["RS256"],
        issuer="SuperOffice AS",
        audience="spn:" + serial,
        leeway=300,
        options={"require": ["exp", "iss", "aud"]},
    )
    out = {}
    for name in ("ticket", "ctx", "webapi_url"):
        value = claims.get(CLAIMS + name)
        if not value:
            fail("the verified token has no %s%s claim" % (CLAIMS, name))
        out[name] = value
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
