/**
 * The login, consent and error pages: plain HTML forms, no scripts. Every dynamic value goes
 * through `esc`.
 */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}form{margin:1rem 0}label{display:block;margin:.6rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}
button{padding:.5rem 1rem;margin:.6rem .4rem 0 0}.err{color:#a40000}.note{color:#555;font-size:.9rem}ul{padding-left:1.2rem}a.idp{display:block;margin:.4rem 0}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Ferry</title><style>${STYLE}</style></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

export interface LoginPageInput {
  interaction: string;
  csrf: string;
  clientName: string;
  signedInAs: string | undefined;
  error: string | undefined;
  username: string;
  upstream: Array<{ id: string; name: string }>;
}

export function loginPage(p: LoginPageInput): string {
  const signedIn = p.signedInAs
    ? `<p class="note" id="signed-in">Signed in as <b>${esc(p.signedInAs)}</b>. Signing in with another identity links it to this account.
       <a href="/v2/web/consent?interaction=${esc(p.interaction)}">Continue as ${esc(p.signedInAs)}</a></p>` : '';
  const err = p.error ? `<p class="err" role="alert">${esc(p.error)}</p>` : '';
  const idps = p.upstream.map((u) =>
    `<a class="idp" href="/v2/web/login/oidc/${esc(u.id)}?interaction=${esc(p.interaction)}">Sign in with ${esc(u.name)}</a>`).join('');
  return page('Sign in', `<p><b>${esc(p.clientName)}</b> wants to use Ferry on your behalf.</p>${signedIn}${err}
<form method="post" action="/v2/web/login">
<input type="hidden" name="interaction" value="${esc(p.interaction)}"><input type="hidden" name="csrf" value="${esc(p.csrf)}">
<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" value="${esc(p.username)}" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="login">Sign in</button></form>${idps ? `<p>Or:</p>${idps}` : ''}`);
}

export function consentPage(p: { interaction: string; csrf: string; clientName: string; username: string; scopes: Array<{ scope: string; description: string }> }): string {
  const items = p.scopes.map((s) => `<li>${esc(s.description)} <span class="note">(${esc(s.scope)})</span></li>`).join('');
  return page('Allow access?', `<p>Signed in as <b>${esc(p.username)}</b>.</p>
<p><b>${esc(p.clientName)}</b> asks to:</p><ul>${items}</ul>
<form method="post" action="/v2/web/consent">
<input type="hidden" name="interaction" value="${esc(p.interaction)}"><input type="hidden" name="csrf" value="${esc(p.csrf)}">
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button></form>`);
}

export function errorPage(title: string, message: string): string {
  return page(title, `<p class="err" role="alert">${esc(message)}</p>`);
}

export function codePage(code: string): string {
  return page('Almost there', `<p>Copy this code into the terminal where <code>ferry login</code> is waiting:</p>
<p><input type="text" id="code" readonly value="${esc(code)}" style="width:100%;font-family:monospace"></p>
<p class="note">It works once and expires in a minute.</p>`);
}
