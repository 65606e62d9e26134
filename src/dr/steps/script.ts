import {z} from 'zod'

import {ToolFailedError, ToolMissingError, ToolTimeoutError, runTool, which} from '../../exec/runner.js'
import type {PlanLine, ReadinessCheck, StepDefinition} from '../step-types.js'
import {StepFailedError, duration, formatMs} from './common.js'

export const scriptParams = z
  .object({
    /** argv: the program and its arguments; never run through a shell. */
    command: z.array(z.string()).min(1),
    timeout: duration.default(5 * 60_000),
    /** Added to the environment (the environment of lifeboat is inherited). */
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    /** Exit codes that count as success (default [0]). */
    okExitCodes: z.array(z.number().int()).min(1).default([0]),
  })
  .strict()
export type ScriptParams = z.output<typeof scriptParams>

const TAIL_LINES = 20

export function tail(text: string, lines = TAIL_LINES): string {
  const all = text.replace(/\s+$/, '').split('\n')
  return all.slice(-lines).join('\n')
}

/** Runs a command (argv array, no shell) with a timeout; LIFEBOAT_RUN_ID, _STEP_ID and _MODE are set for it. */
export const script: StepDefinition<ScriptParams> = {
  type: 'script',
  params: scriptParams,

  async run(p, ctx) {
    const [cmd, ...args] = p.command
    const env = {...process.env, ...p.env, LIFEBOAT_RUN_ID: ctx.runId, LIFEBOAT_STEP_ID: ctx.stepId, LIFEBOAT_MODE: ctx.mode}
    try {
      const r = await runTool(cmd, args, {env, cwd: p.cwd, timeoutMs: p.timeout, okExitCodes: p.okExitCodes, maxBuffer: 4 * 1024 * 1024})
      return {outputs: {exitCode: r.code, stdout: tail(r.stdout), durationMs: r.durationMs}}
    } catch (error) {
      if (error instanceof ToolFailedError) {
        const err = tail(error.result.stderr) || tail(error.result.stdout)
        throw new StepFailedError(`${p.command.join(' ')} exited with ${error.result.code}${err ? `:\n${err}` : ''}`, {
          code: 'DR_SCRIPT_FAILED',
          details: {exitCode: error.result.code, stderr: tail(error.result.stderr), stdout: tail(error.result.stdout)},
        })
      }
      if (error instanceof ToolTimeoutError) {
        throw new StepFailedError(`${p.command.join(' ')} did not finish within ${formatMs(p.timeout)} and was stopped`, {code: 'DR_SCRIPT_TIMEOUT'})
      }
      if (error instanceof ToolMissingError) throw new StepFailedError(`${cmd}: not found on PATH`, {code: 'DR_SCRIPT_MISSING'})
      throw error
    }
  },

  async plan(p): Promise<PlanLine> {
    return {action: 'change', summary: `run ${JSON.stringify(p.command)} (timeout ${formatMs(p.timeout)})`}
  },

  async readiness(p): Promise<ReadinessCheck[]> {
    const found = which(p.command[0])
    return [{name: `command ${p.command[0]}`, ok: Boolean(found), detail: found ? `found at ${found}` : 'not found on PATH'}]
  },
}
