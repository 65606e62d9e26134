import {readLifecycle, type LifecycleRule} from '../../../s3/lifecycle.js'
import {S3Command, s3Flags} from '../../../cli/s3-command.js'

export default class S3LifecycleShow extends S3Command<typeof S3LifecycleShow> {
  static override description = 'Show the lifecycle rules of a bucket (transitions to cold storage, expirations).'
  static override examples = ['<%= config.bin %> s3 lifecycle show --bucket my-backups', '<%= config.bin %> s3 lifecycle show --bucket my-backups --json']
  static override flags = {...s3Flags}

  async run(): Promise<{bucket: string; configured: boolean; rules: LifecycleRule[]; transitionDefaultMinimumObjectSize?: string}> {
    const cur = await readLifecycle(await this.s3(), this.bucket)
    const result = {bucket: cur.bucket, configured: cur.configured, rules: cur.rules, transitionDefaultMinimumObjectSize: cur.transitionDefaultMinimumObjectSize}
    if (!this.jsonEnabled()) {
      if (!cur.configured) this.log(`bucket ${cur.bucket} has no lifecycle rules`)
      else {
        this.log(`lifecycle rules of bucket ${cur.bucket}:`)
        for (const r of cur.rules) for (const l of ruleLines(r)) this.log(l)
      }
    }
    return result
  }
}

/** A rule in words, one line per part. */
export function ruleLines(r: LifecycleRule): string[] {
  const filter: string[] = []
  if (r.prefix) filter.push(`prefix ${r.prefix}`)
  for (const [k, v] of Object.entries(r.tags ?? {})) filter.push(`tag ${k}=${v}`)
  if (r.objectSizeGreaterThan !== undefined) filter.push(`size > ${r.objectSizeGreaterThan} B`)
  if (r.objectSizeLessThan !== undefined) filter.push(`size < ${r.objectSizeLessThan} B`)
  const lines = [`  ${r.id} (${r.enabled ? 'enabled' : 'DISABLED'})`, `      objects: ${filter.length > 0 ? filter.join(' and ') : 'the whole bucket'}`]
  for (const t of r.transitions ?? []) lines.push(`      → ${t.storageClass} ${t.days === undefined ? `on ${t.date}` : `after ${t.days} days`}`)
  if (r.expiration?.days !== undefined) lines.push(`      expire after ${r.expiration.days} days`)
  if (r.expiration?.date !== undefined) lines.push(`      expire on ${r.expiration.date}`)
  if (r.expiration?.expiredObjectDeleteMarker) lines.push('      remove expired delete markers')
  for (const t of r.noncurrentVersionTransitions ?? []) {
    lines.push(`      noncurrent versions → ${t.storageClass} after ${t.days} days${t.newerNoncurrentVersions ? ` (keeping ${t.newerNoncurrentVersions} newer)` : ''}`)
  }
  const nce = r.noncurrentVersionExpiration
  if (nce) lines.push(`      noncurrent versions expire after ${nce.days} days${nce.newerNoncurrentVersions ? ` (keeping ${nce.newerNoncurrentVersions} newer)` : ''}`)
  if (r.abortIncompleteMultipartUploadDays !== undefined) lines.push(`      abort incomplete multipart uploads after ${r.abortIncompleteMultipartUploadDays} days`)
  return lines
}
