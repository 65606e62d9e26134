/** Shared helpers of the benchmarks: options, cache dropping, timing with peak RSS. */
import {execFileSync, spawnSync} from 'node:child_process'
import fs from 'node:fs'

export function option(args: string[], name: string, def: string): string {
  const i = args.indexOf(name)
  return i === -1 ? def : args[i + 1]
}

export interface Measure {
  seconds: number
  rssMiB: number
}

/** Drops the page cache (root only), so each timed step starts cold; otherwise both tools run warm alike. */
export function dropCaches(): void {
  try {
    execFileSync('sync')
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n')
  } catch {
    // not root
  }
}

/** Runs a command under GNU time: wall seconds and peak RSS. Throws with the command's stderr on failure. */
export function timed(cmd: string[], env: NodeJS.ProcessEnv): Measure {
  // --warm (or BENCH_WARM=1): keep the page cache, to compare CPU work alone.
  if (!process.argv.includes('--warm') && !process.env.BENCH_WARM) dropCaches()
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', ...cmd], {env: {...process.env, ...env}, encoding: 'utf8', maxBuffer: 64 << 20})
  const m = /TIME ([\d.]+) (\d+)/.exec(r.stderr)
  if (r.status !== 0 || !m) throw new Error(`${cmd.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`)
  return {seconds: Number(m[1]), rssMiB: Number(m[2]) / 1024}
}
