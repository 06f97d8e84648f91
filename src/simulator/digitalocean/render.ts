/**
 * JSON the simulator answers, shaped like DigitalOcean's (every field the official spec marks
 * required is present). Droplets are stored as a few fields each and rendered on demand, so the
 * simulator holds 15,000 of them cheaply; the big shared parts (size, image, regions) are built once.
 */
import type { components } from '../../digitalocean/generated/schema';

export type DropletJson = components['schemas']['droplet'];
export type ActionJson = components['schemas']['action'];
export type RegionJson = components['schemas']['region'];
export type SimDropletStatus = DropletJson['status'];

export interface SimDroplet {
  id: number;
  name: string;
  status: SimDropletStatus;
  tags: string[];
  region: string;
  createdAt: string;
  /** Id of the action in progress, if any (DigitalOcean allows one at a time). */
  pendingActionId?: number;
  /** Oldest first. */
  actionIds?: number[];
  /** Actions created, by type. */
  actionCounts?: Record<string, number>;
  /** The account (team) the droplet lives in. */
  account: string;
}

export interface SimTag {
  /** Canonical name (the first spelling it was created with). */
  name: string;
  dropletIds: Set<number>;
  lastTaggedDropletId?: number;
}

export interface SimAction {
  id: number;
  dropletId: number;
  type: string;
  status: 'in-progress' | 'completed' | 'errored';
  startedAt: string;
  completedAt: string | null;
  region: string;
}

/** ISO 8601 without milliseconds, as DigitalOcean writes it. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const REGION_NAMES: Record<string, string> = {
  nyc1: 'New York 1',
  nyc2: 'New York 2',
  nyc3: 'New York 3',
  sfo1: 'San Francisco 1',
  sfo2: 'San Francisco 2',
  sfo3: 'San Francisco 3',
  ams2: 'Amsterdam 2',
  ams3: 'Amsterdam 3',
  sgp1: 'Singapore 1',
  lon1: 'London 1',
  fra1: 'Frankfurt 1',
  tor1: 'Toronto 1',
  blr1: 'Bangalore 1',
  syd1: 'Sydney 1',
  atl1: 'Atlanta 1',
};

const SIZE_SLUGS = ['s-1vcpu-1gb', 's-1vcpu-2gb', 's-2vcpu-2gb', 's-2vcpu-4gb', 's-4vcpu-8gb'];
const REGION_FEATURES = [
  'private_networking',
  'backups',
  'ipv6',
  'metadata',
  'install_agent',
  'storage',
  'image_transfer',
];

const regionCache = new Map<string, RegionJson>();

export function regionJson(slug: string): RegionJson {
  let r = regionCache.get(slug);
  if (!r) {
    r = {
      name: REGION_NAMES[slug] ?? slug.toUpperCase(),
      slug,
      features: REGION_FEATURES,
      available: true,
      sizes: SIZE_SLUGS,
    };
    regionCache.set(slug, r);
  }
  return r;
}

const SIZE: DropletJson['size'] = {
  slug: 's-1vcpu-1gb',
  memory: 1024,
  vcpus: 1,
  disk: 25,
  transfer: 1,
  price_monthly: 6,
  price_hourly: 0.00893,
  regions: Object.keys(REGION_NAMES),
  available: true,
  description: 'Basic',
  disk_info: [{ type: 'local', size: { amount: 25, unit: 'gib' } }],
};

const IMAGE: DropletJson['image'] = {
  id: 161_000_001,
  name: '24.04 (LTS) x64',
  distribution: 'Ubuntu',
  slug: 'ubuntu-24-04-x64',
  public: true,
  regions: ['nyc1', 'nyc3', 'sfo3', 'ams3', 'fra1', 'lon1', 'sgp1', 'tor1', 'blr1', 'syd1'],
  created_at: '2024-04-25T00:00:00Z',
  type: 'base',
  min_disk_size: 7,
  size_gigabytes: 2.36,
  description: '',
  tags: [],
  status: 'available',
  error_message: '',
};

export function dropletJson(d: SimDroplet): DropletJson {
  const a = (d.id >>> 16) & 255;
  const b = (d.id >>> 8) & 255;
  const c = d.id & 255;
  return {
    id: d.id,
    name: d.name,
    memory: 1024,
    vcpus: 1,
    disk: 25,
    disk_info: SIZE.disk_info,
    locked: false,
    status: d.status,
    kernel: null,
    created_at: d.createdAt,
    features: ['monitoring', 'private_networking'],
    backup_ids: [],
    next_backup_window: null,
    snapshot_ids: [],
    image: IMAGE,
    volume_ids: [],
    size: SIZE,
    size_slug: SIZE.slug,
    networks: {
      v4: [
        { ip_address: `10.${a}.${b}.${c}`, netmask: '255.255.0.0', gateway: '10.0.0.1', type: 'private' },
        { ip_address: `198.18.${b}.${c}`, netmask: '255.255.240.0', gateway: '198.18.0.1', type: 'public' },
      ],
      v6: [],
    },
    region: regionJson(d.region),
    tags: d.tags,
    vpc_uuid: '5a4981aa-9653-4bd1-bef5-d6bff52042e4',
  };
}

export function actionJson(a: SimAction): ActionJson {
  return {
    id: a.id,
    status: a.status,
    type: a.type,
    started_at: a.startedAt,
    completed_at: a.completedAt,
    resource_id: a.dropletId,
    resource_type: 'droplet',
    region: regionJson(a.region),
    region_slug: a.region,
  };
}

export type TagJson = components['schemas']['tags'];

/** A tag with its resource statistics; the simulator tags only droplets, so the other kinds count 0. */
export function tagJson(t: SimTag, base: string): TagJson {
  const count = t.dropletIds.size;
  let last = t.lastTaggedDropletId;
  if (last === undefined) for (const id of t.dropletIds) last = Math.max(last ?? id, id);
  const uri = last === undefined ? {} : { last_tagged_uri: `${base}/v2/droplets/${last}` };
  // `images`, as DigitalOcean answers and the spec's own example has it (its schema spells the
  // property "imgages"; objects there are open, so both validate)
  const resources: NonNullable<TagJson['resources']> & { images: { count: number } } = {
    count,
    ...uri,
    droplets: { count, ...uri },
    images: { count: 0 },
    volumes: { count: 0 },
    volume_snapshots: { count: 0 },
    databases: { count: 0 },
  };
  return { name: t.name, resources };
}

export function accountJson(): components['schemas']['account'] {
  return {
    droplet_limit: 25_000,
    floating_ip_limit: 10,
    email: 'fleet@genesis.example',
    name: 'Genesis fleet (simulated)',
    uuid: '0f4b3d1c9a8e7f6d5c4b3a2918070605f4e3d2c1',
    email_verified: true,
    status: 'active',
    status_message: '',
  };
}
