// Signs webhook requests with the providers' own libraries, and verifies
// Switchboard's outgoing deliveries with the Standard Webhooks library, for
// Switchboard's tests. HTTP on 127.0.0.1:
//   POST /sign   {scheme, secret, body, timestamp?, url?, params?, msg_id?} -> {headers}
//   POST /keys   {seed_hex}  -> {public_key}        (Discord: an Ed25519 key pair from a seed)
//   POST /verify {secret, headers, body} -> {ok, error?}   (standardwebhooks)
// Usage: node signer.mjs --port N ; prints "ready".
import http from 'node:http';
import Stripe from 'stripe';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import nacl from 'tweetnacl';
import twilio from 'twilio';

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const stripe = new Stripe('sk_test_unused');

const keyPair = (seedHex) => nacl.sign.keyPair.fromSeed(Uint8Array.from(Buffer.from(seedHex, 'hex')));

async function sign(r) {
  const ts = r.timestamp ?? Math.floor(Date.now() / 1000);
  switch (r.scheme) {
    case 'stripe':
      return { 'Stripe-Signature': stripe.webhooks.generateTestHeaderString({ payload: r.body, secret: r.secret, timestamp: ts }) };
    case 'github':
      return { 'X-Hub-Signature-256': await octokitSign(r.secret, r.body) };
    case 'standard-webhooks': {
      const id = r.msg_id ?? 'msg_test';
      return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': new Webhook(r.secret).sign(id, new Date(ts * 1000), r.body) };
    }
    case 'discord': {
      const message = Buffer.from(String(ts) + r.body);
      const signature = nacl.sign.detached(Uint8Array.from(message), keyPair(r.secret).secretKey);
      return { 'X-Signature-Ed25519': Buffer.from(signature).toString('hex'), 'X-Signature-Timestamp': String(ts) };
    }
    case 'twilio': {
      // A Webhooks Rule signs with its shared key and says so in X-Twilio-Webhooks-Signature-Settings.
      const headers = { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(r.secret, r.url, r.params ?? {}, r.algorithm ?? twilio.HMAC_SHA1) };
      if (r.algorithm) headers[twilio.SIGNATURE_SETTINGS_HEADER] = `key=webhooks_sharedkey_test,algorithm=${r.algorithm}`;
      return headers;
    }
    default:
      throw new Error(`unknown scheme ${r.scheme}`);
  }
}

const server = http.createServer(async (req, res) => {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  let out;
  try {
    const r = JSON.parse(raw || '{}');
    if (req.url === '/sign') out = { headers: await sign(r) };
    else if (req.url === '/keys') out = { public_key: Buffer.from(keyPair(r.seed_hex).publicKey).toString('hex') };
    else if (req.url === '/verify') {
      try {
        new Webhook(r.secret).verify(r.body, r.headers);
        out = { ok: true };
      } catch (e) {
        out = { ok: false, error: String(e.message || e) };
      }
    } else throw new Error(`no route ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
  } catch (e) {
    out = { error: String(e.message || e) };
    res.writeHead(400, { 'content-type': 'application/json' });
  }
  res.end(JSON.stringify(out));
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
