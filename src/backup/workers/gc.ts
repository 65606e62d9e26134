import v8 from 'node:v8'
import vm from 'node:vm'

/**
 * A way to ask V8 for a garbage collection now. The backup, restore and check workers produce a buffer per
 * blob (decrypt/encrypt output) that V8 otherwise collects only after tens of MiB of them have piled up in each
 * thread; collecting after each pack keeps peak memory near what is live. Undefined if V8 refuses.
 */
export const collectGarbage: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as unknown
    return typeof gc === 'function' ? (gc as () => void) : undefined
  } catch {
    return undefined
  }
})()
