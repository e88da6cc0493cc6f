export { ControlService, controlPaths, type ControlPaths, type ControlTuning } from './service.js';
export { ControlConfig } from './config.js';
export { createIdentity, issueToken, identityDocument, DEFAULT_TOKEN_TTL_SECONDS } from './admin.js';
