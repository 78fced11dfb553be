// A real OpenID Connect provider for the tests, on loopback: the npm package oidc-provider with
// our own tiny login page and a few test switches. tests/oidc/server.py starts and drives it.
//
//   node tests/oidc/provider.mjs CONFIG.json        (or OIDC_PROVIDER_CONFIG=CONFIG.json)
//
// CONFIG.json: { "port": 0 or a port, "issuer"?: "http://127.0.0.1:<port>",
//   "clients": [{ client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                 token_endpoint_auth_method }],
//   "accounts": [{ sub, email, name, preferred_username, groups, amr? }],
//   "exit_with_stdin"?: true }
// Prints `READY <issuer>` on stdout once listening; everything else goes to stderr.
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// oidc-provider prints its notices with console.info; stdout is for the READY line alone.
console.info = console.error;
console.log = console.error;

const configPath = process.argv[2] ?? process.env.OIDC_PROVIDER_CONFIG;
if (!configPath) {
  console.error('usage: node tests/oidc/provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));

// --- test switches: what POST /__test__/config changes and POST /__test__/reset restores ----

const FAULTS = new Set(['bad_signature', 'unknown_key', 'wrong_audience', 'expired', 'wrong_nonce']);
let accounts; // sub -> account, a copy of the configured ones
let nextIdToken; // a FAULTS member spoiling the next token response's ID token, or null
let down; // answer 503 everywhere but /__test__/

function reset() {
  accounts = new Map(config.accounts.map((account) => [account.sub, structuredClone(account)]));
  nextIdToken = null;
  down = false;
}
reset();

function findLogin(login) {
  return accounts.get(login) ?? [...accounts.values()].find((a) => a.preferred_username === login);
}

function applySwitches(changes) {
  for (const [login, patch] of Object.entries(changes.accounts ?? {})) {
    const account = findLogin(login);
    if (!account) throw new Error(`no account ${login}`);
    if ('sub' in patch) throw new Error('sub identifies the account and cannot change');
    Object.assign(account, patch);
  }
  if ('next_id_token' in changes) {
    if (changes.next_id_token !== null && !FAULTS.has(changes.next_id_token)) {
      throw new Error(`next_id_token is one of ${[...FAULTS].join(', ')} or null`);
    }
    nextIdToken = changes.next_id_token;
  }
  if ('down' in changes) down = Boolean(changes.down);
}

// --- keys: made at each start, so no key outlives the test run ------------------------------

function rsaKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  return { privateKey, kid, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}
const signing = rsaKey();
const stranger = rsaKey(); // never published: what "bad_signature" and "unknown_key" sign with

const b64 = (data) => Buffer.from(data).toString('base64url');
const unb64 = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());

// oidc-provider signs ID tokens itself and has no hook to alter one, so a fault takes the token
// it issued, changes one thing and signs it again (RS256: RSA PKCS#1 v1.5 over SHA-256). Every
// other claim stays as the provider made it, so the fault is the only thing wrong.
function spoil(idToken, fault) {
  const [headerPart, payloadPart] = idToken.split('.');
  const header = unb64(headerPart);
  const payload = unb64(payloadPart);
  let key = signing.privateKey;
  const now = Math.floor(Date.now() / 1000);
  switch (fault) {
    case 'bad_signature': // the published kid, so only the signature check can catch it
      key = stranger.privateKey;
      break;
    case 'unknown_key':
      key = stranger.privateKey;
      header.kid = stranger.kid;
      break;
    case 'wrong_audience':
      payload.aud = `not-${payload.aud}`;
      break;
    case 'expired': // well past any clock-skew leeway
      payload.iat = now - 3600;
      payload.auth_time = now - 3600;
      payload.exp = now - 1800;
      break;
    case 'wrong_nonce':
      payload.nonce = `not-${payload.nonce}`;
      break;
  }
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  return `${input}.${b64(sign('sha256', Buffer.from(input), key))}`;
}

// --- the provider ---------------------------------------------------------------------------

// Listen first: with port 0 the issuer can only be known once the port is.
const server = createServer((req, res) => handle(req, res));
await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
const issuer = config.issuer ?? `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  })),
  jwks: { keys: [signing.jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  responseTypes: ['code'],
  pkce: { required: () => true },
  // amr under openid: the ID token carries it whatever else was asked for.
  claims: {
    openid: ['sub', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // The default keeps scope-requested claims (groups, email) out of the ID token whenever an
  // access token is issued, leaving them to userinfo; we want them in both.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Reads the live accounts, so a changed group or email shows in the next token and userinfo.
  findAccount: (ctx, sub) => {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: () => ({
        sub,
        email: account.email,
        email_verified: true,
        name: account.name,
        preferred_username: account.preferred_username,
        groups: account.groups,
      }),
    };
  },
});

provider.use(async (ctx, next) => {
  await next();
  if (nextIdToken && ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: spoil(ctx.body.id_token, nextIdToken) };
    nextIdToken = null;
  }
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const oidc = provider.callback();

async function handle(req, res) {
  const { pathname } = new URL(req.url, issuer);
  try {
    if (pathname.startsWith('/__test__/')) return await testSwitches(req, res, pathname);
    if (down) return send(res, 503, 'text/plain', 'IdP down (test switch)\n');
    const interaction = pathname.match(/^\/interaction\/([\w-]+)$/);
    if (interaction) return await login(req, res, interaction[1]);
    return oidc(req, res);
  } catch (error) {
    console.error(`${req.method} ${pathname}:`, error);
    // oidc-provider's errors (an expired interaction, say) keep their detail in error_description.
    const text = error.error_description ?? error.message;
    return send(res, error.statusCode ?? 500, 'text/plain', `${text}\n`);
  }
}

async function testSwitches(req, res, pathname) {
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST only\n');
  if (pathname === '/__test__/reset') {
    reset();
  } else if (pathname === '/__test__/config') {
    try {
      applySwitches(JSON.parse(await body(req)));
    } catch (error) {
      return send(res, 400, 'text/plain', `${error.message}\n`);
    }
  } else {
    return send(res, 404, 'text/plain', 'not found\n');
  }
  return send(res, 200, 'application/json', JSON.stringify({ next_id_token: nextIdToken, down }));
}

// --- the login page: one form, which logs in and grants what was asked --------------------

async function login(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch\n');
  if (req.method === 'GET') return send(res, 200, 'text/html', page(uid));
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'GET or POST\n');

  const form = new URLSearchParams(await body(req));
  if (form.has('cancel')) {
    const result = { error: 'access_denied', error_description: 'End-User cancelled the login' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const account = findLogin(form.get('login') ?? '');
  if (!account) return send(res, 200, 'text/html', page(uid, `No account "${form.get('login')}".`));

  const amr = [...(account.amr ?? ['pwd'])];
  if (form.has('mfa') && !amr.includes('mfa')) amr.push('mfa');
  // Consent given here and now, for every scope the client asked for: no consent page.
  const grant = new provider.Grant({ accountId: account.sub, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const result = { login: { accountId: account.sub, amr }, consent: { grantId: await grant.save() } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(uid, error) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test IdP: sign in</title></head>
<body>
<h1>Test IdP: sign in</h1>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
  <label>Account (sub or username)
    <input type="text" name="login" list="accounts" required autofocus></label>
  <datalist id="accounts">
    ${[...accounts.values()].map((a) => `<option value="${escape(a.preferred_username)}">`).join('')}
  </datalist>
  <label><input type="checkbox" name="mfa" value="1"> the IdP did MFA</label>
  <button type="submit">Sign in</button>
  <button type="submit" name="cancel" value="1" formnovalidate>Cancel</button>
</form>
</body></html>
`;
}

// --- plumbing -------------------------------------------------------------------------------

function send(res, status, type, text) {
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' });
  res.end(text);
}

async function body(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 65536) throw Object.assign(new Error('body too large'), { statusCode: 413 });
  }
  return text;
}

if (config.exit_with_stdin) {
  // The parent keeps our stdin open while it lives: when it goes, however it went, so do we.
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));

process.stdout.write(`READY ${issuer}\n`);
