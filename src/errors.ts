/**
 * Errors every layer may throw. Each carries the process exit code it maps to, a stable machine-readable
 * code for the JSON envelope, where it happened (file:line, a device, a repository) and what to do next.
 * Plain module: imported by domain code and by the CLI alike.
 */

export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  WARNINGS: 3,
  DEGRADED: 4,
  APPROVAL_REQUIRED: 10,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export interface LifeboatErrorOptions {
  code?: string
  exitCode?: number
  where?: string
  hint?: string
  details?: unknown
  cause?: unknown
}

export class LifeboatError extends Error {
  readonly code: string
  readonly exitCode: number
  readonly where?: string
  readonly hint?: string
  readonly details?: unknown

  constructor(message: string, opts: LifeboatErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = new.target.name
    this.code = opts.code ?? 'FAILURE'
    this.exitCode = opts.exitCode ?? ExitCode.FAILURE
    this.where = opts.where
    this.hint = opts.hint
    this.details = opts.details
  }
}

/** A flag, argument or answer is missing or wrong: exit 2. */
export class UsageError extends LifeboatError {
  constructor(message: string, opts: Omit<LifeboatErrorOptions, 'exitCode'> = {}) {
    super(message, {code: 'USAGE', ...opts, exitCode: ExitCode.USAGE})
  }
}

/** A configuration file (or playbook, plan) is unreadable or invalid: exit 2, `where` is file:line:column. */
export class ConfigError extends LifeboatError {
  readonly issues: ConfigIssue[]
  constructor(message: string, issues: ConfigIssue[] = [], opts: Omit<LifeboatErrorOptions, 'exitCode'> = {}) {
    super(message, {code: 'CONFIG_INVALID', ...opts, exitCode: ExitCode.USAGE})
    this.issues = issues
  }
}

export interface ConfigIssue {
  file: string
  line?: number
  column?: number
  path: string
  message: string
}

/** A step needs an approval that was not given: exit 10. */
export class ApprovalRequiredError extends LifeboatError {
  constructor(message: string, opts: Omit<LifeboatErrorOptions, 'exitCode'> = {}) {
    super(message, {code: 'APPROVAL_REQUIRED', ...opts, exitCode: ExitCode.APPROVAL_REQUIRED})
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
