import type {StepRegistry} from './playbook.js'
import type {SweepFn} from './runner.js'
import {steps} from './steps/index.js'
import {sweepRunResources} from './sweep.js'

/**
 * The step registry the CLI runs with: src/dr/steps/index.ts (`steps`) and src/dr/sweep.ts
 * (`sweepRunResources`). The runner never imports them itself (it takes them as RunnerDeps), so tests
 * inject fakes; `setRegistryForTests` does the same for in-process command tests.
 */
export interface Registry {
  steps: StepRegistry
  sweep?: SweepFn
  /** Tests only: a fake clock for in-process command runs (steps poll through ctx.sleep/ctx.now). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  now?: () => Date
}

// On globalThis: oclif may load a command's modules through its own loader (a second module instance).
const KEY = Symbol.for('lifeboat.dr.registry-override')
const slot = globalThis as unknown as Record<symbol, Registry | undefined>

export function setRegistryForTests(r: Registry | undefined): void {
  slot[KEY] = r
}

export async function loadRegistry(): Promise<Registry> {
  const override = slot[KEY]
  if (override) return override
  return {steps, sweep: sweepRunResources}
}
