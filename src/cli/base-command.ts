import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import {applyEnv, loadConfig, type LoadedConfig} from '../config/load.js'
import {ExitCode, LifeboatError} from '../errors.js'
import {promptPolicy, type PromptPolicy} from './prompt.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** The one JSON envelope every command prints under --json (documented in docs/json.md). */
export interface SuccessEnvelope<T = unknown> {
  /** false when the command ran to the end but found a failure (exit code 1 or 4); `result` then says what. */
  ok: boolean
  command: string
  result: T
  warnings: string[]
}
export interface ErrorEnvelope {
  ok: false
  command: string
  error: {code: string; message: string; exitCode: number; where?: string; hint?: string; details?: unknown}
  warnings: string[]
}

/**
 * Every Lifeboat command extends this: global flags, config loading, the JSON envelope, and the mapping of
 * errors to exit codes (0 ok, 1 failure, 2 usage/config, 3 finished with warnings, 4 degraded, 10 approval
 * required). No stack trace unless --debug.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true
  static override baseFlags = {
    yes: Flags.boolean({char: 'y', description: 'Answer yes to confirmations (destructive actions still show their plan).', helpGroup: 'GLOBAL'}),
    'no-input': Flags.boolean({description: 'Never prompt; a missing answer is an error naming the flag that supplies it.', helpGroup: 'GLOBAL'}),
    config: Flags.string({description: 'Config file (default $XDG_CONFIG_HOME/lifeboat/config.yaml; env LIFEBOAT_CONFIG).', helpGroup: 'GLOBAL'}),
    debug: Flags.boolean({description: 'Show stack traces and debug details on errors.', helpGroup: 'GLOBAL'}),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  /** Warnings collected during the run; a command that finishes with some exits 3 when `warningsExit` is set. */
  protected readonly warnings: string[] = []
  /** Exit code to use after a successful run (e.g. 3 for warnings, 4 for degraded). */
  protected exitCodeAfterRun: number = ExitCode.OK
  private loadedConfig?: LoadedConfig

  public override async init(): Promise<void> {
    await super.init()
    const {args, flags} = await this.parse({
      args: this.ctor.args,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      flags: this.ctor.flags,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
  }

  /** The config file merged with LIFEBOAT_* env (flags are applied by each command on top). */
  protected async getConfig(): Promise<LoadedConfig> {
    if (!this.loadedConfig) {
      const loaded = await loadConfig(this.flags.config)
      this.loadedConfig = {...loaded, config: applyEnv(loaded.config)}
    }
    return this.loadedConfig
  }

  protected get prompts(): PromptPolicy {
    return promptPolicy({json: this.jsonEnabled(), yes: Boolean(this.flags.yes), noInput: Boolean(this.flags['no-input'])})
  }

  protected addWarning(message: string): void {
    this.warnings.push(message)
    if (!this.jsonEnabled()) this.logToStderr(`warning: ${message}`)
  }

  /** Human output goes to stdout only without --json; progress and logs go to stderr. */
  protected info(message: string): void {
    if (!this.jsonEnabled()) this.logToStderr(message)
  }

  protected override toSuccessJson(result: unknown): SuccessEnvelope {
    // A run that finished but found a failure (doctor: something missing; restore: damaged data) says so.
    const ok = this.exitCodeAfterRun === ExitCode.OK || this.exitCodeAfterRun === ExitCode.WARNINGS
    return {ok, command: (this.id ?? '').replaceAll(':', ' '), result, warnings: this.warnings}
  }

  protected override toErrorJson(err: unknown): ErrorEnvelope {
    const e = normalizeError(err)
    return {
      ok: false,
      command: (this.id ?? '').replaceAll(':', ' '),
      error: {code: e.code, message: e.message, exitCode: e.exitCode, where: e.where, hint: e.hint, details: e.details},
      warnings: this.warnings,
    }
  }

  protected override logJson(json: unknown): void {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n')
  }

  protected override async _run<R>(): Promise<R> {
    const result = await super._run<R>()
    if (this.exitCodeAfterRun !== ExitCode.OK) this.exit(this.exitCodeAfterRun)
    return result
  }

  public override async catch(err: Error & {exitCode?: number}): Promise<never> {
    if (err instanceof Errors.ExitError) throw err
    const e = normalizeError(err)
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(err))
    } else {
      const lines = [`Error: ${e.message}`]
      if (e.where && !e.message.includes(e.where)) lines.push(`  where: ${e.where}`)
      if (e.hint) lines.push(`  what to do: ${e.hint}`)
      process.stderr.write(lines.join('\n') + '\n')
      if (this.flags?.debug || process.env.LIFEBOAT_DEBUG) process.stderr.write(`${err.stack ?? err}\n`)
    }
    // ExitError is swallowed silently by oclif's handler and keeps tests' process.exitCode untouched.
    Errors.exit(e.exitCode)
  }
}

/** Maps any thrown value to {code, message, exitCode, where, hint}. */
export function normalizeError(err: unknown): {code: string; message: string; exitCode: number; where?: string; hint?: string; details?: unknown} {
  if (err instanceof LifeboatError) {
    return {code: err.code, message: err.message, exitCode: err.exitCode, where: err.where, hint: err.hint, details: err.details}
  }
  if (err && typeof err === 'object' && 'parse' in err && err instanceof Errors.CLIError) {
    // oclif parser errors: unknown flag, missing argument, bad value.
    return {code: 'USAGE', message: err.message, exitCode: ExitCode.USAGE, hint: 'see --help for the flags and arguments'}
  }
  if (err instanceof Errors.CLIError) {
    return {code: 'FAILURE', message: err.message, exitCode: err.oclif?.exit ?? ExitCode.FAILURE}
  }
  const e = err as NodeJS.ErrnoException
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.syscall) {
    return {code: e.code, message: e.message, exitCode: ExitCode.FAILURE, where: e.path}
  }
  return {code: 'FAILURE', message: err instanceof Error ? err.message : String(err), exitCode: ExitCode.FAILURE}
}
