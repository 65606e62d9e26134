import {HeadObjectCommand, RestoreObjectCommand, type S3Client} from '@aws-sdk/client-s3'

import {LifeboatError} from '../errors.js'
import {isS3Error, s3Failure} from './errors.js'

/**
 * Cold storage on the read path. Objects in GLACIER or DEEP_ARCHIVE (and Intelligent-Tiering's archive tiers)
 * cannot be read until a temporary copy is restored: `ensureReadable` finds which keys need that, asks S3 for
 * it (RestoreObject), says how long it will take, and with `wait` polls until every copy is readable.
 * GLACIER_IR, STANDARD and the IA classes are readable at once.
 */

export type ColdTier = 'Expedited' | 'Standard' | 'Bulk'
export const COLD_TIERS: readonly ColdTier[] = ['Expedited', 'Standard', 'Bulk']

export interface EnsureReadableOptions {
  tier: ColdTier
  /** Poll until every key is readable (otherwise return the pending ones at once). */
  wait: boolean
  /** Days the restored copies stay readable (default 7). */
  days?: number
  /** Time between polls while waiting (default by tier: Expedited 30 s, Standard 5 min, Bulk 15 min). */
  pollMs?: number
  sleep?: (ms: number) => Promise<void>
  onProgress?: (p: {ready: number; pending: number; total: number}) => void
  /** Parallel HeadObject / RestoreObject requests (default 16). */
  concurrency?: number
}

export interface EnsureReadableResult {
  /** Keys readable now. */
  ready: string[]
  /** Keys whose restored copy is not ready yet. */
  pending: string[]
  /** Keys this call asked S3 to restore (RestoreObject accepted). */
  requested: string[]
  /** How long the pending keys will take, in words ("" when none is pending). */
  estimate: string
  /** Things the caller should tell the user (e.g. Expedited not available for Deep Archive: Standard used). */
  notes: string[]
  /** Pending keys by storage class (GLACIER, DEEP_ARCHIVE, INTELLIGENT_TIERING). */
  byClass: Record<string, number>
}

type Kind = 'ready' | 'restoring' | 'archived'
interface KeyState {
  key: string
  kind: Kind
  /** GLACIER, DEEP_ARCHIVE, or INTELLIGENT_TIERING (archive tiers; `deep` for its Deep Archive Access tier). */
  storageClass: string
  deep: boolean
  intelligentTiering: boolean
}

/** Parses the `x-amz-restore` header (SDK field `Restore`): undefined = no restore asked; else in progress or done. */
export function parseRestoreHeader(v: string | undefined): {ongoing: boolean; expiry?: Date} | undefined {
  if (v === undefined || v.trim() === '') return undefined
  const ongoing = /ongoing-request\s*=\s*"?true"?/i.test(v)
  const m = /expiry-date\s*=\s*"([^"]+)"/i.exec(v)
  return {ongoing, expiry: m ? new Date(m[1]) : undefined}
}

const ESTIMATE: Record<'GLACIER' | 'DEEP_ARCHIVE', Record<ColdTier, string>> = {
  GLACIER: {Expedited: '1–5 minutes', Standard: '3–5 hours', Bulk: '5–12 hours'},
  DEEP_ARCHIVE: {Expedited: 'within 12 hours', Standard: 'within 12 hours', Bulk: 'within 48 hours'},
}

/** How long a restore takes, by storage class and tier (AWS's published retrieval times). */
export function restoreEstimate(storageClass: string, tier: ColdTier): string {
  const deep = storageClass === 'DEEP_ARCHIVE' || storageClass === 'DEEP_ARCHIVE_ACCESS'
  return ESTIMATE[deep ? 'DEEP_ARCHIVE' : 'GLACIER'][effectiveTier(deep, tier)]
}

/** Deep Archive has no Expedited retrieval: Standard is used instead. */
function effectiveTier(deep: boolean, tier: ColdTier): ColdTier {
  return deep && tier === 'Expedited' ? 'Standard' : tier
}

const DEFAULT_POLL: Record<ColdTier, number> = {Expedited: 30_000, Standard: 300_000, Bulk: 900_000}

export async function ensureReadable(client: S3Client, bucket: string, keys: string[], opts: EnsureReadableOptions): Promise<EnsureReadableResult> {
  const concurrency = Math.max(1, opts.concurrency ?? 16)
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const unique = [...new Set(keys)]
  const total = unique.length
  const notes = new Set<string>()
  const requested = new Set<string>()
  /** Tier actually used per key (Standard when Expedited is impossible or unavailable). */
  const tierUsed = new Map<string, ColdTier>()

  const states = await mapLimit(unique, concurrency, (key) => headState(client, bucket, key))
  const byKey = new Map(states.map((s) => [s.key, s]))

  const requestRestores = async (list: KeyState[]) => {
    await mapLimit(list, concurrency, async (s) => {
      const outcome = await restore(client, bucket, s, opts, notes)
      tierUsed.set(s.key, outcome.tier)
      if (outcome.result === 'requested') requested.add(s.key)
      byKey.set(s.key, {...s, kind: outcome.result === 'ready' ? 'ready' : 'restoring'})
    })
  }
  await requestRestores(states.filter((s) => s.kind === 'archived'))

  const notReady = () => [...byKey.values()].filter((s) => s.kind !== 'ready')
  const pendingAtStart = notReady()
  const estimate = describeEstimate(pendingAtStart, (k) => tierUsed.get(k) ?? opts.tier)
  const byClass: Record<string, number> = {}
  for (const s of pendingAtStart) byClass[s.storageClass] = (byClass[s.storageClass] ?? 0) + 1
  const progress = () => {
    const pending = notReady().length
    opts.onProgress?.({ready: total - pending, pending, total})
  }
  progress()

  if (opts.wait) {
    const pollMs = opts.pollMs ?? DEFAULT_POLL[opts.tier]
    while (notReady().length > 0) {
      await sleep(pollMs)
      const again = await mapLimit(notReady(), concurrency, (s) => headState(client, bucket, s.key))
      for (const s of again) byKey.set(s.key, s)
      // A copy that vanished before it was read (expired, or the request was lost) is asked for again.
      await requestRestores(again.filter((s) => s.kind === 'archived'))
      progress()
    }
  }

  const ready = unique.filter((k) => byKey.get(k)!.kind === 'ready')
  const pending = unique.filter((k) => byKey.get(k)!.kind !== 'ready')
  return {ready, pending, requested: unique.filter((k) => requested.has(k)), estimate: pending.length === 0 ? '' : estimate, notes: [...notes], byClass: pending.length === 0 ? {} : byClass}
}

async function headState(client: S3Client, bucket: string, key: string): Promise<KeyState> {
  let out
  try {
    out = await client.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
  } catch (error) {
    if (isS3Error(error, 'NotFound', 'NoSuchKey')) {
      throw new LifeboatError(`s3://${bucket}/${key} does not exist`, {
        code: 'S3_OBJECT_MISSING',
        where: `s3://${bucket}/${key}`,
        hint: 'the repository index names a pack that is not in the bucket; run `lifeboat backup check`',
        cause: error,
      })
    }
    throw s3Failure(error, {bucket, call: `HeadObject ${key}`, action: 's3:GetObject'})
  }
  const storageClass = String(out.StorageClass ?? 'STANDARD')
  const restore = parseRestoreHeader(out.Restore)
  if (out.ArchiveStatus) {
    // Intelligent-Tiering archive tiers: readable again once the object is back in a frequent tier.
    const deep = out.ArchiveStatus === 'DEEP_ARCHIVE_ACCESS'
    return {key, kind: restore?.ongoing ? 'restoring' : 'archived', storageClass: 'INTELLIGENT_TIERING', deep, intelligentTiering: true}
  }
  if (storageClass !== 'GLACIER' && storageClass !== 'DEEP_ARCHIVE') return {key, kind: 'ready', storageClass, deep: false, intelligentTiering: false}
  const deep = storageClass === 'DEEP_ARCHIVE'
  const kind: Kind = restore === undefined ? 'archived' : restore.ongoing ? 'restoring' : 'ready'
  return {key, kind, storageClass, deep, intelligentTiering: false}
}

async function restore(client: S3Client, bucket: string, s: KeyState, opts: EnsureReadableOptions, notes: Set<string>): Promise<{result: 'requested' | 'in-progress' | 'ready'; tier: ColdTier}> {
  let tier = effectiveTier(s.deep, opts.tier)
  if (tier !== opts.tier) notes.add(`Expedited retrieval does not exist for Deep Archive: those objects are restored with the Standard tier (${ESTIMATE.DEEP_ARCHIVE.Standard})`)
  for (;;) {
    try {
      await client.send(
        new RestoreObjectCommand({
          Bucket: bucket,
          Key: s.key,
          // Intelligent-Tiering restores move the object back to a frequent tier: no Days.
          RestoreRequest: s.intelligentTiering ? {GlacierJobParameters: {Tier: tier}} : {Days: opts.days ?? 7, GlacierJobParameters: {Tier: tier}},
        }),
      )
      return {result: 'requested', tier}
    } catch (error) {
      if (isS3Error(error, 'RestoreAlreadyInProgress')) return {result: 'in-progress', tier}
      if (isS3Error(error, 'ObjectAlreadyInActiveTierError')) return {result: 'ready', tier}
      if (isS3Error(error, 'GlacierExpeditedRetrievalNotAvailable') && tier === 'Expedited') {
        notes.add('Expedited retrieval capacity was not available: the Standard tier was used instead')
        tier = 'Standard'
        continue
      }
      throw s3Failure(error, {bucket, call: `RestoreObject ${s.key}`, action: 's3:RestoreObject'})
    }
  }
}

function describeEstimate(pending: KeyState[], tierOf: (key: string) => ColdTier): string {
  const groups = new Map<string, {n: number; cls: string; tier: ColdTier; deep: boolean}>()
  for (const s of pending) {
    const tier = tierOf(s.key)
    const cls = s.intelligentTiering ? (s.deep ? 'INTELLIGENT_TIERING Deep Archive Access' : 'INTELLIGENT_TIERING Archive Access') : s.storageClass
    const id = `${cls}/${tier}`
    const g = groups.get(id) ?? {n: 0, cls, tier, deep: s.deep}
    g.n++
    groups.set(id, g)
  }
  return [...groups.values()]
    .map((g) => `${g.n} object${g.n === 1 ? '' : 's'} in ${g.cls}: ${ESTIMATE[g.deep ? 'DEEP_ARCHIVE' : 'GLACIER'][g.tier]} (${g.tier} retrieval)`)
    .join('; ')
}

/** Runs fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = Array.from({length: items.length})
  let next = 0
  let failed: unknown
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++
      try {
        out[i] = await fn(items[i])
      } catch (error) {
        failed ??= error
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, () => worker()))
  if (failed !== undefined) throw failed
  return out
}

/**
 * `ensureReadable`, then throws ColdObjectsPendingError when some keys are still not readable (never with
 * `wait`). `argv` is the command line as typed after the program name (process.argv.slice(2)); the error
 * names it with `--wait` added.
 */
export async function requireReadable(
  client: S3Client,
  bucket: string,
  keys: string[],
  opts: EnsureReadableOptions & {argv: string[]; bin?: string},
): Promise<EnsureReadableResult> {
  const r = await ensureReadable(client, bucket, keys, opts)
  if (r.pending.length > 0) {
    throw new ColdObjectsPendingError({
      pending: r.pending.length,
      requested: r.requested.length,
      tier: opts.tier,
      estimate: r.estimate,
      command: waitCommand(opts.argv, {bin: opts.bin, tier: opts.tier}),
      bucket,
      notes: r.notes,
    })
  }
  return r
}

/**
 * Packs a restore or `check --read-data` needs are still in cold storage: exit 1, saying how many, the tier,
 * how long, and the command that waits for them.
 */
export class ColdObjectsPendingError extends LifeboatError {
  readonly pending: number
  readonly tier: ColdTier
  readonly estimate: string
  readonly command: string
  constructor(o: {pending: number; tier: ColdTier; estimate: string; command: string; requested?: number; bucket?: string; notes?: string[]}) {
    const packs = `${o.pending} pack${o.pending === 1 ? '' : 's'}`
    const asked = o.requested === undefined ? 'restores were requested' : `${o.requested} restore${o.requested === 1 ? ' was' : 's were'} requested now`
    super(`${packs} ${o.pending === 1 ? 'is' : 'are'} in cold storage and not readable yet; ${asked} with the ${o.tier} tier (${o.estimate})`, {
      code: 'COLD_OBJECTS_PENDING',
      where: o.bucket === undefined ? undefined : `s3://${o.bucket}`,
      hint: `run this again once they are readable, or let it wait for them: ${o.command}`,
      details: {pending: o.pending, tier: o.tier, estimate: o.estimate, command: o.command, requested: o.requested, notes: o.notes ?? []},
    })
    this.pending = o.pending
    this.tier = o.tier
    this.estimate = o.estimate
    this.command = o.command
  }
}

/**
 * The command line to run later: the given argv (as typed, without the program) with `--wait` added and the
 * tier kept, quoted for a POSIX shell. E.g. waitCommand(['backup','restore','latest','--target','/srv']).
 */
export function waitCommand(argv: string[], o: {bin?: string; tier?: ColdTier} = {}): string {
  const args = argv.filter((a) => a !== '--wait' && a !== '--no-wait')
  const hasTier = args.some((a) => a === '--cold-tier' || a.startsWith('--cold-tier='))
  if (o.tier && !hasTier) args.push('--cold-tier', o.tier)
  args.push('--wait')
  return [o.bin ?? 'lifeboat', ...args].map((a) => shellQuote(a)).join(' ')
}

export function shellQuote(s: string): string {
  if (s !== '' && /^[\w@%+=:,./-]+$/.test(s)) return s
  return `'${s.replaceAll("'", String.raw`'\''`)}'`
}
