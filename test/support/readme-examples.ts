/**
 * The README's curl walk-through as steps a test can run: its bash blocks, each command
 * with the answer the README shows under it, and the README's way of eliding what varies.
 *
 * Conventions (the README follows them so that test/integration/readme.test.ts can hold it
 * to what the service answers):
 * - Every bash block of a section is run in order, unless the line before it is
 *   `<!-- readme-test: setup -->` (the variables a reader sets from `npm start`) or
 *   `<!-- readme-test: not run (why) -->`.
 * - A command (continued over lines by `\`, an open quote or a `<<EOF` here-document) is followed by the answer it
 *   gets, as comment lines: `# 201 {…}`, or `# {…}` for a 200, then remarks. Comment lines
 *   that start with neither a status nor JSON are prose.
 * - In a shown answer `…` stands for what varies: a string with `…` matches any string with
 *   the rest around it (`<name>` matches one path segment), `"x":…` any value, `{…}` any
 *   object, `[…]` (or `[…any words…]`) any array, and `…` among members or elements means
 *   "and others". Objects without it have exactly the keys shown; arrays match in any order.
 * - `SEG=…   # segment_id from the answer above` sets a variable from the last answer.
 */

export interface ReadmeBlock {
  /** 1-based line of the opening fence in the README. */
  line: number;
  /** What the `<!-- readme-test: … -->` line before the block says, if there is one. */
  marker?: string;
  text: string;
}

export type Pattern =
  | { type: 'any' }
  | { type: 'literal'; value: null | boolean | number }
  | { type: 'string'; value: string }
  | { type: 'object'; members: [string, Pattern][]; open: boolean }
  | { type: 'array'; items: Pattern[]; open: boolean };

export interface ShownAnswer {
  status: number;
  body: Pattern;
  /** The answer as the README shows it, for messages. */
  text: string;
}

export type ReadmeStep =
  | { kind: 'command'; line: number; command: string; method: string; answer?: ShownAnswer }
  | { kind: 'capture'; line: number; name: string; field: string };

const MARKER = /^<!-- readme-test: (.*) -->$/;

/** The ```bash blocks of one `## ` section, in order. */
export const bashBlocks = (markdown: string, heading: string): ReadmeBlock[] => {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start < 0) throw new Error(`README has no section "## ${heading}"`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  const blocks: ReadmeBlock[] = [];
  for (let index = start + 1; index < (end < 0 ? lines.length : end); index += 1) {
    if (lines[index] !== '```bash') continue;
    const close = lines.indexOf('```', index + 1);
    if (close < 0) throw new Error(`README line ${index + 1}: a bash block is not closed`);
    let before = index - 1;
    while (before > start && lines[before]!.trim() === '') before -= 1;
    const marker = MARKER.exec(lines[before]!.trim())?.[1];
    blocks.push({ line: index + 1, marker, text: lines.slice(index + 1, close).join('\n') });
    index = close;
  }
  return blocks;
};

/** Whether a command's text so far leaves it open (a quote not closed, or a trailing `\`). */
const isOpen = (text: string): boolean => {
  let quote: '"' | "'" | undefined;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (quote === "'") {
      if (char === "'") quote = undefined;
    } else if (quote === '"') {
      if (char === '\\') index += 1;
      else if (char === '"') quote = undefined;
    } else if (char === '\\') {
      if (index === text.length - 1) return true;
      index += 1;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '#' && (index === 0 || /\s/.test(text[index - 1]!))) {
      // A comment runs to the end of its line.
      const newline = text.indexOf('\n', index);
      if (newline < 0) return false;
      index = newline;
    }
  }
  return quote !== undefined;
};

const CAPTURE = /^([A-Z][A-Z0-9_]*)=…\s+#\s*(\w+) from the answer above\s*$/;

export const methodOf = (command: string): string =>
  /-X\s*(GET|POST|PUT|DELETE|PATCH)\b/.exec(command)?.[1] ?? (/\s-d\s/.test(command) ? 'POST' : 'GET');

/** A block's commands, each with the answer shown under it, and its captures. */
export const stepsOf = (block: ReadmeBlock): ReadmeStep[] => {
  const lines = block.text.split('\n');
  const steps: ReadmeStep[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index]!;
    const lineNumber = block.line + 1 + index;
    if (line.trim() === '' || line.startsWith('#')) {
      index += 1;
      continue;
    }
    const capture = CAPTURE.exec(line);
    if (capture) {
      steps.push({ kind: 'capture', line: lineNumber, name: capture[1]!, field: capture[2]! });
      index += 1;
      continue;
    }
    if (!line.startsWith('curl ')) throw new Error(`README line ${lineNumber}: not a curl command: ${line}`);
    let command = line;
    index += 1;
    while (isOpen(command) && index < lines.length) {
      command += `\n${lines[index]}`;
      index += 1;
    }
    // A body given as a here-document (`-d @- <<EOF`) runs to its delimiter line.
    const hereDocument = /<<-?\s*'?(\w+)'?\s*$/.exec(command)?.[1];
    if (hereDocument) {
      const end = lines.indexOf(hereDocument, index);
      if (end < 0) throw new Error(`README line ${lineNumber}: the here-document is not closed by ${hereDocument}`);
      command += `\n${lines.slice(index, end + 1).join('\n')}`;
      index = end + 1;
    }
    const shown: string[] = [];
    while (index < lines.length && lines[index]!.startsWith('#')) {
      shown.push(lines[index]!.replace(/^# ?/, ''));
      index += 1;
    }
    steps.push({
      kind: 'command',
      line: lineNumber,
      command,
      method: methodOf(command),
      answer: parseShownAnswer(shown.join('\n'), lineNumber),
    });
  }
  return steps;
};

/** `201 {…}` or `{…}` (a 200), then anything (remarks); undefined when the comment is prose. */
export const parseShownAnswer = (text: string, line = 0): ShownAnswer | undefined => {
  const match = /^(?:(\d{3}) )?(?=[{[])/.exec(text);
  if (!match) return undefined;
  const parser = new PatternParser(text, match[0].length, line);
  const body = parser.value();
  return { status: match[1] ? Number(match[1]) : 200, body, text: text.slice(0, parser.position) };
};

class PatternParser {
  constructor(
    private readonly text: string,
    public position: number,
    private readonly line: number,
  ) {}

  value(): Pattern {
    this.skipSpace();
    const char = this.text[this.position];
    if (char === '…') {
      this.position += 1;
      return { type: 'any' };
    }
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return { type: 'string', value: this.string() };
    const literal = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.position));
    if (!literal) this.fail('a value');
    this.position += literal[0].length;
    return { type: 'literal', value: JSON.parse(literal[0]) as null | boolean | number };
  }

  private object(): Pattern {
    this.position += 1;
    const members: [string, Pattern][] = [];
    let open = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === '}' && members.length === 0 && !open) break;
      if (this.text[this.position] === '…') {
        open = true;
        this.skipElision();
      } else {
        const key = this.string();
        this.skipSpace();
        this.expect(':');
        members.push([key, this.value()]);
      }
      this.skipSpace();
      if (this.text[this.position] === '}') break;
      this.expect(',');
    }
    this.position += 1;
    return { type: 'object', members, open };
  }

  private array(): Pattern {
    this.position += 1;
    const items: Pattern[] = [];
    let open = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === ']' && items.length === 0 && !open) break;
      if (this.text[this.position] === '…') {
        open = true;
        this.skipElision();
      } else {
        items.push(this.value());
      }
      this.skipSpace();
      if (this.text[this.position] === ']') break;
      this.expect(',');
    }
    this.position += 1;
    return { type: 'array', items, open };
  }

  /** `…`, or `…words…` in an array (what the elided elements are): up to the next `,`, `]` or `}`. */
  private skipElision(): void {
    while (this.position < this.text.length && !',]}'.includes(this.text[this.position]!)) this.position += 1;
  }

  private string(): string {
    if (this.text[this.position] !== '"') this.fail('a string');
    let end = this.position + 1;
    while (end < this.text.length && this.text[end] !== '"') end += this.text[end] === '\\' ? 2 : 1;
    if (end >= this.text.length) this.fail('the end of a string');
    const value = JSON.parse(this.text.slice(this.position, end + 1)) as string;
    this.position = end + 1;
    return value;
  }

  private skipSpace(): void {
    while (/\s/.test(this.text[this.position] ?? '')) this.position += 1;
  }

  private expect(char: string): void {
    if (this.text[this.position] !== char) this.fail(`"${char}"`);
    this.position += 1;
  }

  private fail(what: string): never {
    throw new Error(
      `README answer under line ${this.line}: expected ${what} at "${this.text.slice(this.position, this.position + 30)}"`,
    );
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A shown string as a regular expression: `…` any characters, `<name>` one path segment. */
const stringPattern = (shown: string): RegExp =>
  new RegExp(
    `^${shown
      .split(/(…|<[a-z_]+>)/)
      .map((part) => (part === '…' ? '[\\s\\S]*' : /^<[a-z_]+>$/.test(part) ? '[^/]+' : escapeRegExp(part)))
      .join('')}$`,
  );

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Where `actual` differs from the shown pattern (empty: it matches). */
export const mismatches = (pattern: Pattern, actual: unknown, path = '$'): string[] => {
  switch (pattern.type) {
    case 'any':
      return [];
    case 'literal':
      return actual === pattern.value ? [] : [`${path}: ${JSON.stringify(actual)}, shown ${pattern.value}`];
    case 'string':
      return typeof actual === 'string' && stringPattern(pattern.value).test(actual)
        ? []
        : [`${path}: ${JSON.stringify(actual)}, shown ${JSON.stringify(pattern.value)}`];
    case 'object': {
      if (!isPlainObject(actual)) return [`${path}: ${JSON.stringify(actual)}, shown an object`];
      const found = pattern.members.flatMap(([key, value]) =>
        key in actual ? mismatches(value, actual[key], `${path}.${key}`) : [`${path}.${key}: missing`],
      );
      const shown = new Set(pattern.members.map(([key]) => key));
      const extra = pattern.open ? [] : Object.keys(actual).filter((key) => !shown.has(key));
      return [...found, ...extra.map((key) => `${path}.${key}: not shown (add it, or "…")`)];
    }
    case 'array': {
      if (!Array.isArray(actual)) return [`${path}: ${JSON.stringify(actual)}, shown an array`];
      if (pattern.open ? actual.length < pattern.items.length : actual.length !== pattern.items.length)
        return [`${path}: ${actual.length} elements, shown ${pattern.items.length}${pattern.open ? ' or more' : ''}`];
      // In any order: each shown element matches an element of its own.
      const assign = (item: number, used: Set<number>): boolean =>
        item === pattern.items.length ||
        actual.some(
          (element, index) =>
            !used.has(index) &&
            mismatches(pattern.items[item]!, element).length === 0 &&
            assign(item + 1, new Set([...used, index])),
        );
      if (assign(0, new Set())) return [];
      return [
        `${path}: no order of ${JSON.stringify(actual)} matches, e.g. ${pattern.items
          .flatMap((item, index) => mismatches(item, actual[index], `${path}[${index}]`))
          .join('; ')}`,
      ];
    }
  }
};

/** The first value of `field` in a JSON answer, depth first. */
export const findField = (value: unknown, field: string): unknown => {
  if (Array.isArray(value)) {
    for (const element of value) {
      const found = findField(element, field);
      if (found !== undefined) return found;
    }
  } else if (isPlainObject(value)) {
    if (field in value) return value[field];
    for (const element of Object.values(value)) {
      const found = findField(element, field);
      if (found !== undefined) return found;
    }
  }
  return undefined;
};
