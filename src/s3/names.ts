import {UsageError} from '../errors.js'

/**
 * Bucket names as S3 accepts them (3–63 characters: lowercase letters, digits, dots and hyphens, starting and
 * ending with a letter or digit). A common mistake, `s3://bucket/prefix`, gets a hint.
 */
export function checkBucketName(name: string, flag = '--bucket'): string {
  const n = name.trim()
  if (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(n) && !n.includes('..')) return n
  const fix = n.replace(/^s3:\/\//, '').replace(/^arn:aws[\w-]*:s3:::/, '').split('/')[0]
  const hint =
    fix !== n && fix.length > 0
      ? `pass only the bucket's name: ${flag} ${fix}`
      : 'a bucket name has 3–63 characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit'
  throw new UsageError(`${flag} "${name}" is not a valid S3 bucket name`, {code: 'BAD_BUCKET_NAME', hint})
}

/** Accepts a bucket name or its ARN (arn:aws:s3:::NAME) and returns the name. */
export function bucketFromNameOrArn(value: string, flag: string): string {
  const m = /^arn:aws[\w-]*:s3:::([^/]+)$/.exec(value.trim())
  return checkBucketName(m ? m[1] : value, flag)
}

/** AWS's syntax for tag keys and values: letters, digits, spaces and + - = . _ : / @ (Unicode letters allowed). */
export const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u
