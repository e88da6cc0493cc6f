import { hashSecret, newSecret } from '../../common/ids.js';

/**
 * Authorization requests waiting on the login and consent pages. Kept in memory: they live
 * minutes, and a control restart only means signing in again. Each is bound to the browser
 * that started it by a cookie, and carries its own CSRF token for the forms.
 */
export interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
  codeChallenge: string | null;
  nonce: string | null;
  offline: boolean;
  forceLogin: boolean;
}

export interface Interaction {
  id: string;
  request: AuthorizeRequest;
  csrf: string;
  bindingHash: string;
  expiresAt: number;
  /** Set while the browser is away at an upstream OIDC provider. */
  upstream?: { providerId: string; state: string; nonce: string; verifier: string };
}

/** Longest number of interactions kept; the oldest are dropped first. */
const MAX_INTERACTIONS = 10_000;

export class Interactions {
  private readonly byId = new Map<string, Interaction>();

  constructor(private readonly ttlMs: number) {}

  create(request: AuthorizeRequest, now = Date.now()): { interaction: Interaction; binding: string } {
    this.sweep(now);
    const binding = newSecret(24);
    const interaction: Interaction = { id: newSecret(18), request, csrf: newSecret(24), bindingHash: hashSecret(binding), expiresAt: now + this.ttlMs };
    this.byId.set(interaction.id, interaction);
    if (this.byId.size > MAX_INTERACTIONS) this.byId.delete(this.byId.keys().next().value!);
    return { interaction, binding };
  }

  /** The interaction, only when the browser presents its binding cookie and it has not expired. */
  get(id: string | undefined, binding: string | undefined, now = Date.now()): Interaction | undefined {
    if (!id || !binding) return undefined;
    const i = this.byId.get(id);
    if (!i || i.expiresAt <= now || i.bindingHash !== hashSecret(binding)) return undefined;
    return i;
  }

  byUpstreamState(state: string | undefined, binding: string | undefined): Interaction | undefined {
    if (!state) return undefined;
    for (const i of this.byId.values()) if (i.upstream?.state === state) return this.get(i.id, binding);
    return undefined;
  }

  finish(id: string): void {
    this.byId.delete(id);
  }

  private sweep(now: number): void {
    for (const [id, i] of this.byId) if (i.expiresAt <= now) this.byId.delete(id);
  }
}
