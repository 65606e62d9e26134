import {LifeboatError} from '../errors.js'

export interface ApplyOptions {
  /** How many times to read the configuration back before calling a difference a failure (S3 propagates changes with a delay). */
  verifyAttempts?: number
  verifyDelayMs?: number
  sleep?: (ms: number) => Promise<void>
}

/**
 * Reads back after a write until `differences` is empty, up to `verifyAttempts` reads `verifyDelayMs` apart;
 * then fails with the differences (exit 1): the write was accepted but the bucket does not hold what was written.
 */
export async function verifyAfter<T>(o: ApplyOptions, read: () => Promise<T>, differences: (back: T) => string[]): Promise<number> {
  const attempts = Math.max(1, o.verifyAttempts ?? 5)
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  let diffs: string[] = []
  for (let i = 1; i <= attempts; i++) {
    if (i > 1) await sleep(o.verifyDelayMs ?? 2000)
    diffs = differences(await read())
    if (diffs.length === 0) return i
  }
  throw new LifeboatError(`the configuration read back after the write differs from what was written (${attempts} reads):\n  ${diffs.join('\n  ')}`, {
    code: 'S3_VERIFY_FAILED',
    hint: 'another writer may have changed the bucket at the same time, or the S3 server ignored part of the request; run the command again to see the current state',
    details: {differences: diffs},
  })
}

