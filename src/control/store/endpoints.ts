import { newId } from '../../common/ids.js';
import { cachedStatement, ownerMatch, type Db, type OwnerIds } from './db.js';

export interface EndpointRecord {
  id: string;
  ownerId: string;
  displayName: string;
  description: string | null;
  organization: string | null;
  department: string | null;
  keywords: string | null;
  contactEmail: string | null;
  contactInfo: string | null;
  infoLink: string | null;
  defaultDirectory: string | null;
  isGlobusConnect: boolean;
  public: boolean;
  createdAt: number;
  deletedAt: number | null;
  /** Guest collections only: the mapped endpoint that hosts it, and the directory there (an API path ending in '/'). */
  hostEndpointId: string | null;
  hostPath: string | null;
  /** Globus force_encryption: tasks to or from this endpoint run encrypted whatever their encrypt_data. */
  forceEncryption: boolean;
}

export type EndpointInput = Omit<EndpointRecord, 'id' | 'createdAt' | 'deletedAt' | 'hostEndpointId' | 'hostPath' | 'forceEncryption'>
  & Partial<Pick<EndpointRecord, 'hostEndpointId' | 'hostPath' | 'forceEncryption'>>;

interface Row {
  id: string; owner_id: string; display_name: string; description: string | null; organization: string | null;
  department: string | null; keywords: string | null; contact_email: string | null; contact_info: string | null;
  info_link: string | null; default_directory: string | null; is_globus_connect: number; public: number;
  created_at: number; deleted_at: number | null; host_endpoint_id: string | null; host_path: string | null;
  force_encryption: number;
}

const toRecord = (r: Row): EndpointRecord => ({
  id: r.id, ownerId: r.owner_id, displayName: r.display_name, description: r.description, organization: r.organization,
  department: r.department, keywords: r.keywords, contactEmail: r.contact_email, contactInfo: r.contact_info,
  infoLink: r.info_link, defaultDirectory: r.default_directory, isGlobusConnect: r.is_globus_connect === 1,
  public: r.public === 1, createdAt: r.created_at, deletedAt: r.deleted_at, hostEndpointId: r.host_endpoint_id, hostPath: r.host_path,
  forceEncryption: r.force_encryption === 1,
});

export interface EndpointSearch {
  text?: string | undefined;
  /** Only endpoints owned by this identity, or by any of these (an account's identities). */
  ownerId?: OwnerIds | undefined;
  /** Only endpoints visible to this identity (or account): its own, or public ones. */
  visibleTo?: OwnerIds | undefined;
  /** Only these endpoints (a scope computed elsewhere: shared with me, recently used). */
  ids?: readonly string[] | undefined;
  /** true: only guest collections; false: only mapped endpoints. */
  guest?: boolean | undefined;
  /** Only guest collections hosted on this endpoint. */
  hostEndpointId?: string | undefined;
  /** Leave out endpoints owned by these identities (shared-with-me leaves out one's own). */
  notOwnerId?: OwnerIds | undefined;
  /** Only GCP (is_globus_connect) endpoints. */
  globusConnect?: boolean | undefined;
  limit: number;
  offset: number;
}

export class EndpointRepo {
  constructor(private readonly db: Db) {}

  create(input: EndpointInput): EndpointRecord {
    const rec: EndpointRecord = {
      ...input, id: newId(), createdAt: Date.now(), deletedAt: null, hostEndpointId: input.hostEndpointId ?? null, hostPath: input.hostPath ?? null,
      forceEncryption: input.forceEncryption ?? false,
    };
    this.db.prepare(`INSERT INTO endpoints (id, owner_id, display_name, description, organization, department, keywords,
        contact_email, contact_info, info_link, default_directory, is_globus_connect, public, created_at, host_endpoint_id, host_path, force_encryption)
        VALUES (@id, @ownerId, @displayName, @description, @organization, @department, @keywords,
        @contactEmail, @contactInfo, @infoLink, @defaultDirectory, @isGlobusConnect, @public, @createdAt, @hostEndpointId, @hostPath, @forceEncryption)`)
      .run({ ...rec, isGlobusConnect: rec.isGlobusConnect ? 1 : 0, public: rec.public ? 1 : 0, forceEncryption: rec.forceEncryption ? 1 : 0 });
    return rec;
  }

  /** Includes deleted endpoints (callers answer EndpointDeleted for those). */
  get(id: string): EndpointRecord | undefined {
    const row = cachedStatement(this.db, 'SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  search(q: EndpointSearch): { records: EndpointRecord[]; hasNextPage: boolean } {
    const where = ['deleted_at IS NULL'];
    const params: unknown[] = [];
    if (q.ownerId !== undefined && q.ownerId !== '') {
      const m = ownerMatch('owner_id', q.ownerId);
      where.push(m.sql);
      params.push(...m.params);
    }
    if (q.visibleTo !== undefined && q.visibleTo !== '') {
      const m = ownerMatch('owner_id', q.visibleTo);
      where.push(`(${m.sql} OR public = 1)`);
      params.push(...m.params);
    }
    if (q.ids !== undefined) {
      if (q.ids.length === 0) return { records: [], hasNextPage: false };
      where.push(`id IN (${q.ids.map(() => '?').join(', ')})`);
      params.push(...q.ids);
    }
    if (q.notOwnerId !== undefined) {
      const m = ownerMatch('owner_id', q.notOwnerId);
      where.push(`NOT ${m.sql}`);
      params.push(...m.params);
    }
    if (q.globusConnect !== undefined) where.push(q.globusConnect ? 'is_globus_connect = 1' : 'is_globus_connect = 0');
    if (q.guest !== undefined) where.push(q.guest ? 'host_endpoint_id IS NOT NULL' : 'host_endpoint_id IS NULL');
    if (q.hostEndpointId !== undefined) {
      where.push('host_endpoint_id = ?');
      params.push(q.hostEndpointId);
    }
    if (q.text) {
      // Full-text in the Globus sense: every word must appear in a searchable field.
      for (const word of q.text.split(/\s+/).filter(Boolean)) {
        const like = `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.push("(display_name LIKE ? ESCAPE '\\' OR IFNULL(description,'') LIKE ? ESCAPE '\\' OR IFNULL(keywords,'') LIKE ? ESCAPE '\\' OR IFNULL(organization,'') LIKE ? ESCAPE '\\' OR id = ?)");
        params.push(like, like, like, like, word);
      }
    }
    const rows = this.db.prepare(`SELECT * FROM endpoints WHERE ${where.join(' AND ')} ORDER BY display_name, id LIMIT ? OFFSET ?`)
      .all(...params, q.limit + 1, q.offset) as Row[];
    return { records: rows.slice(0, q.limit).map(toRecord), hasNextPage: rows.length > q.limit };
  }

  update(id: string, fields: Partial<EndpointInput>): void {
    const cur = this.get(id);
    if (!cur) return;
    const next = { ...cur, ...fields };
    this.db.prepare(`UPDATE endpoints SET display_name=@displayName, description=@description, organization=@organization,
        department=@department, keywords=@keywords, contact_email=@contactEmail, contact_info=@contactInfo, info_link=@infoLink,
        default_directory=@defaultDirectory, public=@public, force_encryption=@forceEncryption WHERE id=@id`)
      .run({
        id, displayName: next.displayName, description: next.description, organization: next.organization,
        department: next.department, keywords: next.keywords, contactEmail: next.contactEmail, contactInfo: next.contactInfo,
        infoLink: next.infoLink, defaultDirectory: next.defaultDirectory, public: next.public ? 1 : 0, forceEncryption: next.forceEncryption ? 1 : 0,
      });
  }

  /** Ids of the live endpoints these identities own. */
  idsOwnedBy(owners: OwnerIds): string[] {
    const m = ownerMatch('owner_id', owners);
    return (this.db.prepare(`SELECT id FROM endpoints WHERE ${m.sql} AND deleted_at IS NULL`).all(...m.params) as { id: string }[]).map((r) => r.id);
  }

  /** Guest collections hosted on this endpoint, deleted ones too when asked. */
  guestsOf(hostEndpointId: string, includeDeleted = false): EndpointRecord[] {
    const rows = this.db.prepare(`SELECT * FROM endpoints WHERE host_endpoint_id = ?${includeDeleted ? '' : ' AND deleted_at IS NULL'} ORDER BY created_at, id`)
      .all(hostEndpointId) as Row[];
    return rows.map(toRecord);
  }

  markDeleted(id: string, now = Date.now()): void {
    this.db.prepare('UPDATE endpoints SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(now, id);
  }
}
