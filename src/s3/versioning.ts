import {GetBucketVersioningCommand, PutBucketVersioningCommand, type S3Client} from '@aws-sdk/client-s3'

import {LifeboatError} from '../errors.js'
import {isS3Error, s3Call, s3Failure} from './errors.js'
import {type ApplyOptions, verifyAfter} from './verify.js'

/** A bucket's versioning: never enabled (Unversioned), Enabled, or Suspended (it can never go back to Unversioned). */
export type VersioningStatus = 'Enabled' | 'Suspended' | 'Unversioned'

export interface VersioningState {
  bucket: string
  status: VersioningStatus
  /** MFA delete (only shown when S3 reports it). */
  mfaDelete?: string
}

export async function readVersioning(client: S3Client, bucket: string): Promise<VersioningState> {
  const out = await s3Call({bucket, call: 'GetBucketVersioning', action: 's3:GetBucketVersioning'}, () => client.send(new GetBucketVersioningCommand({Bucket: bucket})))
  const status: VersioningStatus = out.Status === 'Enabled' ? 'Enabled' : out.Status === 'Suspended' ? 'Suspended' : 'Unversioned'
  return out.MFADelete ? {bucket, status, mfaDelete: out.MFADelete} : {bucket, status}
}

export interface VersioningChange {
  bucket: string
  before: VersioningStatus
  after: VersioningStatus
  /** false when the bucket already had the wanted state (nothing was written). */
  changed: boolean
  verifyReads: number
}

/** Plans a change: what would be written (nothing when the bucket already has it). */
export function planVersioning(current: VersioningState, want: 'Enabled' | 'Suspended'): {before: VersioningStatus; after: VersioningStatus; changed: boolean} {
  // Suspending a never-versioned bucket changes nothing that matters; it is still written, so status reads "Suspended" as asked.
  return {before: current.status, after: want, changed: current.status !== want}
}

/** Enables or suspends versioning (only when it differs), then reads it back until it shows the new state. */
export async function setVersioning(client: S3Client, bucket: string, want: 'Enabled' | 'Suspended', o: ApplyOptions = {}): Promise<VersioningChange> {
  const current = await readVersioning(client, bucket)
  const plan = planVersioning(current, want)
  if (!plan.changed) return {bucket, ...plan, verifyReads: 0}
  try {
    await client.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: want}}))
  } catch (error) {
    if (isS3Error(error, 'InvalidBucketState')) {
      throw new LifeboatError(`S3 refused to ${want === 'Enabled' ? 'enable' : 'suspend'} versioning on ${bucket}: ${(error as Error).message}`, {
        code: 'S3_INVALID_BUCKET_STATE',
        where: `s3://${bucket}`,
        hint: 'a bucket with replication or object lock must keep versioning enabled; remove the replication first (`lifeboat s3 replication remove`); object lock can never be turned off',
        cause: error,
      })
    }
    throw s3Failure(error, {bucket, call: 'PutBucketVersioning', action: 's3:PutBucketVersioning'})
  }
  const verifyReads = await verifyAfter(
    o,
    () => readVersioning(client, bucket),
    (back) => (back.status === want ? [] : [`versioning: expected ${want}, found ${back.status}`]),
  )
  return {bucket, ...plan, verifyReads}
}
