/** Limits shared by both ends of every channel. Changing one is a protocol change. */
export const LINK_PROTOCOL_VERSION = 1;
export const LINK_MAGIC = 'ferry-link';
/** Largest WebSocket message either side accepts (an ls of 100,000 entries fits). */
export const MAX_LINK_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Longest path accepted anywhere (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longest single path component (NAME_MAX). */
export const MAX_NAME_BYTES = 255;
/** Most entries one ls returns (Globus: limit default and max 100000). */
export const MAX_LS_ENTRIES = 100_000;
