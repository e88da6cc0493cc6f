export * from './limits.js';
export * from './file-doc.js';
export * from './link.js';
export * from './setup-key.js';
export * from './registration.js';
export * from './session.js';
export * from './sharing.js';
export * from './principals.js';

export * from './frames.js';
export * from './data-frames.js';
