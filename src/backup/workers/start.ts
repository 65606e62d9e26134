import {Worker, type WorkerOptions} from 'node:worker_threads'

/**
 * Starts a worker script of this folder by name ("blob-worker", …): the .js file when built; under tsx (tests)
 * the .ts file, through a small bootstrap that registers tsx in the worker, since Node 20 does not carry
 * loader hooks into worker threads.
 */
export function startWorker(name: string, workerData: unknown, opts: Omit<WorkerOptions, 'workerData' | 'eval'> = {}): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), {...opts, workerData})
  const url = new URL(`./${name}.ts`, import.meta.url).href
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}) })`
  return new Worker(boot, {...opts, eval: true, workerData})
}
