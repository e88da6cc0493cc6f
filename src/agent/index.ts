export { AgentDaemon, type AgentDaemonOptions } from './daemon.js';
export { setupAgent, type AgentSetupOptions } from './setup.js';
export { AgentConfig, AgentRootConfig } from './config.js';
export { agentConfigPath } from './paths.js';
export { parseRootSpec } from './root-spec.js';
