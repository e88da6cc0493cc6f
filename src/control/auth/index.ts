export { AuthService, authFor, DEFAULT_AUTH_TUNING, tuningFromEnv, type AuthTuning } from './service.js';
export { checkAccessToken, accountPrincipals, type BearerCheck, type AccountPrincipals } from './verify.js';
export { AUTH_RS, TRANSFER_RS, GROUPS_RS, SCOPES } from './scopes.js';
export { OAuthServer } from './oauth.js';
export { AuthError } from './errors.js';
