import {LifeboatError} from '../errors.js'

/**
 * S3 errors in words. The SDK throws S3ServiceException subclasses (or plain ones for unmodelled codes) whose
 * `name` is the S3 error code (AccessDenied, NoSuchBucket, NoSuchLifecycleConfiguration, …) and whose
 * `$metadata.httpStatusCode` is the HTTP status.
 */
export interface S3ErrorLike {
  name?: string
  Code?: string
  message?: string
  $metadata?: {httpStatusCode?: number}
  $response?: {headers?: Record<string, string>}
}

export function s3ErrorName(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined
  const e = err as S3ErrorLike
  return e.name ?? e.Code
}

export function isS3Error(err: unknown, ...names: string[]): boolean {
  const n = s3ErrorName(err)
  return n !== undefined && names.includes(n)
}

export function httpStatus(err: unknown): number | undefined {
  return (err as S3ErrorLike | undefined)?.$metadata?.httpStatusCode
}

/**
 * Wraps an S3 API failure in a LifeboatError that says which call on which bucket failed and what to do.
 * `action` is the IAM action the call needs (s3:GetLifecycleConfiguration, …), named when access is denied.
 */
export function s3Failure(err: unknown, o: {bucket: string; call: string; action: string}): LifeboatError {
  if (err instanceof LifeboatError) return err
  const name = s3ErrorName(err) ?? 'Error'
  const status = httpStatus(err)
  const msg = (err as S3ErrorLike | undefined)?.message ?? String(err)
  const where = `s3://${o.bucket}`
  const detail = `${name}${status ? ` (HTTP ${status})` : ''}: ${msg}`
  switch (name) {
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return new LifeboatError(`${o.call} on bucket ${o.bucket} was denied: ${detail}`, {
        code: 'S3_ACCESS_DENIED',
        where,
        hint: `the credentials in use need ${o.action} on arn:aws:s3:::${o.bucket} (check --profile / AWS_PROFILE, the IAM policy and the bucket policy)`,
        cause: err,
      })
    case 'NoSuchBucket':
      return new LifeboatError(`bucket ${o.bucket} does not exist (${o.call})`, {
        code: 'S3_NO_SUCH_BUCKET',
        where,
        hint: 'check the bucket name, the --profile (account) and the --region',
        cause: err,
      })
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException': {
      const region = (err as S3ErrorLike).$response?.headers?.['x-amz-bucket-region']
      return new LifeboatError(`bucket ${o.bucket} is in another region than the one in use (${o.call}): ${detail}`, {
        code: 'S3_WRONG_REGION',
        where,
        hint: region ? `pass --region ${region}` : 'pass the bucket\'s region with --region',
        cause: err,
      })
    }
    case 'CredentialsProviderError':
      return new LifeboatError(`no AWS credentials for ${o.call} on bucket ${o.bucket}: ${msg}`, {
        code: 'AWS_NO_CREDENTIALS',
        where,
        hint: 'use --profile NAME (or AWS_PROFILE), or the SDK\'s other sources (environment, SSO, instance role)',
        cause: err,
      })
    default: {
      const sys = (err as {code?: string} | undefined)?.code
      const network = ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(sys ?? '') || name === 'TimeoutError'
      return new LifeboatError(`${o.call} on bucket ${o.bucket} failed: ${detail}`, {
        code: 'S3_REQUEST_FAILED',
        where,
        hint: network ? 'the S3 endpoint could not be reached: check the network, --region and AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL' : undefined,
        cause: err,
      })
    }
  }
}

/** Runs one S3 call and turns its failure into a LifeboatError (see s3Failure). */
export async function s3Call<T>(o: {bucket: string; call: string; action: string}, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw s3Failure(error, o)
  }
}
