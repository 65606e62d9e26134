/** Walking a snapshot's trees (ls, find, restore planning). */
import type {Repository} from './repository.js'
import {decodeTree} from './tree.js'
import type {TreeNode} from './types.js'

export interface WalkedNode {
  /** Absolute path inside the snapshot ("/home/pi/a.txt"); raw bytes in pathRaw when a name is not UTF-8. */
  path: string
  pathRaw: Buffer
  node: TreeNode
}

export function nodeName(n: TreeNode): Buffer {
  return n.nameRaw ?? Buffer.from(n.name, 'utf8')
}

/** Depth-first walk of a tree, parents before children, siblings in name order. */
export async function* walkTree(repo: Repository, treeId: string, prefix: Buffer = Buffer.alloc(0)): AsyncGenerator<WalkedNode> {
  const nodes = decodeTree(await repo.loadBlob('tree', treeId))
  for (const node of nodes) {
    const raw = Buffer.concat([prefix, Buffer.from('/'), nodeName(node)])
    yield {path: raw.toString('utf8'), pathRaw: raw, node}
    if (node.type === 'dir' && node.subtree) yield* walkTree(repo, node.subtree, raw)
  }
}

/** Lists a snapshot's nodes, or only those at and below `under` (an absolute path inside the snapshot). */
export async function* listNodes(repo: Repository, treeId: string, under?: string): AsyncGenerator<WalkedNode> {
  const base = under ? '/' + under.split('/').filter(Boolean).join('/') : '/'
  for await (const w of walkTree(repo, treeId)) {
    if (base === '/' || w.path === base || w.path.startsWith(base + '/')) yield w
  }
}
