import type {Runner} from '../exec/runner.js'

/**
 * The one interface both RAID engines (Linux md through mdadm, btrfs) implement. Commands and the monitor
 * speak only to this; engine-specific details live in src/raid/md/ and src/raid/btrfs/.
 *
 * Everything an engine reads from the kernel goes through `EngineEnv`, so tests (and the md VM harness) can
 * point it at captured files or at a guest's real /proc and /sys.
 */

export type EngineName = 'md' | 'btrfs'

/** User-facing levels. btrfs maps 0/1/10/5/6 onto its profiles (raid0, raid1, raid10, raid5, raid6) and adds 1c3/1c4. */
export type RaidLevel = '0' | '1' | '4' | '5' | '6' | '10' | '0+1' | '1+0' | '1c3' | '1c4'

export type Health = 'healthy' | 'degraded' | 'rebuilding' | 'failed' | 'inactive' | 'unknown'

export type MemberRole = 'active' | 'spare' | 'faulty' | 'removed' | 'replacement' | 'rebuilding' | 'missing' | 'unknown'

export interface MemberStatus {
  device: string // /dev/sdb, /dev/loop3, or "missing" for an absent btrfs devid
  role: MemberRole
  /** The raw state words (md sysfs dev-N/state such as "in_sync,write_mostly"; btrfs "missing"). */
  state: string
  slot?: number
  sizeBytes?: number
  serial?: string
  byId?: string
  /** Per-device error counters (btrfs device stats; md sysfs dev-N/errors as read errors). */
  errors?: {read: number; write: number; flush?: number; corruption?: number; generation?: number}
}

export type ProgressAction = 'resync' | 'recovery' | 'check' | 'repair' | 'reshape' | 'scrub' | 'replace' | 'balance'

export interface ArrayProgress {
  action: ProgressAction
  percent: number // 0..100
  doneBytes?: number
  totalBytes?: number
  speedBytesPerSec?: number
  etaSeconds?: number
  /** e.g. "DELAYED", "PENDING" for md resync that has not started. */
  note?: string
}

export interface ArrayStatus {
  engine: EngineName
  name: string // md: "md0" or the --name given at create; btrfs: the label
  device?: string // /dev/md0; btrfs: the first member device
  mountpoint?: string
  uuid?: string
  level: string // as the engine reports it: raid5, raid1, RAID1 (btrfs data profile)...
  sizeBytes?: number
  health: Health
  /** The engine's raw state text (md "clean, degraded, recovering"; btrfs a summary). */
  state: string
  members: MemberStatus[]
  /** How many active members the array is meant to have (md "Raid Devices"). */
  expectedMembers?: number
  progress?: ArrayProgress
  bitmap?: string
  mismatchCount?: number
  /** zpool-status style explanation lines: what is wrong, and what to do. */
  status: string[]
  action: string[]
  /** For nested levels (0+1 / 1+0): the md arrays this one is built from. */
  children?: ArrayStatus[]
}

export interface CreateSpec {
  name: string
  level: RaidLevel
  devices: string[]
  spares?: string[]
  chunkKiB?: number
  bitmap?: 'internal' | 'none'
  /** Wipe old signatures/superblocks first (only after the user confirmed). */
  wipe?: boolean
}

/** A command the engine would run, for --dry-run and plans (argv array, never a shell string). */
export type Argv = string[]

export interface EngineEnv {
  runner: Runner
  /** Root of /proc and /sys to read (default "/"; tests point this at fixtures). */
  root?: string
  /** Injectable clock/sleep for progress polling in tests. */
  sleep?: (ms: number) => Promise<void>
}

export type RaidEventName =
  | 'DegradedArray'
  | 'Fail'
  | 'SpareActive'
  | 'RebuildStarted'
  | 'RebuildFinished'
  | 'SparesMissing'
  | 'MismatchesFound'
  | 'DeviceErrors'

export interface RaidEvent {
  event: RaidEventName
  engine: EngineName
  array: string
  device?: string
  time: string // ISO 8601
  message: string
  details?: Record<string, unknown>
}

export type ProgressCallback = (p: ArrayProgress | undefined, status: ArrayStatus) => void

export interface RaidEngine {
  readonly name: EngineName
  /** Whether the engine can run here (tools present, kernel support); the reason when not. */
  available(): Promise<{ok: true} | {ok: false; reason: string; hint?: string}>
  list(): Promise<ArrayStatus[]>
  status(nameOrDevice: string): Promise<ArrayStatus>
  /** The commands create would run, in order (for --dry-run and the confirmation screen). */
  createCommands(spec: CreateSpec): Argv[]
  create(spec: CreateSpec): Promise<ArrayStatus>
  fail(array: string, device: string): Promise<ArrayStatus>
  remove(array: string, device: string): Promise<ArrayStatus>
  add(array: string, device: string): Promise<ArrayStatus>
  addSpare(array: string, device: string): Promise<ArrayStatus>
  replace(array: string, oldDevice: string, newDevice: string, opts?: {wait?: boolean; onProgress?: ProgressCallback}): Promise<ArrayStatus>
  grow(array: string, opts: {add: string[]; level?: RaidLevel}): Promise<ArrayStatus>
  scrubStart(array: string, opts?: {repair?: boolean}): Promise<ArrayStatus>
  scrubStatus(array: string): Promise<ArrayStatus>
  scrubCancel(array: string): Promise<ArrayStatus>
  /** Wait until no resync/recovery/replace is running, calling onProgress as it goes. */
  waitIdle(array: string, opts?: {onProgress?: ProgressCallback; timeoutMs?: number; pollMs?: number}): Promise<ArrayStatus>
}
