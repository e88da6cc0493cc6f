/** Transfer and delete tasks: the orchestrator that runs them and the Globus documents that show them. */
export { TaskOrchestrator, type TaskOrchestratorInit, type CancelOutcome } from './orchestrator.js';
export { DEFAULT_TASK_LIMITS, backoffMs, type TaskLimits } from './limits.js';
export type { TaskHub } from './runs.js';
export { taskDocument, eventDocument, successfulTransferDocument, skippedErrorDocument, pickFields, globusTime, type TaskView } from './task-document.js';
export { parseTaskFilter, parseTaskOrder, parseEventFilter } from './task-query.js';
export { classifyCode, classifyError, classifyFerryCode, classifySessionError, describeCode, type Failure, type FailureAction } from './failures.js';
export { combineStats } from './stats.js';
export { DIRECT_ENDPOINTS, type EndpointRoute, type TaskEndpoints } from './endpoints.js';
export { agentsAllowClear, endpointsForceEncryption } from './encryption.js';
