import type {StepRegistry} from './playbook.js'
import type {SweepFn} from './runner.js'
import {steps} from './steps/index.js'

/**
 * The step registry the CLI runs with: src/dr/steps/index.ts (`steps`) and src/dr/sweep.ts
 * (`sweepRunResources`). The runner never imports them itself (it takes them as RunnerDeps), so tests
 * inject fakes; `setRegistryForTests` does the same for in-process command tests.
 */
export interface Registry {
  steps: StepRegistry
  sweep?: SweepFn
}

let override: Registry | undefined

export function setRegistryForTests(r: Registry | undefined): void {
  override = r
}

export async function loadRegistry(): Promise<Registry> {
  if (override) return override
  const sweepPath = './sweep.js'
  let sweep: SweepFn | undefined
  try {
    sweep = ((await import(sweepPath)) as {sweepRunResources: SweepFn}).sweepRunResources
  } catch {
    sweep = undefined
  }
  return {steps, sweep}
}
