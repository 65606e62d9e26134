/** Plain-text tables for human output (no colours when not a TTY). */
export function table(headers: string[], rows: Array<Array<string | number | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => visibleLength(r[i] ?? ''))))
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(Math.max(0, widths[i] - visibleLength(c)))))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map((r) => line(r))].join('\n')
}

function visibleLength(s: string): number {
  return s.replace(/\u001B\[[0-9;]*m/g, '').length
}

export function colour(enabled: boolean, code: 'red' | 'green' | 'yellow' | 'bold' | 'dim', s: string): string {
  if (!enabled) return s
  const codes = {red: 31, green: 32, yellow: 33, bold: 1, dim: 2}
  return `\u001B[${codes[code]}m${s}\u001B[0m`
}

export function useColour(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb'
}
