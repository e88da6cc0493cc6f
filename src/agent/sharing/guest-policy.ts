import { FerryError, isFerryError } from '../../common/errors.js';
import type { FileIdentity } from '../../fs/index.js';
import type { Principals } from '../../protocol/index.js';
import {
  linkTargetBelowRoot, openDirectory, openParent, parseApiPath, rootPathsOf, type LexicalPath, type PathIntent, type PathPolicy, type ResolvedPath,
  type ResolveOptions,
} from '../policy/index.js';
import { accessAt, allows } from './access.js';
import type { ReplicaEntry } from './replica.js';

/**
 * A guest collection seen through the agent's own policy: the PathPolicy (for file
 * operations) and PathResolver (for transfer sessions) of one guest request. Every path is
 * decided here, each time it is asked, from three things only:
 *
 * - the agent's own roots: the collection's host path must lie in a root the agent's config
 *   marks shareable, in that same root for every path below it (a root nested inside the
 *   collection is not part of it), and writes still need a writable root;
 * - the replica of the collection's rules, read afresh at every call, so a rule deleted or
 *   expired stops the next request and the next file of a running transfer;
 * - the requester's principals, as control attached them.
 *
 * Guest paths are relative to the collection ('/' is its root; '/~/' means the same). A link
 * is followed only when it leads inside the collection to a place the guest may read.
 */

export interface GuestPolicy extends PathPolicy {
  readonly collectionId: string;
  /** A source file is about to be read: throws EndpointPermissionDenied when the guest may no longer read it. */
  checkRead(apiPath: string): void;
  /** A destination file is about to be committed: throws EndpointPermissionDenied when the guest may no longer write it. */
  checkWrite(apiPath: string): void;
  /** Whether a transfer's walk may enter this directory (not when it is a root of the endpoint). */
  mayEnter(dir: FileIdentity): boolean;
  /**
   * The collection is served at all: known, enabled, in a shareable root, and its own directory
   * still there as a directory (not removed, renamed away or replaced by a link). Throws
   * Sharing.CollectionRefused or Sharing.NotShareable, whoever asks and whatever her rules.
   */
  checkServed(): void;
  /** Files about to be checked (checkWrite) and committed: a rule change is acknowledged only once they are released. */
  holdWrites(): () => void;
}

export interface GuestPolicyInit {
  host: PathPolicy;
  collectionId: string;
  /** The collection as the replica holds it right now (undefined when unknown or the replica is stale). */
  entry: () => ReplicaEntry | undefined;
  principals: Principals;
  now?: () => number;
  /** Hold the acknowledgment of rule changes until the returned function is called (SharingReplica.holdWrite). */
  holdWrite?: () => () => void;
}

interface Collection {
  entry: ReplicaEntry;
  /** The collection's directory mapped into the host policy. */
  base: LexicalPath;
}

function refused(id: string, why: string): FerryError {
  return new FerryError('Sharing.CollectionRefused', `This endpoint does not serve guest collection ${id}: ${why}`);
}

/** Host API spelling of a guest path's components below the collection's host path. */
function hostApiOf(base: LexicalPath, components: readonly string[], guestApi: string): string {
  const tail = components.join('/');
  if (tail === '') return base.apiPath;
  // A collection shared at '/' would turn a first component '~' into the host's home root.
  if (base.apiPath === '/' && components[0] === '~') {
    throw new FerryError('ClientError.BadRequest.InvalidPath', `Invalid path: a first component named '~' is not supported in this collection: ${guestApi}`);
  }
  return base.apiPath.endsWith('/') ? `${base.apiPath}${tail}` : `${base.apiPath}/${tail}`;
}

/** Links a transfer item may lead through before it is refused (as the kernel's ELOOP). */
const MAX_ITEM_LINK_HOPS = 8;

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((c, i) => path[i] === c);
}

/** A host error, re-spelled with the guest's path: a guest never learns where the collection lies on the host. */
function asGuest(err: unknown, hostApi: string, guestApi: string): unknown {
  if (!isFerryError(err) || !err.message.includes(hostApi)) return err;
  return new FerryError(err.code, err.message.split(hostApi).join(guestApi), { cause: err, ...(err.details ? { details: err.details } : {}) });
}

export function createGuestPolicy(init: GuestPolicyInit): GuestPolicy {
  const { host, collectionId, principals } = init;
  const now = init.now ?? Date.now;

  function collection(): Collection {
    const entry = init.entry();
    if (!entry) throw refused(collectionId, 'it is unknown to this agent');
    if (!entry.collection.enabled) throw refused(collectionId, 'it is disabled');
    let base: LexicalPath;
    try {
      base = host.lexical(entry.collection.hostPath, 'read');
    } catch {
      throw refused(collectionId, 'its host path is not inside any root of this agent');
    }
    // The agent's own config decides what may be shared, whatever control sent.
    if (!base.root.sharing) throw new FerryError('Sharing.NotShareable', `Guest collection ${collectionId} lies in a root that this agent does not share`);
    return { entry, base };
  }

  /** The guest path's components ('/~/' is the collection's root too). */
  function guestComponents(apiPath: string): string[] {
    return [...parseApiPath(apiPath).components];
  }

  function mayRead(c: Collection, components: readonly string[]): boolean {
    return allows(accessAt(c.entry.collection, c.entry.rules, principals, components, now()), 'r');
  }

  function map(apiPath: string, intent: PathIntent): { lex: LexicalPath; hostApi: string; c: Collection } {
    const components = guestComponents(apiPath);
    const guestApi = `/${components.join('/')}`;
    const c = collection();
    const access = accessAt(c.entry.collection, c.entry.rules, principals, components, now());
    if (!allows(access, intent === 'write' ? 'rw' : 'r')) {
      throw new FerryError('EndpointPermissionDenied', `No access rule of this guest collection lets you ${intent === 'write' ? 'write' : 'read'} ${guestApi}`);
    }
    return { ...guestLexical(c, components, guestApi, intent), c };
  }

  /** A guest path as the host policy places it, confined to the collection (its access already decided). */
  function guestLexical(c: Collection, components: readonly string[], guestApi: string, intent: PathIntent): { lex: LexicalPath; hostApi: string } {
    const hostApi = hostApiOf(c.base, components, guestApi);
    let hostLex: LexicalPath;
    try {
      hostLex = host.lexical(hostApi, intent);
    } catch (err) {
      throw asGuest(err, hostApi, guestApi);
    }
    // A root nested inside the collection is another root, with its own flags: not shared by it.
    if (hostLex.rootIndex !== c.base.rootIndex) throw new FerryError('EndpointPermissionDenied', `Path not allowed (another root of the endpoint lies here): ${guestApi}`);
    const prefix = c.base.rel;
    const nested = nestedRootsBelow(c.base);
    const lex: LexicalPath = {
      ...hostLex,
      apiPath: guestApi,
      // The collection's own directory is its root: never deleted, renamed or replaced through it.
      isRoot: components.length === 0 || hostLex.isRoot,
      linkGuard: (target) => startsWith(target, prefix) && !nested.some((n) => startsWith(target, n)) && mayRead(collection(), target.slice(prefix.length)),
      confined: true,
      showLink: (target) => (target !== null && startsWith(target, prefix) ? `/${target.slice(prefix.length).join('/')}` : null),
    };
    return { lex, hostApi };
  }

  /** Where the roots nested inside the collection lie, as components below its own root. */
  function nestedRootsBelow(base: LexicalPath): string[][] {
    const spellings = rootPathsOf(host.rootDirs, base.rootIndex);
    return base.nestedRoots.flatMap((n) => {
      const below = linkTargetBelowRoot(n.path, [], spellings);
      return below === null ? [] : [below];
    });
  }

  /**
   * A transfer item to read. `realRoot` is a directory the guest may read entirely, as a
   * guarded walk reaches it: the item's own directory, or a file item's parent. The session
   * checks by descriptor that what it reads lies there, so neither the item nor a link on its
   * way can lead the read anywhere the guest's rules do not reach. An item that is itself a
   * link is followed only to a place the guest may read, and resolved there afresh.
   */
  async function resolveRead(apiPath: string, options: ResolveOptions | undefined, hops: number): Promise<ResolvedPath> {
    const { lex, hostApi, c } = map(apiPath, 'read');
    try {
      const resolved = await host.resolve(hostApi, 'read', options);
      if (lex.rel.length === 0 || lex.apiPath === '/') return { ...resolved, apiPath: lex.apiPath, realRoot: realDirOf(lex) };
      const parent = openParent(host.rootDirs, lex, 'read');
      let kind: string;
      let linkText = '';
      let parentReal: string;
      try {
        kind = parent.dir.stat(parent.name!).kind;
        if (kind === 'symlink') linkText = parent.dir.readlink(parent.name!);
        parentReal = parent.dir.realPath();
      } finally {
        parent.dir.close();
      }
      if (kind === 'dir') return { ...resolved, apiPath: lex.apiPath, realRoot: realDirOf(lex) };
      if (kind !== 'symlink') return { ...resolved, apiPath: lex.apiPath, realRoot: parentReal };
      const target = linkTargetBelowRoot(linkText, lex.rel.slice(0, -1), rootPathsOf(host.rootDirs, lex.rootIndex));
      if (target === null || !lex.linkGuard!(target)) {
        throw new FerryError('EndpointPermissionDenied', `Path not allowed (a symlink leads where this request may not read): ${lex.apiPath}`);
      }
      if (hops >= MAX_ITEM_LINK_HOPS) throw new FerryError('EndpointPermissionDenied', `Path not allowed (too many symbolic links): ${lex.apiPath}`);
      const followed = await resolveRead(`/${target.slice(c.base.rel.length).join('/')}`, options, hops + 1);
      return { ...followed, apiPath: lex.apiPath };
    } catch (err) {
      throw asGuest(err, hostApi, lex.apiPath);
    }
  }

  /** The real path of a directory the guest names, reached by a guarded, confined walk. */
  function realDirOf(lex: LexicalPath): string {
    const { dir } = openDirectory(host.rootDirs, lex, 'read');
    try {
      return dir.realPath();
    } finally {
      dir.close();
    }
  }

  const policy: GuestPolicy = {
    collectionId,
    roots: host.roots,
    rootDirs: host.rootDirs,
    rootOfDir: (dir) => host.rootOfDir(dir),
    openWritableHostDir: (dir) => host.openWritableHostDir(dir),

    lexical(apiPath, intent) {
      return map(apiPath, intent).lex;
    },

    openWriteDir(apiPath, createMode) {
      const { lex, hostApi } = map(apiPath, 'write');
      try {
        return host.openWriteDir(hostApi, createMode);
      } catch (err) {
        throw asGuest(err, hostApi, lex.apiPath);
      }
    },

    /** The item of a transfer: writes follow no link (the session's placer walks by descriptor); reads, see resolveRead. */
    async resolve(apiPath: string, intent: PathIntent, options?: ResolveOptions): Promise<ResolvedPath> {
      if (intent === 'read') return resolveRead(apiPath, options, 0);
      const { lex, hostApi } = map(apiPath, intent);
      try {
        return { ...(await host.resolve(hostApi, intent, options)), apiPath: lex.apiPath };
      } catch (err) {
        throw asGuest(err, hostApi, lex.apiPath);
      }
    },

    /** A directory met in a transfer's walk: one that is a root of the endpoint is not part of the collection. */
    mayEnter: (dir) => host.rootOfDir(dir) === null,

    checkRead(apiPath) {
      map(apiPath, 'read');
    },

    checkWrite(apiPath) {
      map(apiPath, 'write');
    },

    holdWrites: () => init.holdWrite?.() ?? (() => {}),

    checkServed() {
      const c = collection();
      let opened: { dir: { close(): void } };
      try {
        // Reached as every guest request reaches it: confined, no link leading out of the collection.
        opened = openDirectory(host.rootDirs, guestLexical(c, [], '/', 'read').lex, 'read');
      } catch (err) {
        // Deleting (or renaming away, or replacing) the collection's directory disables the collection.
        throw refused(collectionId, `its directory on this host is gone or is no longer a directory (${err instanceof Error ? err.message : String(err)})`);
      }
      opened.dir.close();
    },
  };
  return policy;
}
