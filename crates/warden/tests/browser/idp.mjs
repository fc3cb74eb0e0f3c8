// A real OpenID Connect provider for crates/warden/tests/oidc.rs: npm `oidc-provider` on
// 127.0.0.1:$IDP_PORT with one client (id `warden`, secret $IDP_SECRET, redirect URI $REDIRECT_URI,
// PKCE S256 required, client_secret_basic), accounts for any username (`sub` is `sub-<username>`,
// `preferred_username` the username, given by UserInfo as the provider conforms to OIDC Core), and
// instead of a login screen a minimal form: the username and whether the login used a second factor
// (amr ["pwd","otp"]) or not (amr ["pwd"]); `amr` is an `openid` claim here, so it is in the ID token.
// Grants are given without a consent screen. Test use only.
import http from 'node:http';
import Provider from 'oidc-provider';

export async function startIdp({ port, secret, redirectUri }) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'warden', client_secret: secret, redirect_uris: [redirectUri],
      grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true, methods: ['S256'] },
    features: { devInteractions: { enabled: false } },
    claims: { openid: ['sub', 'amr'], profile: ['preferred_username', 'name'], email: ['email'] },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, preferred_username: sub.replace(/^sub-/, ''), name: sub.replace(/^sub-/, '') }),
    }),
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['warden-test-idp-cookie-key'] },
  });
  const callback = provider.callback();
  const server = http.createServer(async (req, res) => {
    const m = req.url.match(/^\/interaction\/([\w-]+)(\/login)?$/);
    if (!m) return callback(req, res);
    try {
      if (req.method === 'GET') {
        const details = await provider.interactionDetails(req, res);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(`<!doctype html><html lang="en"><title>Test IdP</title><h1>Test IdP</h1>
<form method="post" action="/interaction/${details.uid}/login">
<label for="login">Username</label><input id="login" name="login">
<label><input type="checkbox" id="mfa" name="mfa" value="1"> second factor</label>
<button id="submit" type="submit">Log in</button></form>`);
      }
      const body = await new Promise((ok) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => ok(b)); });
      const form = new URLSearchParams(body);
      const amr = form.get('mfa') === '1' ? ['pwd', 'otp'] : ['pwd'];
      await provider.interactionFinished(req, res, { login: { accountId: 'sub-' + form.get('login'), amr } },
        { mergeWithLastSubmission: false });
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { issuer, close: () => server.close() };
}
