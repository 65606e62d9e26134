import {UsageError} from '../errors.js'

/**
 * When Lifeboat may ask questions: only when stdin and stdout are terminals and neither CI, --json, --yes
 * nor --no-input is set. Otherwise every missing answer is a usage error (exit 2) naming the flag.
 */
export interface PromptPolicy {
  interactive: boolean
  /** Why prompting is off, for error messages ("stdin is not a terminal", "--json is set", …). */
  reason?: string
  yes: boolean
}

export interface PromptPolicyInput {
  json?: boolean
  yes?: boolean
  noInput?: boolean
  env?: NodeJS.ProcessEnv
  stdinIsTTY?: boolean
  stdoutIsTTY?: boolean
}

export function promptPolicy(o: PromptPolicyInput): PromptPolicy {
  const env = o.env ?? process.env
  const stdinTTY = o.stdinIsTTY ?? Boolean(process.stdin.isTTY)
  const stdoutTTY = o.stdoutIsTTY ?? Boolean(process.stdout.isTTY)
  const yes = Boolean(o.yes)
  let reason: string | undefined
  if (o.json) reason = '--json is set'
  else if (o.noInput) reason = '--no-input is set'
  else if (yes) reason = '--yes is set'
  else if (isCI(env)) reason = 'CI is set'
  else if (!stdinTTY) reason = 'stdin is not a terminal'
  else if (!stdoutTTY) reason = 'stdout is not a terminal'
  return {interactive: reason === undefined, reason, yes}
}

export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
}

/** The error for an answer that cannot be asked. */
export function missingAnswer(what: string, flag: string, policy: PromptPolicy): UsageError {
  return new UsageError(`${what} is needed: pass ${flag}`, {
    code: 'MISSING_ANSWER',
    hint: `not prompting because ${policy.reason ?? 'prompting is off'}; pass ${flag}`,
  })
}

export interface AskText {
  message: string
  flag: string
  default?: string
  validate?: (v: string) => true | string
}

/** Asks for a value on a TTY; throws `missingAnswer` otherwise. */
export async function askText(policy: PromptPolicy, q: AskText): Promise<string> {
  if (!policy.interactive) throw missingAnswer(q.message, q.flag, policy)
  const {input} = await import('@inquirer/prompts')
  return input({message: q.message, default: q.default, validate: q.validate})
}

export async function askSecret(policy: PromptPolicy, q: {message: string; flag: string; confirm?: boolean}): Promise<string> {
  if (!policy.interactive) throw missingAnswer(q.message, q.flag, policy)
  const {password} = await import('@inquirer/prompts')
  const first = await password({message: q.message, mask: true, validate: (v) => (v.length > 0 ? true : 'must not be empty')})
  if (q.confirm) {
    const again = await password({message: 'Enter it again', mask: true})
    if (again !== first) throw new UsageError('the two entries differ; nothing was changed')
  }
  return first
}

export async function askConfirm(policy: PromptPolicy, q: {message: string; flag: string; default?: boolean}): Promise<boolean> {
  if (policy.yes) return true
  if (!policy.interactive) throw missingAnswer(`confirmation (${q.message})`, q.flag, policy)
  const {confirm} = await import('@inquirer/prompts')
  return confirm({message: q.message, default: q.default ?? false})
}

export async function askSelect<V extends string>(
  policy: PromptPolicy,
  q: {message: string; flag: string; choices: Array<{name: string; value: V; description?: string}>; default?: V},
): Promise<V> {
  if (!policy.interactive) throw missingAnswer(q.message, q.flag, policy)
  const {select} = await import('@inquirer/prompts')
  return select({message: q.message, choices: q.choices, default: q.default})
}

/**
 * Confirms a destructive action by having the user type the resource's name (heroku's confirm-command).
 * `--confirm NAME` (matching) or `--yes` confirms in scripts. A wrong name aborts with exit 2 and nothing is done.
 */
export async function confirmByName(
  policy: PromptPolicy,
  o: {name: string; action: string; confirm?: string},
): Promise<void> {
  if (o.confirm !== undefined) {
    if (o.confirm === o.name) return
    throw new UsageError(`--confirm "${o.confirm}" does not match "${o.name}"; nothing was done`, {
      code: 'CONFIRMATION_MISMATCH',
      hint: `pass --confirm ${o.name} to ${o.action}`,
    })
  }
  if (policy.yes) return
  if (!policy.interactive) {
    throw new UsageError(`${o.action} needs confirmation: pass --confirm ${o.name} (or --yes)`, {
      code: 'CONFIRMATION_REQUIRED',
      hint: `not prompting because ${policy.reason ?? 'prompting is off'}`,
    })
  }
  const {input} = await import('@inquirer/prompts')
  const typed = await input({message: `This will ${o.action}. Type "${o.name}" to confirm:`})
  if (typed.trim() !== o.name) {
    throw new UsageError(`confirmation did not match "${o.name}"; nothing was done`, {code: 'CONFIRMATION_MISMATCH'})
  }
}
