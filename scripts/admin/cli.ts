/**
 * The frame of the operator CLI, on node:util's parseArgs: each command is described once
 * (its options, what they mean, their checks), and the parsing, the checks, `--help` and
 * the error messages all come from that description, so they cannot drift apart.
 *
 * Every failure is one line on stderr (what went wrong, what to do) and a non-zero exit
 * status; a stack trace only with --debug. Output is text for people, or with --json one
 * JSON document on one line (one per line, for a stream) on stdout and nothing else.
 */
import { parseArgs } from 'node:util';

/** A failure to report as it is: its message already says what went wrong and what to do. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line cannot be run as given: unknown command or option, a bad value, a destructive step without --force. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** How help shows the value: `--workspace <id>`. */
  placeholder?: string;
  description: string;
  required?: boolean;
  /** A whole number within these bounds (the message names them). */
  integer?: { min: number; max: number; unit?: string };
  choices?: readonly string[];
}

export interface Output {
  /** What --json prints. */
  json: unknown;
  /** What people read. */
  text: string;
}

/** For commands that print as they go (a stream): lines to stdout, progress notes to stderr. */
export interface Io {
  json: boolean;
  write(line: string): void;
  note(line: string): void;
}

export interface Command<Context> {
  /** Two words: `workspace create`. */
  name: string;
  summary: string;
  /** More for `--help`: what happens, what it refuses and why. */
  details?: string;
  options?: Record<string, OptionSpec>;
  examples?: string[];
  run(args: Args, context: () => Context, io: Io): Promise<Output | undefined>;
}

export interface Program<Context> {
  /** How an operator invokes it: `npm run admin --`. */
  invocation: string;
  description: string;
  globalOptions: Record<string, OptionSpec>;
  commands: Command<Context>[];
  footer?: string;
  /** Builds what commands act on (clients, names), once the command line is known to be valid. */
  connect(args: Args): Context;
  /** The one line for an error that is not a CliError (an AWS SDK error, a refused connection), if known. */
  explain(error: unknown, args: Args): string | undefined;
}

export class Args {
  constructor(
    private readonly values: Record<string, string | boolean | undefined>,
    readonly command: string,
  ) {}

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** A required option (checked before the command runs). */
  required(name: string): string {
    const value = this.string(name);
    if (value === undefined) throw new Error(`--${name} is not a required option of ${this.command}`);
    return value;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  integer(name: string): number | undefined {
    const value = this.string(name);
    return value === undefined ? undefined : Number(value);
  }
}

const optionSynopsis = (name: string, spec: OptionSpec): string =>
  spec.type === 'boolean' ? `--${name}` : `--${name} <${spec.placeholder ?? 'value'}>`;

const table = (rows: [string, string][]): string[] => {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`);
};

const optionRows = (options: Record<string, OptionSpec>): [string, string][] =>
  Object.entries(options).map(([name, spec]) => [
    optionSynopsis(name, spec),
    `${spec.description}${spec.required ? ' (required)' : ''}`,
  ]);

export const commandHelp = <Context>(program: Program<Context>, command: Command<Context>): string => {
  const options = command.options ?? {};
  const synopsis = Object.entries(options)
    .map(([name, spec]) => (spec.required ? optionSynopsis(name, spec) : `[${optionSynopsis(name, spec)}]`))
    .join(' ');
  const lines = [`Usage: ${program.invocation} ${command.name}${synopsis ? ` ${synopsis}` : ''}`, '', command.summary];
  if (command.details) lines.push('', command.details);
  if (Object.keys(options).length > 0) lines.push('', 'Options:', ...table(optionRows(options)));
  lines.push('', 'Global options:', ...table(optionRows(program.globalOptions)));
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  return lines.join('\n');
};

const areas = <Context>(program: Program<Context>): string[] => [
  ...new Set(program.commands.map((command) => command.name.split(' ')[0]!)),
];

const commandsOf = <Context>(program: Program<Context>, area: string) =>
  program.commands.filter((command) => command.name.startsWith(`${area} `));

export const programHelp = <Context>(program: Program<Context>, area?: string): string => {
  const commands = area ? commandsOf(program, area) : program.commands;
  const lines = [
    program.description,
    '',
    `Usage: ${program.invocation} ${area ?? '<command>'}${area ? ' <command>' : ''} [options]`,
    '',
    'Commands:',
    ...table(commands.map((command) => [command.name, command.summary])),
    '',
    'Global options:',
    ...table(optionRows(program.globalOptions)),
  ];
  if (program.footer) lines.push('', program.footer);
  return lines.join('\n');
};

/** Every option any command knows, so that the first pass reads `--workspace W` as one option with its value. */
const allOptions = <Context>(program: Program<Context>): Record<string, OptionSpec> => {
  const all: Record<string, OptionSpec> = { ...program.globalOptions };
  for (const command of program.commands) {
    for (const [name, spec] of Object.entries(command.options ?? {})) {
      if (all[name] && all[name].type !== spec.type) throw new Error(`--${name} is both a string and a flag`);
      all[name] ??= spec;
    }
  }
  return all;
};

const list = (names: string[]): string =>
  names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;

type Parsed<Context> =
  | { help: true; text: string }
  | { help: false; command: Command<Context>; args: Args; values: Record<string, string | boolean | undefined> };

/** Reads the command line: the command, its options and their values, or the help asked for. Throws UsageError. */
export const parse = <Context>(program: Program<Context>, argv: string[]): Parsed<Context> => {
  const known = allOptions(program);
  const { tokens } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.entries(known).map(([name, spec]) => [name, { type: spec.type }])),
    // Strict parsing throws Node's own messages, and stops at the first; the checks below say what to do.
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const help = tokens.some((token) => token.kind === 'option' && (token.name === 'help' || token.name === 'h'));
  const helpHint = `\`${program.invocation} --help\` lists the commands`;
  for (const token of tokens) {
    if (token.kind === 'option' && !known[token.name] && token.name !== 'h')
      throw new UsageError(`unknown option ${token.rawName} (${helpHint} and their options)`);
  }

  const positionals = tokens.flatMap((token) => (token.kind === 'positional' ? [token.value] : []));
  const helpCommand = positionals[0] === 'help';
  const words = helpCommand ? positionals.slice(1) : positionals;
  const [area, verb, ...extra] = words;
  if (area === undefined) {
    if (help || helpCommand) return { help: true, text: programHelp(program) };
    throw new UsageError(`no command given (${helpHint})`);
  }
  if (!areas(program).includes(area)) throw new UsageError(`unknown command '${area}' (${helpHint})`);
  const areaHint = `\`${program.invocation} help ${area}\` lists them`;
  const verbs = commandsOf(program, area).map((command) => command.name.split(' ')[1]!);
  if (verb === undefined) {
    if (help || helpCommand) return { help: true, text: programHelp(program, area) };
    throw new UsageError(`${area} needs a command: ${list(verbs)} (${areaHint})`);
  }
  const command = program.commands.find((candidate) => candidate.name === `${area} ${verb}`);
  if (!command) throw new UsageError(`unknown command '${area} ${verb}': ${area} takes ${list(verbs)} (${areaHint})`);
  if (help || helpCommand) return { help: true, text: commandHelp(program, command) };
  const commandHint = `see \`${program.invocation} ${command.name} --help\``;
  if (extra.length > 0)
    throw new UsageError(`unexpected argument '${extra[0]}': ${command.name} takes only options (${commandHint})`);

  const allowed: Record<string, OptionSpec> = { ...program.globalOptions, ...command.options };
  const values: Record<string, string | boolean | undefined> = {};
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = allowed[token.name];
    if (!spec) throw new UsageError(`${token.rawName} is not an option of ${command.name} (${commandHint})`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value (${commandHint})`);
      values[token.name] = true;
      continue;
    }
    // Without a value, the next option would be taken as one (`--workspace --kind rest`); a negative number is a value.
    const missing =
      token.value === undefined ||
      token.value === '' ||
      (!token.inlineValue && token.value.startsWith('-') && !/^-\d/.test(token.value));
    if (missing) throw new UsageError(`${token.rawName} needs a value: ${optionSynopsis(token.name, spec)}`);
    values[token.name] = token.value;
  }

  for (const [name, spec] of Object.entries(allowed)) {
    const value = values[name];
    if (value === undefined) {
      if (spec.required)
        throw new UsageError(`${optionSynopsis(name, spec)} is required: ${spec.description} (${commandHint})`);
      continue;
    }
    if (typeof value !== 'string') continue;
    if (spec.integer) {
      const { min, max, unit } = spec.integer;
      const number = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
      if (!(number >= min && number <= max))
        throw new UsageError(
          `--${name} must be a whole number from ${min} to ${max}${unit ? ` (${unit})` : ''}; got '${value}'`,
        );
    }
    if (spec.choices && !spec.choices.includes(value))
      throw new UsageError(`--${name} must be ${list(spec.choices.map(String))}; got '${value}'`);
  }
  return { help: false, command, args: new Args(values, command.name), values };
};

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

/** Runs the program on a command line; returns the exit status. Writes only through `out` and `err`. */
export const runCli = async <Context>(
  program: Program<Context>,
  argv: string[],
  out: (text: string) => void = (text) => process.stdout.write(`${text}\n`),
  err: (text: string) => void = (text) => process.stderr.write(`${text}\n`),
): Promise<number> => {
  const debug = argv.includes('--debug');
  let parsed: Parsed<Context>;
  try {
    parsed = parse(program, argv);
  } catch (error: unknown) {
    if (!(error instanceof CliError)) throw error;
    err(`error: ${oneLine(error.message)}`);
    if (debug) err(error.stack ?? '');
    return error.exitCode;
  }
  if (parsed.help) {
    out(parsed.text);
    return 0;
  }
  const { command, args } = parsed;
  const json = args.flag('json');
  let context: Context | undefined;
  const io: Io = { json, write: out, note: err };
  try {
    const output = await command.run(args, () => (context ??= program.connect(args)), io);
    if (output) out(json ? JSON.stringify(output.json) : output.text);
    return 0;
  } catch (error: unknown) {
    const message =
      error instanceof CliError
        ? error.message
        : (program.explain(error, args) ??
          `${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} (--debug prints the stack trace)`);
    err(`error: ${oneLine(message)}`);
    if (debug && error instanceof Error) err(error.stack ?? '');
    return error instanceof CliError ? error.exitCode : 1;
  }
};
