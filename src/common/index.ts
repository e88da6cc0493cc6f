export * from './errors.js';
export * from './validate.js';
export * from './logger.js';
export * from './ids.js';
export * from './config-file.js';
export * from './version.js';
