// A Node client of SuperOffice's PartnerSystemUserService, written the way a
// partner would write one: the soap package driven by the WSDL, the system
// user token signed with node's crypto, the returned JWT verified with
// jsonwebtoken against the login service's JWKS.
//
// Run by sysusertest's interop test; settings come from the environment:
//
//   LOGIN_URL          login service base URL, e.g. https://sod.superoffice.com/login
//   APP_TOKEN          the application token (client secret)
//   KEY_FILE           the application's RSA private key, PEM (PKCS#1 or PKCS#8)
//   SYSTEM_USER_TOKEN  the tenant's system user token
//   TENANT             the context identifier, e.g. Cust12345
//   WSDL               path or URL of PartnerSystemUserService's WSDL
//   ENDPOINT           optional: the SOAP address to call instead of the WSDL's
//                      soap:address
//
// Prints {"ticket": ..., "ctx": ..., "webapi_url": ...} as JSON on stdout; on
// any failure prints the reason on stderr and exits non-zero.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const soap = require('soap');
const jwt = require('jsonwebtoken');

const NS = 'http://www.superoffice.com/superid/partnersystemuser/0.1';
const CLAIMS = 'http://schemes.superoffice.net/identity/';
const TIMEOUT_MS = 30000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// TOKEN.yyyyMMddHHmm.base64(RSA PKCS#1 v1.5 SHA-256 of TOKEN.yyyyMMddHHmm).
function signedSystemToken(token, keyFile) {
  const key = crypto.createPrivateKey(fs.readFileSync(keyFile));
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-T:]/g, ''); // UTC
  const data = `${token}.${stamp}`;
  const sig = crypto.createSign('RSA-SHA256').update(data, 'utf8').sign(key, 'base64');
  return `${data}.${sig}`;
}

async function authenticate(wsdl, endpoint, appToken, tenant, signed) {
  const client = await soap.createClientAsync(wsdl, { wsdl_options: { timeout: TIMEOUT_MS } });
  if (endpoint) client.setEndpoint(endpoint);
  client.addSoapHeader({ ApplicationToken: appToken }, '', 'tns', NS);
  client.addSoapHeader({ ContextIdentifier: tenant }, '', 'tns', NS);
  const [resp] = await client.AuthenticateAsync(
    { SignedSystemToken: signed, ReturnTokenType: 'Jwt' },
    { timeout: TIMEOUT_MS },
  );
  if (!resp || (resp.IsSuccessful !== true && resp.IsSuccessful !== 'true')) {
    throw new Error(`Authenticate refused: ${JSON.stringify(resp && resp.ErrorMessage)}`);
  }
  if (!resp.Token) throw new Error('Authenticate succeeded without a Token');
  return resp.Token;
}

// keys[0] of the login service's JWKS, its x5c certificate as PEM.
async function verifyingKey(loginURL) {
  const r = await fetch(loginURL.replace(/\/+$/, '') + '/.well-known/jwks', {
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!r.ok) throw new Error(`JWKS: HTTP ${r.status}`);
  const { keys } = await r.json();
  if (!keys || !keys.length || !keys[0].x5c || !keys[0].x5c.length) {
    throw new Error('the JWKS has no key with an x5c certificate');
  }
  const b64 = keys[0].x5c[0].match(/.{1,64}/g).join('\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

async function main() {
  const loginURL = env('LOGIN_URL');
  const tenant = env('TENANT');
  const signed = signedSystemToken(env('SYSTEM_USER_TOKEN'), env('KEY_FILE'));
  const token = await authenticate(env('WSDL'), process.env.ENDPOINT, env('APP_TOKEN'), tenant, signed);

  // The audience names the tenant's database serial, a claim of the token
  // itself: read it unverified, then verify everything with it.
  const unverified = jwt.decode(token) || {};
  const serial = unverified[CLAIMS + 'serial'];
  if (!serial) {
    throw new Error(`the token has no ${CLAIMS}serial claim; its claims: ${Object.keys(unverified).sort()}`);
  }
  const claims = jwt.verify(token, await verifyingKey(loginURL), {
    algorithms: ['RS256'],
    issuer: 'SuperOffice AS',
    audience: 'spn:' + serial,
    clockTolerance: 300,
  });
  if (typeof claims.exp !== 'number') throw new Error('the token has no exp');
  const out = {};
  for (const name of ['ticket', 'ctx', 'webapi_url']) {
    const value = claims[CLAIMS + name];
    if (!value) throw new Error(`the verified token has no ${CLAIMS}${name} claim`);
    out[name] = value;
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write(`client.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
