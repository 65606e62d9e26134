import {BackupClient} from '@aws-sdk/client-backup'

import {type AwsOptions, makeAwsClient} from '../aws/clients.js'
import {LifeboatError} from '../errors.js'

/** What every AWS Backup library function accepts: a client (tests, DR steps) or the options to make one. */
export interface BackupClientOptions {
  aws?: AwsOptions
  client?: BackupClient
}

export function backupClient(opts: BackupClientOptions = {}): BackupClient {
  return opts.client ?? makeAwsClient(BackupClient, opts.aws)
}

/** An AWS error after the SDK's own retries, turned into a LifeboatError naming the operation and what to do. */
export class AwsBackupError extends LifeboatError {}

interface SdkErrorLike {
  name?: string
  message?: string
  $metadata?: {httpStatusCode?: number; attempts?: number; requestId?: string}
  $retryable?: {throttling?: boolean}
}

/** Operations that hand an IAM role to AWS Backup (the caller also needs iam:PassRole). */
const PASSES_ROLE = new Set(['CreateBackupSelection', 'StartBackupJob', 'StartRestoreJob', 'StartCopyJob'])

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown'])

/**
 * Maps an SDK error to a clear LifeboatError. The SDK has already retried throttling and transient errors
 * (maxAttempts 5 in makeAwsClient); what reaches us persisted.
 */
export function awsError(err: unknown, operation: string, subject?: string): LifeboatError {
  if (err instanceof LifeboatError) return err
  const e = (err ?? {}) as SdkErrorLike
  const name = e.name ?? 'Error'
  const awsMsg = e.message ?? String(err)
  const on = subject ? ` (${subject})` : ''
  const attempts = e.$metadata?.attempts
  const details = {awsError: name, operation, requestId: e.$metadata?.requestId, attempts}
  if (THROTTLING.has(name) || e.$retryable?.throttling) {
    return new AwsBackupError(
      `AWS Backup throttled ${operation}${on}${attempts ? ` and was still throttling after ${attempts} attempts` : ''}: ${awsMsg}`,
      {code: 'AWS_THROTTLED', details, cause: err, hint: 'too many AWS Backup requests in this account and region: wait a minute and re-run (nothing after the failed call was done)'},
    )
  }
  switch (name) {
    case 'AccessDeniedException':
    case 'AccessDenied':
    case 'UnauthorizedOperation':
    case 'UnrecognizedClientException':
    case 'ExpiredTokenException': {
      return new AwsBackupError(`access denied to ${operation}${on}: ${awsMsg}`, {
        code: 'AWS_ACCESS_DENIED',
        details,
        cause: err,
        hint: `the AWS identity in use needs permission for backup:${operation}${PASSES_ROLE.has(operation) ? ' and iam:PassRole on the role it hands to AWS Backup' : ''} (check --profile / AWS_PROFILE and the IAM policy)`,
      })
    }
    case 'AlreadyExistsException': {
      return new AwsBackupError(`${subject ?? 'the resource'} already exists (${operation}): ${awsMsg}`, {code: 'AWS_ALREADY_EXISTS', details, cause: err})
    }
    case 'ResourceNotFoundException': {
      return new AwsBackupError(`${subject ?? 'the resource'} was not found (${operation}): ${awsMsg}`, {
        code: 'AWS_NOT_FOUND',
        details,
        cause: err,
        hint: 'check the name or ARN and the region (--region)',
      })
    }
    case 'InvalidParameterValueException':
    case 'InvalidRequestException':
    case 'MissingParameterValueException':
    case 'ValidationException': {
      return new AwsBackupError(`AWS Backup rejected ${operation}${on}: ${awsMsg}`, {code: 'AWS_INVALID_REQUEST', details, cause: err})
    }
    case 'InvalidResourceStateException':
    case 'ConflictException': {
      return new AwsBackupError(`AWS Backup cannot ${operation}${on} now: ${awsMsg}`, {code: 'AWS_CONFLICT', details, cause: err, hint: 'another operation is in progress on it; retry later'})
    }
    case 'LimitExceededException': {
      return new AwsBackupError(`an AWS Backup quota was exceeded by ${operation}${on}: ${awsMsg}`, {code: 'AWS_LIMIT_EXCEEDED', details, cause: err, hint: 'see the AWS Backup quotas in Service Quotas'})
    }
    case 'CredentialsProviderError': {
      return new AwsBackupError(`no AWS credentials for ${operation}: ${awsMsg}`, {
        code: 'AWS_NO_CREDENTIALS',
        cause: err,
        hint: 'configure credentials (aws configure, AWS_PROFILE, --profile, or an instance role)',
      })
    }
    default: {
      return new AwsBackupError(`${operation}${on} failed: ${name}: ${awsMsg}`, {code: 'AWS_ERROR', details, cause: err})
    }
  }
}

/** Runs one AWS call (or a paginated loop) and maps its errors. */
export async function call<T>(operation: string, subject: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw awsError(error, operation, subject)
  }
}

/** True when the error (raw or mapped) is AWS's ResourceNotFoundException. */
export function isNotFound(err: unknown): boolean {
  if (err instanceof LifeboatError) return err.code === 'AWS_NOT_FOUND'
  return (err as SdkErrorLike | undefined)?.name === 'ResourceNotFoundException'
}
