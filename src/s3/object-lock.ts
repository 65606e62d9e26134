import {GetObjectLockConfigurationCommand, PutObjectLockConfigurationCommand, type S3Client} from '@aws-sdk/client-s3'

import {LifeboatError, UsageError} from '../errors.js'
import {isS3Error, s3Failure} from './errors.js'
import {clean} from './lifecycle.js'
import {readVersioning} from './versioning.js'
import {type ApplyOptions, verifyAfter} from './verify.js'

/**
 * Object lock: a default retention every new object version gets. GOVERNANCE can be bypassed by users with
 * s3:BypassGovernanceRetention; COMPLIANCE cannot be shortened or removed by anyone, root included, until each
 * version's retention ends. Turning object lock on for a bucket can never be undone.
 */
export type LockMode = 'GOVERNANCE' | 'COMPLIANCE'

export interface ObjectLockState {
  bucket: string
  enabled: boolean
  defaultRetention?: {mode: string; days?: number; years?: number}
}

export async function readObjectLock(client: S3Client, bucket: string): Promise<ObjectLockState> {
  try {
    const out = await client.send(new GetObjectLockConfigurationCommand({Bucket: bucket}))
    const c = out.ObjectLockConfiguration
    const r = c?.Rule?.DefaultRetention
    return clean({
      bucket,
      enabled: c?.ObjectLockEnabled === 'Enabled',
      defaultRetention: r ? clean({mode: String(r.Mode ?? ''), days: r.Days, years: r.Years}) : undefined,
    }) as ObjectLockState
  } catch (error) {
    if (isS3Error(error, 'ObjectLockConfigurationNotFoundError')) return {bucket, enabled: false}
    throw s3Failure(error, {bucket, call: 'GetObjectLockConfiguration', action: 's3:GetBucketObjectLockConfiguration'})
  }
}

export interface ObjectLockPlan {
  bucket: string
  before: ObjectLockState
  after: {mode: LockMode; days: number}
  changed: boolean
  /** Object lock is off now and would be turned on (permanent). */
  enablesLock: boolean
  compliance: boolean
}

export function planObjectLock(current: ObjectLockState, want: {mode: LockMode; days: number}): ObjectLockPlan {
  if (!Number.isInteger(want.days) || want.days < 1 || want.days > 36_500) {
    throw new UsageError(`--days ${want.days}: a retention of 1 to 36500 days`, {code: 'USAGE'})
  }
  const r = current.defaultRetention
  const same = current.enabled && r?.mode === want.mode && r.days === want.days && r.years === undefined
  return {bucket: current.bucket, before: current, after: want, changed: !same, enablesLock: !current.enabled, compliance: want.mode === 'COMPLIANCE'}
}

/** Sets the default retention (versioning must be Enabled), then reads it back until it matches. */
export async function applyObjectLock(client: S3Client, plan: ObjectLockPlan, o: ApplyOptions = {}): Promise<{written: boolean; verifyReads: number}> {
  if (!plan.changed) return {written: false, verifyReads: 0}
  const bucket = plan.bucket
  const v = await readVersioning(client, bucket)
  if (v.status !== 'Enabled') {
    throw new LifeboatError(`object lock needs versioning Enabled on ${bucket}, which is ${v.status}`, {
      code: 'VERSIONING_REQUIRED',
      where: `s3://${bucket}`,
      hint: `enable it first: lifeboat s3 versioning enable --bucket ${bucket}`,
    })
  }
  try {
    await client.send(
      new PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {ObjectLockEnabled: 'Enabled', Rule: {DefaultRetention: {Mode: plan.after.mode, Days: plan.after.days}}},
      }),
    )
  } catch (error) {
    if (isS3Error(error, 'InvalidBucketState', 'InvalidRequest')) {
      throw new LifeboatError(`S3 refused the object lock configuration on ${bucket}: ${(error as Error).message}`, {
        code: 'S3_INVALID_BUCKET_STATE',
        where: `s3://${bucket}`,
        hint: 'object lock needs versioning Enabled; some S3-compatible servers only allow it on buckets created with object lock',
        cause: error,
      })
    }
    throw s3Failure(error, {bucket, call: 'PutObjectLockConfiguration', action: 's3:PutBucketObjectLockConfiguration'})
  }
  const verifyReads = await verifyAfter(
    o,
    () => readObjectLock(client, bucket),
    (back) => {
      const r = back.defaultRetention
      if (back.enabled && r?.mode === plan.after.mode && r.days === plan.after.days && r.years === undefined) return []
      return [`object lock: expected ${plan.after.mode} ${plan.after.days} days, found ${back.enabled ? (r ? `${r.mode} ${r.days ?? `${r.years} years`} days` : 'enabled without default retention') : 'not enabled'}`]
    },
  )
  return {written: true, verifyReads}
}
