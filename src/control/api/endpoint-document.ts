import type { EndpointRecord, IdentityRecord } from '../store/index.js';

export interface EndpointView {
  record: EndpointRecord;
  owner: IdentityRecord | undefined;
  connected: boolean;
  /** Whether the endpoint belongs to the caller's account (any of its identities owns it). */
  isOwner: boolean;
  /** Guest collections: the host endpoint (undefined if it no longer exists at all). */
  host?: EndpointRecord | undefined;
  /** The caller's effective roles (default: administrator for the owner). */
  roles?: readonly string[];
  /** The endpoint cannot be used (a guest whose host was deleted or no longer shares its path). */
  nonFunctional?: boolean;
}

/** The Globus `endpoint` document (globus-api.md §1.4) for one of Ferry's endpoints. */
export function endpointDocument(v: EndpointView): Record<string, unknown> {
  const e = v.record;
  const isOwner = v.isOwner;
  const ownerName = v.owner?.username ?? e.ownerId;
  const guest = e.hostEndpointId !== null;
  const roles = v.roles ?? (isOwner ? ['administrator'] : []);
  const entityType = guest ? 'GCP_guest_collection' : e.isGlobusConnect ? 'GCP_mapped_collection' : 'GCSv5_mapped_collection';
  // Where a guest collection lies on its host is for those who manage it, not for its grantees.
  const seesHost = roles.includes('administrator') || roles.includes('access_manager');
  return {
    DATA_TYPE: 'endpoint',
    id: e.id,
    display_name: e.displayName,
    canonical_name: `${ownerName}#${e.id}`,
    name: e.id,
    username: ownerName,
    owner_id: e.ownerId,
    owner_string: ownerName,
    organization: e.organization,
    department: e.department,
    description: e.description,
    keywords: e.keywords,
    contact_email: e.contactEmail,
    contact_info: e.contactInfo,
    info_link: e.infoLink,
    user_message: null,
    user_message_link: null,
    public: e.public,
    default_directory: e.defaultDirectory,
    entity_type: entityType,
    is_globus_connect: e.isGlobusConnect,
    globus_connect_setup_key: null,
    gcp_connected: e.isGlobusConnect ? v.connected : null,
    gcp_paused: e.isGlobusConnect ? false : null,
    host_endpoint_id: e.hostEndpointId,
    host_endpoint_display_name: guest && seesHost ? (v.host?.displayName ?? null) : null,
    host_path: seesHost ? e.hostPath : null,
    host_endpoint: e.hostEndpointId,
    sharing_target_endpoint: e.hostEndpointId,
    sharing_target_root_path: seesHost ? e.hostPath : null,
    force_encryption: e.forceEncryption,
    force_verify: false,
    disable_verify: false,
    disable_anonymous_writes: false,
    high_assurance: false,
    authentication_timeout_mins: null,
    mfa_required: false,
    acl_max_expiration_period_mins: null,
    network_use: 'normal',
    max_concurrency: null,
    preferred_concurrency: null,
    max_parallelism: null,
    preferred_parallelism: null,
    location: null,
    my_effective_roles: [...roles],
    acl_editable: guest ? roles.includes('administrator') || roles.includes('access_manager') : isOwner,
    in_use: false,
    non_functional: v.nonFunctional ?? false,
    subscription_id: null,
    activated: true,
    expires_in: -1,
    expire_time: null,
    is_connected: v.connected,
    tlsftp_server: null,
    https_server: null,
    gcs_manager_url: null,
    gcs_version: null,
    DATA: [{
      DATA_TYPE: 'server',
      id: 1,
      hostname: null,
      port: null,
      scheme: null,
      subject: `/O=Ferry/OU=Endpoint/CN=${e.id}`,
      uri: null,
      incoming_data_port_start: null,
      incoming_data_port_end: null,
      outgoing_data_port_start: null,
      outgoing_data_port_end: null,
      is_connected: v.connected,
      is_paused: false,
    }],
  };
}
