export { ControlService, controlPaths, type ControlPaths, type ControlTuning } from './service.js';
export { ControlConfig } from './config.js';
export { createIdentity, issueToken, identityDocument, listTokens, revokeToken, DEFAULT_TOKEN_TTL_SECONDS, type RevokeResult } from './admin.js';
export type { TokenInfo } from './store/tokens.js';
