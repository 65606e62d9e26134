/**
 * Tree blobs: `{"nodes":[…]}\n`, byte-identical to restic 0.14 (Go encoding/json of its Node struct).
 *
 * Facts (checked against trees written by restic 0.14.0 / go1.19 here):
 * - Field order: name, type, mode, mtime, atime, ctime, uid, gid, user, group, inode, device_id, size,
 *   links, linktarget, linktarget_raw, extended_attributes, device, content, subtree, error.
 * - Always written: name, type, mtime, atime, ctime, uid, gid, content (null for non-files, [] for an
 *   empty file). Omitted when zero/empty: mode, user, group, inode, device_id, size, links, linktarget,
 *   extended_attributes, device, subtree, error. (linktarget_raw is restic ≥ 0.17; 0.14 never writes it.)
 * - `name` holds Go's strconv.Quote of the name without the outer quotes (`\"`, `\\`, `\n`, `\x01`,
 *   `\xff` for invalid UTF-8 bytes, `\u2028` for non-printable runes), then JSON-escaped.
 * - Strings are JSON-escaped as Go 1.19 does: `<`, `>`, `&` as \u003c \u003e \u0026, U+2028/U+2029 as
 *   \u2028/\u2029, control characters as \u00XX except \n \r \t, invalid UTF-8 as \ufffd.
 * - Byte slices (xattr values, linktarget_raw) are standard base64.
 * - Nodes sorted by name bytes; an empty directory is `{"nodes":[]}`.
 */
import type {TreeNode} from './types.js'

// ---------------------------------------------------------------------------------------------------
// UTF-8 as Go sees it: a rune, or one invalid byte.

/** Decodes the rune at bytes[i]: returns [rune, size] with rune −1 for an invalid byte (size 1). */
function decodeRune(bytes: Uint8Array, i: number): [number, number] {
  const b0 = bytes[i]
  if (b0 < 0x80) return [b0, 1]
  const n = bytes.length
  const cont = (j: number, lo = 0x80, hi = 0xbf): number => (j < n && bytes[j] >= lo && bytes[j] <= hi ? bytes[j] & 0x3f : -1)
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(i + 1)
    return c1 < 0 ? [-1, 1] : [((b0 & 0x1f) << 6) | c1, 2]
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(i + 1, b0 === 0xe0 ? 0xa0 : 0x80, b0 === 0xed ? 0x9f : 0xbf)
    const c2 = c1 < 0 ? -1 : cont(i + 2)
    return c2 < 0 ? [-1, 1] : [((b0 & 0x0f) << 12) | (c1 << 6) | c2, 3]
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(i + 1, b0 === 0xf0 ? 0x90 : 0x80, b0 === 0xf4 ? 0x8f : 0xbf)
    const c2 = c1 < 0 ? -1 : cont(i + 2)
    const c3 = c2 < 0 ? -1 : cont(i + 3)
    return c3 < 0 ? [-1, 1] : [((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4]
  }
  return [-1, 1]
}

/** True when `bytes` is valid UTF-8 by Go's rules (no surrogates, no overlong forms). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; ) {
    if (bytes[i] < 0x80) {
      i++
      continue
    }
    const [r, size] = decodeRune(bytes, i)
    if (r < 0) return false
    i += size
  }
  return true
}

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and U+0020. (Node's Unicode
// tables are newer than go1.19's Unicode 13: runes assigned since then count as printable here.)
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u

function isPrint(r: number): boolean {
  if (r < 0x80) return r >= 0x20 && r < 0x7f
  return PRINTABLE.test(String.fromCodePoint(r))
}

const hex = (v: number, width: number): string => v.toString(16).padStart(width, '0')

/** Go's strconv.Quote(string(bytes)) without the surrounding quotes. */
export function goQuote(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; ) {
    const [r, size] = decodeRune(bytes, i)
    if (r < 0) {
      out += '\\x' + hex(bytes[i], 2)
    } else if (r === 0x22 || r === 0x5c) {
      out += '\\' + String.fromCharCode(r)
    } else if (isPrint(r)) {
      out += String.fromCodePoint(r)
    } else {
      switch (r) {
        case 0x07: out += '\\a'; break
        case 0x08: out += '\\b'; break
        case 0x0c: out += '\\f'; break
        case 0x0a: out += '\\n'; break
        case 0x0d: out += '\\r'; break
        case 0x09: out += '\\t'; break
        case 0x0b: out += '\\v'; break
        default:
          if (r < 0x20 || r === 0x7f) out += '\\x' + hex(r, 2)
          else if (r < 0x10000) out += '\\u' + hex(r, 4)
          else out += '\\U' + hex(r, 8)
      }
    }
    i += size
  }
  return out
}

/** Inverse of goQuote (Go's strconv.Unquote of `"` + s + `"`): the raw bytes. */
export function goUnquote(s: string): Buffer {
  const out: number[] = []
  const pushRune = (r: number): void => {
    out.push(...Buffer.from(String.fromCodePoint(r), 'utf8'))
  }
  const readHex = (at: number, len: number): number => {
    const h = s.slice(at, at + len)
    if (h.length !== len || !/^[0-9a-fA-F]+$/.test(h)) throw new Error(`invalid escape in quoted name "${s}"`)
    return Number.parseInt(h, 16)
  }
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i)!
    if (c !== 0x5c) {
      pushRune(c)
      i += c > 0xffff ? 2 : 1
      continue
    }
    const e = s[i + 1]
    i += 2
    switch (e) {
      case 'a': out.push(7); break
      case 'b': out.push(8); break
      case 'f': out.push(12); break
      case 'n': out.push(10); break
      case 'r': out.push(13); break
      case 't': out.push(9); break
      case 'v': out.push(11); break
      case '\\': out.push(0x5c); break
      case '"': out.push(0x22); break
      case "'": out.push(0x27); break
      case 'x': out.push(readHex(i, 2)); i += 2; break
      case 'u': pushRune(readHex(i, 4)); i += 4; break
      case 'U': pushRune(readHex(i, 8)); i += 8; break
      default:
        if (e !== undefined && e >= '0' && e <= '7') {
          const oct = s.slice(i - 1, i + 2)
          if (!/^[0-7]{3}$/.test(oct)) throw new Error(`invalid octal escape in quoted name "${s}"`)
          out.push(Number.parseInt(oct, 8) & 0xff)
          i += 2
        } else {
          throw new Error(`invalid escape \\${e ?? ''} in quoted name "${s}"`)
        }
    }
  }
  return Buffer.from(out)
}

// ---------------------------------------------------------------------------------------------------
// JSON strings as Go 1.19's encoding/json writes them (HTML-safe).

const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/

function escapeUnit(c: number): string {
  switch (c) {
    case 0x22: return '\\"'
    case 0x5c: return '\\\\'
    case 0x0a: return '\\n'
    case 0x0d: return '\\r'
    case 0x09: return '\\t'
    default: return '\\u' + hex(c, 4)
  }
}

/**
 * JSON string literal for `s`. With `replacementAsEscape`, U+FFFD is written as the `\ufffd` escape
 * (how Go writes an invalid UTF-8 byte).
 */
export function goJsonString(s: string, replacementAsEscape = false): string {
  if (!NEEDS_ESCAPE.test(s) && !(replacementAsEscape && s.includes('\ufffd'))) return '"' + s + '"'
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += escapeUnit(c)
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
      out += s[i] + s[i + 1]
      i++
    } else if ((c >= 0xd800 && c <= 0xdfff) || (c === 0xfffd && replacementAsEscape)) {
      out += '\\ufffd' // lone surrogate: Go would see invalid UTF-8
    } else {
      out += s[i]
    }
  }
  return out + '"'
}

/** JSON string literal for raw bytes as Go writes a string holding them (invalid bytes → \ufffd). */
export function goJsonBytesString(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; ) {
    const [r, size] = decodeRune(bytes, i)
    s += r < 0 ? '\ufffd' : String.fromCodePoint(r)
    i += size
  }
  // Keep genuine U+FFFD runes raw, invalid bytes as escapes.
  if (isValidUtf8(bytes)) return goJsonString(s)
  let out = '"'
  for (let i = 0; i < bytes.length; ) {
    const [r, size] = decodeRune(bytes, i)
    out += r < 0 ? '\\ufffd' : goJsonString(String.fromCodePoint(r)).slice(1, -1)
    i += size
  }
  return out + '"'
}

// ---------------------------------------------------------------------------------------------------
// Encoding

/** The exact bytes of a node's name. */
export function nodeNameBytes(node: TreeNode): Buffer {
  return node.nameRaw ?? Buffer.from(node.name, 'utf8')
}

const GO_ZERO_TIME = '0001-01-01T00:00:00Z'

function encodeNode(n: TreeNode): string {
  let s = '{"name":' + goJsonString(goQuote(nodeNameBytes(n)))
  s += ',"type":' + goJsonString(n.type)
  if (n.mode) s += ',"mode":' + n.mode
  s += ',"mtime":' + goJsonString(n.mtime || GO_ZERO_TIME)
  s += ',"atime":' + goJsonString(n.atime || GO_ZERO_TIME)
  s += ',"ctime":' + goJsonString(n.ctime || GO_ZERO_TIME)
  s += ',"uid":' + (n.uid ?? 0) + ',"gid":' + (n.gid ?? 0)
  if (n.user) s += ',"user":' + goJsonString(n.user)
  if (n.group) s += ',"group":' + goJsonString(n.group)
  if (n.inode) s += ',"inode":' + n.inode
  if (n.device_id) s += ',"device_id":' + n.device_id
  if (n.size) s += ',"size":' + n.size
  if (n.links) s += ',"links":' + n.links
  if (n.linktargetRaw && n.linktargetRaw.length > 0) {
    s += ',"linktarget":' + goJsonBytesString(n.linktargetRaw)
    s += ',"linktarget_raw":"' + n.linktargetRaw.toString('base64') + '"'
  } else if (n.linktarget) {
    s += ',"linktarget":' + goJsonString(n.linktarget, n.linktargetInvalidUtf8 === true)
  }
  if (n.extended_attributes && n.extended_attributes.length > 0) {
    s += ',"extended_attributes":['
    s += n.extended_attributes
      .map((a) => '{"name":' + goJsonString(a.name) + ',"value":"' + Buffer.from(a.value).toString('base64') + '"}')
      .join(',')
    s += ']'
  }
  if (n.device) s += ',"device":' + n.device
  s += ',"content":' + (n.content === null || n.content === undefined ? 'null' : '[' + n.content.map((id) => '"' + id + '"').join(',') + ']')
  if (n.subtree) s += ',"subtree":"' + n.subtree + '"'
  if (n.error) s += ',"error":' + goJsonString(n.error)
  return s + '}'
}

/** Sorts nodes by name bytes (restic's order); throws on duplicate names. Returns a new array. */
export function sortNodes(nodes: TreeNode[]): TreeNode[] {
  const keyed = nodes.map((n) => ({n, k: nodeNameBytes(n)}))
  keyed.sort((a, b) => Buffer.compare(a.k, b.k))
  for (let i = 1; i < keyed.length; i++) {
    if (keyed[i - 1].k.equals(keyed[i].k)) throw new Error(`duplicate name in tree: ${JSON.stringify(keyed[i].n.name)}`)
  }
  return keyed.map((x) => x.n)
}

/** Serializes a tree exactly as restic 0.14 does (nodes are sorted by name bytes first). */
export function encodeTree(nodes: TreeNode[]): Buffer {
  return Buffer.from('{"nodes":[' + sortNodes(nodes).map(encodeNode).join(',') + ']}\n', 'utf8')
}

// ---------------------------------------------------------------------------------------------------
// Decoding: a small JSON reader that also notes `\ufffd` escapes (invalid bytes in Go's output).

type Json = null | boolean | number | string | Json[] | {[k: string]: Json}

class JsonReader {
  pos = 0
  /** Strings in which a \ufffd escape occurred. */
  readonly escapedReplacement = new Set<string>()
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new Error(`invalid tree JSON at offset ${this.pos}: ${what}`)
  }

  ws(): void {
    while (this.pos < this.text.length && ' \t\r\n'.includes(this.text[this.pos])) this.pos++
  }

  value(): Json {
    this.ws()
    const c = this.text[this.pos]
    if (c === '{') return this.object()
    if (c === '[') return this.array()
    if (c === '"') return this.string()
    if (this.text.startsWith('null', this.pos)) return (this.pos += 4), null
    if (this.text.startsWith('true', this.pos)) return (this.pos += 4), true
    if (this.text.startsWith('false', this.pos)) return (this.pos += 5), false
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 40))
    if (!m) this.fail('unexpected character')
    this.pos += m[0].length
    return Number(m[0])
  }

  object(): {[k: string]: Json} {
    const o: {[k: string]: Json} = {}
    this.pos++
    this.ws()
    if (this.text[this.pos] === '}') return this.pos++, o
    for (;;) {
      this.ws()
      if (this.text[this.pos] !== '"') this.fail('expected a key')
      const k = this.string()
      this.ws()
      if (this.text[this.pos++] !== ':') this.fail('expected :')
      o[k] = this.value()
      this.ws()
      const c = this.text[this.pos++]
      if (c === '}') return o
      if (c !== ',') this.fail('expected , or }')
    }
  }

  array(): Json[] {
    const a: Json[] = []
    this.pos++
    this.ws()
    if (this.text[this.pos] === ']') return this.pos++, a
    for (;;) {
      a.push(this.value())
      this.ws()
      const c = this.text[this.pos++]
      if (c === ']') return a
      if (c !== ',') this.fail('expected , or ]')
    }
  }

  string(): string {
    const start = ++this.pos
    const end = this.text.indexOf('"', start)
    if (end < 0) this.fail('unterminated string')
    const simple = this.text.slice(start, end)
    if (!simple.includes('\\')) return (this.pos = end + 1), simple
    let out = ''
    let replaced = false
    for (;;) {
      const c = this.text[this.pos]
      if (c === undefined) this.fail('unterminated string')
      if (c === '"') break
      if (c !== '\\') {
        out += c
        this.pos++
        continue
      }
      const e = this.text[this.pos + 1]
      this.pos += 2
      switch (e) {
        case '"': out += '"'; break
        case '\\': out += '\\'; break
        case '/': out += '/'; break
        case 'b': out += '\b'; break
        case 'f': out += '\f'; break
        case 'n': out += '\n'; break
        case 'r': out += '\r'; break
        case 't': out += '\t'; break
        case 'u': {
          const h = this.text.slice(this.pos, this.pos + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('bad \\u escape')
          const code = Number.parseInt(h, 16)
          if (code === 0xfffd) replaced = true
          out += String.fromCharCode(code)
          this.pos += 4
          break
        }
        default: this.fail('bad escape')
      }
    }
    this.pos++
    if (replaced) this.escapedReplacement.add(out)
    return out
  }
}

const num = (v: Json | undefined): number | undefined => (typeof v === 'number' ? v : undefined)
const str = (v: Json | undefined): string | undefined => (typeof v === 'string' ? v : undefined)

const NO_STRINGS: ReadonlySet<string> = new Set()

const NODE_TYPES = new Set(['file', 'dir', 'symlink', 'dev', 'chardev', 'fifo', 'socket', 'irregular'])

/** Parses a tree blob written by restic (any version) or by encodeTree. */
export function decodeTree(buf: Uint8Array): TreeNode[] {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  let root: Json
  let escapedReplacement: ReadonlySet<string>
  if (!bytes.includes(0x5c)) {
    // No backslash anywhere: no escapes, so the engine's JSON.parse reads exactly what the Go-aware reader
    // would, many times faster (parent trees of every folder are read on each backup).
    try {
      root = JSON.parse(bytes.toString('utf8')) as Json
    } catch (error) {
      throw new Error(`tree JSON: ${(error as Error).message}`)
    }
    escapedReplacement = NO_STRINGS
  } else {
    const r = new JsonReader(bytes.toString('utf8'))
    root = r.value()
    r.ws()
    if (r.pos !== r.text.length) r.fail('trailing data')
    escapedReplacement = r.escapedReplacement
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) throw new Error('tree JSON is not an object')
  const list = root.nodes
  if (list === null || list === undefined) return []
  if (!Array.isArray(list)) throw new Error('tree JSON: "nodes" is not an array')
  return list.map((j, i) => {
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error(`tree JSON: node ${i} is not an object`)
    const quoted = str(j.name)
    const type = str(j.type)
    if (quoted === undefined || type === undefined || !NODE_TYPES.has(type)) {
      throw new Error(`tree JSON: node ${i} lacks a name or has an unknown type`)
    }
    // Most names need no unquoting (no backslash): skip the rune-by-rune pass.
    const plain = !quoted.includes('\\')
    const nameBytes = plain ? undefined : goUnquote(quoted)
    const n: TreeNode = {
      name: nameBytes ? nameBytes.toString('utf8') : quoted,
      type: type as TreeNode['type'],
      mtime: str(j.mtime) ?? GO_ZERO_TIME,
      atime: str(j.atime) ?? GO_ZERO_TIME,
      ctime: str(j.ctime) ?? GO_ZERO_TIME,
      uid: num(j.uid) ?? 0,
      gid: num(j.gid) ?? 0,
      content: Array.isArray(j.content) ? j.content.map((id) => String(id)) : null,
    }
    if (nameBytes && !isValidUtf8(nameBytes)) n.nameRaw = nameBytes
    const set = <K extends keyof TreeNode>(k: K, v: TreeNode[K] | undefined): void => {
      if (v !== undefined && v !== '' && v !== 0) n[k] = v
    }
    set('mode', num(j.mode))
    set('user', str(j.user))
    set('group', str(j.group))
    set('inode', num(j.inode))
    set('device_id', num(j.device_id))
    set('size', num(j.size))
    set('links', num(j.links))
    set('linktarget', str(j.linktarget))
    const raw = str(j.linktarget_raw)
    if (raw) n.linktargetRaw = Buffer.from(raw, 'base64')
    else if (n.linktarget && escapedReplacement.has(n.linktarget)) n.linktargetInvalidUtf8 = true
    if (Array.isArray(j.extended_attributes)) {
      const xs = j.extended_attributes.flatMap((a) =>
        a !== null && typeof a === 'object' && !Array.isArray(a) && typeof a.name === 'string'
          ? [{name: a.name, value: Buffer.from(str(a.value) ?? '', 'base64')}]
          : [],
      )
      if (xs.length > 0) n.extended_attributes = xs
    }
    set('device', num(j.device))
    set('subtree', str(j.subtree))
    set('error', str(j.error))
    return n
  })
}
